"""The API fuzzed from its own OpenAPI document (schemathesis, bounded): no input is a 5xx,
on SQLite and on PostgreSQL. Each operation gets a few dozen generated requests, with an
admin key so that they reach the routes' own code (a stored rubric and an active project
give the generator something real to hit)."""

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from qa_service.api import create_app
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from tests.support import RUBRICS

RUBRIC = RUBRICS / "telecom-data-upgrade.yaml"
EXAMPLES = 30  # per operation: about 700 requests per backend


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request):
    return request.getfixturevalue(f"{request.param}_url")


def test_no_server_errors(backend_url, tmp_path):
    store = Store(backend_url)
    rubric = load_rubric(RUBRIC)
    store.rubrics.save(rubric, RUBRIC.read_text(encoding="utf-8"))
    store.rubrics.activate("telecom", rubric.id, rubric.version)
    key = {"X-API-Key": create_key(store, "admin")[1]}
    app = create_app(
        Settings(
            database_url=backend_url,
            storage_dir=tmp_path / "storage",
            import_roots=[tmp_path],
            max_upload_mb=1,
        )
    )
    failures = []
    with TestClient(app):  # runs the lifespan: the store and dispatcher are on app.state
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15

        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
            def fuzz(case):
                response = case.call(headers=dict(key))
                if response.status_code >= 500:
                    failures.append(
                        (
                            case.method,
                            case.formatted_path,
                            case.query,
                            response.status_code,
                            response.text[:300],
                        )
                    )

            fuzz()
    assert not failures, failures[:10]
