"""schemathesis against the app's own OpenAPI document, two ways.

In-process (WSGI), with an admin token: every operation, generated valid and invalid inputs, no
5xx and no response outside the documented schema. A database and Redis database of its own, so
nothing it creates or deletes touches the session stack (its jobs go to a Redis database no
worker reads).

Live: the schemathesis CLI with every check and phase against the session stack's gunicorn API,
as a tenant of its own (tests/schemathesis-live.toml says what it leaves out and why)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app import create_app, schema as db_schema
from app.db import Database
from app.domain.status import STATUS_WORDS, parse_status
from app.services.auth import create_user, ensure_admin
from config.settings import Settings
from tests.conftest import ADMIN_PASSWORD, REDIS_URL
from tests.support.client import VALID_JOB
from tests.support.databases import fresh_database
from tests.test_tenancy import PARKED, make_user, make_workspace

SPARE_REDIS_URL = os.environ.get("TRAINQ_TEST_SPARE_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/13")
#: Per operation; about 30 operations stay well under a minute on two cores.
MAX_EXAMPLES = int(os.environ.get("TRAINQ_TEST_SCHEMATHESIS_EXAMPLES", "25"))
#: The live run draws from a fixed seed, so a failure comes back on the rerun; set another to
#: look elsewhere (the report prints the seed it used).
LIVE_SEED = os.environ.get("TRAINQ_TEST_SCHEMATHESIS_SEED", "1")
LIVE_CONFIG = Path(__file__).with_name("schemathesis-live.toml")


@pytest.fixture(scope="module")
def fuzz_app(settings, tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("fuzzdb")) as url:
        database = Database(url)
        db_schema.upgrade(database)
        with database.write() as session:
            ensure_admin(session, "admin", ADMIN_PASSWORD)
            victim = create_user(session, "victim", "victim-password")
            victim_id = victim.id
        database.dispose()
        # Login limits out of the way: its wrong passwords must not lock the admin out (the
        # limits have tests of their own).
        app = create_app(settings.with_changes(database_url=url, redis_url=SPARE_REDIS_URL,
                                               login_max_failures=10**9,
                                               login_max_failures_per_ip=10**9))
        yield app, _fresh_token(app), victim_id
        app.extensions["trainq"].close()


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app[0])


def _static_app():
    """An app that connects to nothing: enough to read the document, which is static."""
    return create_app(Settings.from_env({"TRAINQ_SECRET_KEY": "k" * 40}))


def _operation_labels() -> list[str]:
    """Read at collection. schemathesis' own pytest loader does not work with pytest 9, hence
    the loop by hand."""
    document = schemathesis.openapi.from_wsgi("/openapi.json", _static_app())
    return [result.ok().label for result in document.get_all_operations()]


def test_the_status_filter_documents_the_words_it_accepts():
    document = _static_app().test_client().get("/openapi.json").get_json()
    listing = document["paths"]["/api/v1/training/jobs"]["get"]["parameters"]
    status = next(p for p in listing if p["name"] == "status")
    assert status["schema"]["enum"] == list(STATUS_WORDS)
    assert all(parse_status(word) for word in STATUS_WORDS)


@pytest.mark.parametrize("label", _operation_labels())
def test_operation_conforms_to_the_openapi_document(label, api_schema, fuzz_app):
    _, token, victim_id = fuzz_app
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                         database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        _spare_the_admin(case, victim_id)
        # Logging out revokes the token it carries: give it one of its own.
        bearer = _fresh_token(fuzz_app[0]) if case.path == "/auth/logout" else token
        case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"},
                               checks=[not_a_server_error, response_schema_conformance])

    check()


def _fresh_token(app) -> str:
    return app.test_client().post("/auth/token", json={
        "username": "admin", "password": ADMIN_PASSWORD}).get_json()["access_token"]


def _spare_the_admin(case, victim_id: int) -> None:
    """Deleting the admin or resetting its password would turn the rest of the run into 401s:
    point changes to a user at the victim instead (the admin's own are refused anyway)."""
    if case.method in ("PATCH", "DELETE") and (case.path_parameters or {}).get("user_id") == 1:
        case.path_parameters["user_id"] = victim_id
    if case.path == "/auth/password" and isinstance(case.body, dict):
        case.body["current_password"] = "not-the-admin-password"


def test_a_job_through_its_whole_life_conforms(api_schema, fuzz_app):
    """Random bodies rarely name a real script: walk one valid job through every job route."""
    _, token, _ = fuzz_app
    headers = {"Authorization": f"Bearer {token}"}
    checks = [not_a_server_error, response_schema_conformance]

    def call(method, path, status, **parts):
        response = api_schema[path][method].Case(**parts).call_and_validate(
            headers=headers, checks=checks)
        assert response.status_code == status, response.text
        return response

    created = call("POST", "/api/v1/training/jobs", 201,
                   body={**VALID_JOB, "pool": "idle", "gpu": 0, "args": ["--epochs", "1"],
                         "envs": {"SEED": "1"}, "external_id": "st-1"})
    job = {"job_id": created.json()["data"]["job_id"]}
    for suffix in ("", "/logs", "/metrics", "/webhooks", "/queue"):
        call("GET", "/api/v1/training/jobs/{job_id}" + suffix, 200, path_parameters=job)
    call("GET", "/api/v1/training/jobs", 200, query={"status": "queued"})
    call("POST", "/api/v1/training/jobs/{job_id}/stop", 200, path_parameters=job)
    call("POST", "/api/v1/training/jobs/{job_id}/stop", 409, path_parameters=job)
    call("DELETE", "/api/v1/training/jobs/{job_id}", 204, path_parameters=job)


@pytest.mark.e2e
def test_the_live_server_passes_every_check(stack, api, tmp_path):
    # Every check comes from the config file, not `--checks all`: the command line would override
    # the one check it turns off for one operation.
    command = [sys.executable, "-m", "schemathesis.cli", "--no-color",
               "--config-file", str(LIVE_CONFIG), "run", stack["base_url"] + "/openapi.json",
               "--max-examples", str(MAX_EXAMPLES), "--seed", LIVE_SEED, "--workers", "1"]
    # Its own folder, because schemathesis keeps a cache and Hypothesis a database where it runs.
    result = subprocess.run(command, cwd=tmp_path, env=_live_env(api, stack), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]


def _live_env(api, stack) -> dict[str, str]:
    """The tenant the config file reads: a viewer of a workspace of its own that holds one parked
    job, and a second user whose token only logout uses (logout revokes the token it carries).
    A viewer, not a manager: the run learns script paths from the answers, and a manager's jobs
    would queue on the cpu pool, where the session's worker would train them."""
    workspace = make_workspace(api, "fuzz")
    fuzzer = make_user(api, stack, "fuzz", {workspace["id"]: "viewer"})
    leaver = make_user(api, stack, "fuzz-logout", {})
    # The server is on loopback; a proxy from the environment would only get in the way.
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, "TRAINQ_FUZZ_AUTHORIZATION": fuzzer.http.headers["Authorization"],
            "TRAINQ_FUZZ_LOGOUT_AUTHORIZATION": leaver.http.headers["Authorization"],
            "TRAINQ_FUZZ_JOB_ID": api.submit_ok(workspace_id=workspace["id"], **PARKED)}
