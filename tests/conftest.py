"""Session fixtures: a real database (SQLite or PostgreSQL), real Redis, the real processes."""
from __future__ import annotations

import base64
import os
import secrets
import shutil
from pathlib import Path

import pytest
import redis as redis_lib

from config.settings import Settings
from tests.support.client import ApiClient
from tests.support.databases import fresh_database
from tests.support.receiver import WebhookReceiver
from tests.support.stack import (Service, free_port, start_api, start_scheduler, start_worker,
                                 trainq)

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TRAINQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
#: GPU id of the test gpu worker; no GPU is needed here (the script only sees the id); set
#: TRAINQ_TEST_GPU_ID=0 on a GPU host to run the gpu-marked test on a real device.
FAKE_GPU_ID = os.environ.get("TRAINQ_TEST_GPU_ID", "7")


def pytest_report_header(config):
    return f"trainq tests: database={os.environ.get('TRAINQ_TEST_DB', 'sqlite')} redis={REDIS_URL}"


@pytest.fixture(scope="session")
def redis_client():
    client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        pytest.fail(f"tests need Redis at {REDIS_URL} (make test starts one): {exc}")
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def script_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scripts")
    for source in [*(ROOT / "scripts" / "examples").glob("*.py"), *(ROOT / "tests" / "scripts").glob("*.py")]:
        shutil.copy(source, root / source.name)
    return root


@pytest.fixture(scope="session")
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory, database_url, script_root, receiver, redis_client) -> dict:
    var = tmp_path_factory.mktemp("var")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("TRAINQ_")}
    env.update({
        "TRAINQ_DATABASE_URL": database_url, "TRAINQ_REDIS_URL": REDIS_URL,
        "TRAINQ_VAR_DIR": str(var), "TRAINQ_SCRIPT_ROOT": str(script_root),
        "TRAINQ_POOLS": "cpu=0,gpu=1,idle=2", "TRAINQ_NOTIFY_URL": receiver.url,
        # Seed 004's specs: the pools' resources by name, two of them priced.
        "TRAINQ_SPECS": "cpu-1=gpu:0,cpu:1,mem_gi:1,pool:cpu;gpu-1=gpu:1,cpu:2,mem_gi:2,pool:gpu;"
                        "parked=gpu:0,cpu:1,mem_gi:1,pool:idle",
        "TRAINQ_SPEC_PRICES": "cpu-1=0.25,gpu-1=2.5",
        "TRAINQ_SECRET_KEY": secrets.token_hex(32), "TRAINQ_ADMIN_USERNAME": "admin",
        "TRAINQ_ADMIN_PASSWORD": ADMIN_PASSWORD, "TRAINQ_API_PORT": str(free_port()),
        "TRAINQ_STOP_GRACE_SECONDS": "2", "TRAINQ_HEARTBEAT_SECONDS": "1",
        "TRAINQ_LOG_LEVEL": "INFO", "TRAINQ_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TRAINQ_API_KEEPALIVE_SECONDS": "3",
        # The test receivers listen on loopback, which webhooks may not reach by default.
        "TRAINQ_NOTIFY_ALLOW_CIDRS": "127.0.0.0/8",
    })
    return env


@pytest.fixture(scope="session")
def settings(stack_env) -> Settings:
    return Settings.from_env(stack_env)


@pytest.fixture(scope="session")
def migrated(stack_env, tmp_path_factory):
    import subprocess

    result = subprocess.run(trainq("db", "upgrade"), env=stack_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return True


@pytest.fixture(scope="session")
def stack(stack_env, migrated, tmp_path_factory):
    """API, consumer, scheduler, a cpu host and a gpu host (one fake GPU id), as real processes."""
    logs = tmp_path_factory.mktemp("logs")
    base_url = f"http://127.0.0.1:{stack_env['TRAINQ_API_PORT']}"
    services: list[Service] = []
    try:
        services.append(start_api(stack_env, logs, base_url))
        services.append(Service("consumer", trainq("consumer"), stack_env, logs).start())
        services.append(start_scheduler(stack_env, logs))
        services.append(start_worker("cpu", "", "cpu-test", stack_env, logs))
        services.append(start_worker("gpu", FAKE_GPU_ID, "gpu-test", stack_env, logs))
        yield {"base_url": base_url, "services": {s.name: s for s in services}, "logs": logs}
    finally:
        for service in reversed(services):
            service.stop()


@pytest.fixture(scope="session")
def api(stack) -> ApiClient:
    return ApiClient.login(stack["base_url"], "admin", ADMIN_PASSWORD)


@pytest.fixture
def second_receiver():
    """A receiver of its own, for tests that make it fail without disturbing other tests."""
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def release_dir(tmp_path) -> Path:
    """Where tests drop the files that let wait_for_file.py jobs finish."""
    return tmp_path
