"""schemathesis against the app's own OpenAPI document, in-process (WSGI), with an admin token:
every operation, generated valid and invalid inputs, no 5xx and no response outside the
documented schema. A database and Redis database of its own, so nothing it creates or deletes
touches the session stack (its jobs go to a Redis database no worker reads)."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app import create_app, schema as db_schema
from app.db import Database
from app.services.auth import create_user, ensure_admin
from config.settings import Settings
from tests.conftest import ADMIN_PASSWORD, REDIS_URL
from tests.support.client import VALID_JOB
from tests.support.databases import fresh_database

SPARE_REDIS_URL = os.environ.get("TRAINQ_TEST_SPARE_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/13")
#: Per operation; about 30 operations stay well under a minute on two cores.
MAX_EXAMPLES = int(os.environ.get("TRAINQ_TEST_SCHEMATHESIS_EXAMPLES", "25"))


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


def _operation_labels() -> list[str]:
    """Read at collection from an app that connects to nothing (the document is static).
    schemathesis' own pytest loader does not work with pytest 9, hence the loop by hand."""
    app = create_app(Settings.from_env({"TRAINQ_SECRET_KEY": "k" * 40}))
    document = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok().label for result in document.get_all_operations()]


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
    for suffix in ("", "/logs", "/metrics", "/webhooks"):
        call("GET", "/api/v1/training/jobs/{job_id}" + suffix, 200, path_parameters=job)
    call("GET", "/api/v1/training/jobs", 200, query={"status": "queued"})
    call("POST", "/api/v1/training/jobs/{job_id}/stop", 200, path_parameters=job)
    call("POST", "/api/v1/training/jobs/{job_id}/stop", 409, path_parameters=job)
    call("DELETE", "/api/v1/training/jobs/{job_id}", 204, path_parameters=job)
