"""`qa-service keys list` and `keys revoke`: a revoked key answers 401 at once."""

import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa_service.api import create_app
from qa_service.cli import app
from qa_service.config import Settings
from qa_service.i18n import message
from tests.support import said


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_keys_list_and_revoke(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    cli = CliRunner()
    made = cli.invoke(
        app, ["keys", "create", "--role", "viewer", "--name", "质检员小王", "--db", url]
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip()
    listed = cli.invoke(app, ["keys", "list", "--db", url])
    assert listed.exit_code == 0 and "质检员小王" in listed.output and secret[:10] in listed.output
    assert secret not in listed.output  # the secret itself is never shown again
    settings = Settings(database_url=url, storage_dir=tmp_path / "storage")
    with TestClient(create_app(settings)) as client:
        assert client.get("/rubrics", headers={"X-API-Key": secret}).status_code == 200
        revoked = cli.invoke(app, ["keys", "revoke", "1", "--db", url])
        gone = said("revoked key {id} ({name}, {role}, {prefix}…)", id=1)
        assert revoked.exit_code == 0 and re.match(gone, revoked.output), revoked.output
        r = client.get("/rubrics", headers={"X-API-Key": secret})
        assert r.status_code == 401 and r.json()["detail"] == message("unknown or revoked API key")
    assert "已停用" in cli.invoke(app, ["keys", "list", "--db", url]).output  # the catalog's word
    missing = cli.invoke(app, ["keys", "revoke", "99", "--db", url])
    assert (
        missing.exit_code == 2
        and message("no key with id {id} ({command})", id=99, command="`qa-service keys list`")
        in missing.output
    )
