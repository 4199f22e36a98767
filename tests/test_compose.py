"""docker-compose.yml against the compose specification's schema (offline: the schema is vendored
in tests/fixtures/compose-spec/), and project rules for it and the Dockerfile that the schema
cannot express.

There is no Docker engine where the tests run, so these read the files: every trainq service runs
a real `trainq` subcommand, sets only TRAINQ_* variables that config/settings.py reads, GPU workers
reserve their GPUs correctly and never see the database, and Redis is configured not to lose jobs.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml  # PyYAML: a dev dependency (setup.cfg [dev])

from workers.host import parse_gpus

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"

# ${VAR}, ${VAR:-x}, ${VAR:?msg} and $VAR, but not $$VAR / $${VAR} (escaped for the container).
_INTERPOLATED = re.compile(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)")
EXPECTED_SERVICES = {"redis", "postgres", "migrate", "api", "scheduler", "consumer", "flower",
                     "worker-gpu"}


@pytest.fixture(scope="module")
def compose_text() -> str:
    assert COMPOSE.is_file(), f"{COMPOSE} is missing"
    return COMPOSE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict:
    data = yaml.safe_load(compose_text)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "no services mapping"
    return data


@pytest.fixture(scope="module")
def trainq_services(compose: dict) -> dict[str, dict]:
    """Services that run the trainq image: those with `build`, or the x-trainq anchor's image."""
    anchor_image = (compose.get("x-trainq") or {}).get("image")
    found = {
        name: svc
        for name, svc in compose["services"].items()
        if "build" in svc or (anchor_image is not None and svc.get("image") == anchor_image)
    }
    assert found, "no service uses the trainq image"
    return found


def _interpolate(text: str) -> str:
    """What compose does before it validates: ${VAR:-default} and ${VAR-default} take the default,
    any other reference a placeholder value; $$ is a literal $ for the container."""
    def value(match: re.Match) -> str:
        return match.group("default") if match.group("default") is not None else "set-by-host"
    text = re.sub(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                  r"(?::?-(?P<default>[^}]*)|:?\?[^}]*)?\}", value, text)
    return re.sub(r"(?<!\$)\$(?=[A-Za-z_])", "", text).replace("$$", "$")


def test_the_compose_file_follows_the_compose_specification(compose_text: str) -> None:
    from jsonschema import Draft7Validator

    validator = Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()),
                                format_checker=Draft7Validator.FORMAT_CHECKER)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in validator.iter_errors(yaml.safe_load(_interpolate(compose_text)))]
    assert not problems, "docker-compose.yml breaks the compose specification:\n" + \
        "\n".join(problems)


def test_the_schema_check_catches_a_wrong_compose_file(compose: dict) -> None:
    """The check above can fail: a misspelt key and a wrong type are both reported."""
    from jsonschema import Draft7Validator

    broken = json.loads(json.dumps(compose))
    api = broken["services"]["api"]
    api["restart_policy"], api["ports"] = "always", "8000:8000"
    errors = list(Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text())).iter_errors(broken))
    assert any("restart_policy" in e.message for e in errors)
    assert any(list(e.absolute_path)[-1:] == ["ports"] for e in errors)


def _words(command) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]


def _environment(svc: dict) -> dict[str, str | None]:
    env = svc.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", "KEY"]
        pairs = (item.partition("=") for item in env)
        return {key: (value if sep else None) for key, sep, value in pairs}
    return {str(key): value for key, value in env.items()}


def _gpu_workers(services: dict[str, dict]) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in services.items()
        if _words(svc.get("command"))[:1] == ["worker"] and "--gpus" in _words(svc.get("command"))
    }


def _devices(svc: dict) -> list[dict]:
    return (
        ((svc.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
    ).get("devices") or []


def _option(words: list[str], flag: str) -> str | None:
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def test_expected_services_present(compose: dict, trainq_services: dict[str, dict]) -> None:
    assert EXPECTED_SERVICES <= set(compose["services"]), EXPECTED_SERVICES - set(compose["services"])
    assert {"migrate", "api", "scheduler", "consumer", "flower", "worker-gpu"} <= set(trainq_services)
    assert not {"redis", "postgres"} & set(trainq_services)


# (a) -- fails until app/cli.py exists (deselect with -k 'not command' before then).
def test_every_trainq_service_runs_a_known_cli_command(trainq_services: dict[str, dict]) -> None:
    from app.cli import subcommand_names

    known = set(subcommand_names())
    assert known, "app.cli.subcommand_names() is empty"
    for name, svc in trainq_services.items():
        words = _words(svc.get("command"))
        assert words, f"service {name!r} has no command (the image's ENTRYPOINT is bare `trainq`)"
        assert words[0] in known, f"service {name!r} runs `trainq {words[0]}`, not one of {sorted(known)}"


# (b)
def test_trainq_services_set_only_known_settings(trainq_services: dict[str, dict]) -> None:
    from config.settings import setting_names

    known = set(setting_names())
    for name, svc in trainq_services.items():
        env = _environment(svc)
        assert env, f"service {name!r} sets no environment (TRAINQ_REDIS_URL at least)"
        unknown = sorted(set(env) - known)
        assert not unknown, f"service {name!r} sets variables trainq never reads: {unknown}"
        assert env.get("TRAINQ_REDIS_URL"), f"service {name!r} has no TRAINQ_REDIS_URL"


def test_interpolated_trainq_variables_are_known_settings(compose_text: str) -> None:
    from config.settings import setting_names

    referenced = {v for v in _INTERPOLATED.findall(compose_text) if v.startswith("TRAINQ_")}
    assert referenced, "the compose file reads no TRAINQ_* variable from the host (secrets at least)"
    unknown = sorted(referenced - set(setting_names()))
    assert not unknown, f"compose interpolates TRAINQ_* variables trainq never reads: {unknown}"


def test_secrets_are_required_from_the_host(compose_text: str) -> None:
    for var in ("TRAINQ_SECRET_KEY", "TRAINQ_ADMIN_PASSWORD"):
        assert re.search(r"\$\{" + var + r":?\?", compose_text), f"{var} must be ${{{var}:?message}}"


def test_dockerfile_sets_only_known_settings() -> None:
    from config.settings import setting_names

    names = set(re.findall(r"\b(TRAINQ_[A-Z0-9_]+)", DOCKERFILE.read_text()))
    unknown = sorted(names - set(setting_names()))
    assert not unknown, f"Dockerfile names TRAINQ_* variables trainq never reads: {unknown}"


# (c)
def test_gpu_workers_reserve_their_gpus_and_never_see_the_database(
    compose: dict, trainq_services: dict[str, dict]
) -> None:
    workers = _gpu_workers(trainq_services)
    assert "worker-gpu" in workers, f"worker-gpu is not a `worker --gpus` service: {sorted(workers)}"
    for name, svc in workers.items():
        devices = _devices(svc)
        assert devices, f"{name}: no deploy.resources.reservations.devices"
        reserved: int | str = 0
        for dev in devices:
            caps = dev.get("capabilities")
            assert isinstance(caps, list) and "gpu" in caps, f"{name}: capabilities must list gpu"
            assert dev.get("driver") == "nvidia", f"{name}: driver must be nvidia"
            assert not ("count" in dev and "device_ids" in dev), f"{name}: both count and device_ids"
            if "device_ids" in dev:
                ids = dev["device_ids"]
                assert isinstance(ids, list) and ids, f"{name}: device_ids must be a non-empty list"
                assert all(isinstance(i, str) for i in ids), f"{name}: device_ids must be strings"
                reserved += len(ids)
            elif dev.get("count") == "all":
                reserved = "all"
            else:
                assert isinstance(dev.get("count"), int), f"{name}: count must be a number or all"
                reserved += dev["count"]
        gpus = _option(_words(svc.get("command")), "--gpus")
        assert gpus, f"{name}: `worker` without a --gpus value"
        if reserved == "all" or gpus == "all":
            # Every GPU the container sees, found by NVML: only with a reservation of all of them.
            assert (reserved, gpus) == ("all", "all"), f"{name}: --gpus {gpus}, {reserved} reserved"
        else:
            _check_indexes(name, gpus, reserved)

        env = _environment(svc)
        assert "TRAINQ_DATABASE_URL" not in env, f"{name}: workers never open the database"
        depends = svc.get("depends_on") or {}
        assert "postgres" not in depends and "migrate" not in depends, f"{name}: depends on the DB"


def _check_indexes(name: str, gpus: str, reserved: int) -> None:
    """Reserved GPUs are renumbered from 0 inside the container: --gpus must index into them."""
    indexes = [int(i) for i in parse_gpus(gpus)]
    assert len(indexes) == reserved, f"{name}: --gpus {gpus} but {reserved} GPU(s) reserved"
    assert all(0 <= i < reserved for i in indexes), f"{name}: --gpus {gpus} outside 0..{reserved - 1}"


def test_gpu_node_names_are_unique(trainq_services: dict[str, dict]) -> None:
    names = [_option(_words(svc.get("command")), "--name") for svc in _gpu_workers(trainq_services).values()]
    assert all(names), "every GPU worker needs --name"
    assert len(names) == len(set(names)), f"duplicate worker names: {names}"


def test_flower_is_published_on_loopback_only(compose: dict) -> None:
    ports = compose["services"]["flower"].get("ports") or []
    assert ports, "flower publishes no port"
    for port in ports:
        if isinstance(port, dict):
            assert port.get("host_ip") == "127.0.0.1", port
        else:
            assert str(port).startswith("127.0.0.1:"), f"flower port {port!r} is not loopback-only"


def test_api_waits_for_migrations(compose: dict) -> None:
    depends = compose["services"]["api"].get("depends_on") or {}
    assert isinstance(depends, dict), "api depends_on needs conditions"
    assert depends.get("migrate", {}).get("condition") == "service_completed_successfully"
    assert "/healthz" in json.dumps(compose["services"]["api"].get("healthcheck", {}))


# (d)
def test_redis_persists_and_never_evicts(compose: dict) -> None:
    redis = compose["services"]["redis"]
    assert str(redis.get("image", "")).startswith("redis:7"), redis.get("image")
    words = _words(redis.get("command"))

    def value(flag: str) -> str | None:
        return _option(words, "--" + flag)

    assert value("appendonly") == "yes", f"redis command: {words}"
    assert value("appendfsync") == "everysec", f"redis command: {words}"
    assert value("maxmemory-policy") == "noeviction", f"redis command: {words}"
    assert redis.get("volumes"), "redis data must be on a volume"
    assert "ping" in _words(redis.get("healthcheck", {}).get("test"))


# (e)
def test_dockerfile_entrypoint_is_trainq() -> None:
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    entrypoints = [line.split(None, 1)[1] for line in lines if line.upper().startswith("ENTRYPOINT ")]
    assert entrypoints, "Dockerfile has no ENTRYPOINT"
    last = entrypoints[-1]  # the last one wins
    entry = json.loads(last) if last.startswith("[") else shlex.split(last)
    assert entry == ["trainq"], f"ENTRYPOINT is {entry}, want ['trainq']"

    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert froms and froms[-1].startswith("python:3.11"), froms
    users = [line.split()[1] for line in lines if line.upper().startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}, f"the image must run as a non-root user: {users}"
