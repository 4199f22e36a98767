"""Seed 004's JobOpenapi as a native job submission: one mapping, then the native schema's own
checks (JobCreateSchema) and the same submit service as /api/v1, so the two APIs cannot accept
different jobs. Errors name the seed 004 field the caller sent."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from marshmallow import ValidationError

from app.api.jobs.schemas import JobCreateSchema
from app.api.train_job.command import CommandError, parse_command
from app.errors import InvalidInput

SPEC_FIELD = "framework_config[0].spec_id"
#: A native field's problem is reported under the seed 004 field it came from.
SEED_FIELD = {"script_path": "command", "args": "command", "launcher": "command",
              "nproc_per_node": "command", "cpu": SPEC_FIELD, "memory": SPEC_FIELD,
              "gpu": SPEC_FIELD, "pool": "logic_compute_group_id", "priority": "task_priority",
              "instance_count": "framework_config[0].instance_count",
              "env_id": "framework_config[0].image", "envs": "envs"}
#: What the document sends that trainq records and returns, but does not act on.
RECORDED = ("reserve_on_fail_ms", "reserve_on_success_ms", "enable_troubleshoot")


def to_native(settings, body: dict[str, Any]) -> dict[str, Any]:
    """The native submission for `body`; InvalidInput naming every field to fix."""
    errors: dict[str, list[str]] = {}
    config = (body.get("framework_config") or [{}])[0]
    native = _collect(settings, body, config, errors)
    if errors:
        raise InvalidInput("the job cannot be created as sent", errors=errors)
    try:
        loaded = JobCreateSchema().load(native)
    except ValidationError as exc:
        raise seed_fields(InvalidInput(errors=exc.messages)) from None
    return {**loaded, **_adapter_fields(body, config)}


def seed_fields(error: InvalidInput) -> InvalidInput:
    """The same problems, each under the seed 004 field it came from."""
    problems: dict[str, list] = {}
    for name, messages in (error.errors or {}).items():
        problems.setdefault(SEED_FIELD.get(name, name), []).extend(
            messages if isinstance(messages, list) else [messages])
    return InvalidInput("the job cannot be created as sent", errors=problems)


def _collect(settings, body, config, errors) -> dict[str, Any]:
    native: dict[str, Any] = {"name": body.get("name") or _missing(errors, "name")}
    native.update(_command(body, config, errors))
    native.update(_resources(settings, body, config, errors))
    native["framework"] = _framework(body, errors)
    native["envs"] = _envs(body.get("envs") or [], errors)
    workspace = _workspace(body, errors)
    if workspace is not None:
        native["workspace_id"] = workspace
    if "task_priority" in body:
        native["priority"] = body["task_priority"]
    if "max_running_time_ms" in body:
        native["max_running_time_ms"] = int(body["max_running_time_ms"])
    if "image" in config:
        native["env_id"] = config["image"]
    for name in ("auto_fault_tolerance", "fault_tolerance_max_retry",
                 "fault_tolerance_retry_interval_sec"):
        if name in body:
            native[name] = body[name]
    return native


def _missing(errors, name: str, hint: str = "") -> None:
    errors[name] = [f"is required{hint}"]


def _command(body, config, errors) -> dict[str, Any]:
    if not body.get("command"):
        _missing(errors, "command", ", e.g. \"python train.py --epochs 3\"")
        return {}
    try:
        command = parse_command(body["command"])
    except CommandError as exc:
        errors["command"] = [str(exc)]
        return {}
    count = config.get("instance_count") or command.nnodes or 1
    if command.nnodes is not None and command.nnodes != count:
        errors["command"] = [f"--nnodes {command.nnodes} differs from framework_config[0]."
                             f"instance_count {count}; trainq starts one instance per node"]
    native = {"script_path": command.script_path, "args": list(command.args),
              "launcher": str(command.launcher), "instance_count": count}
    if command.nproc_per_node is not None:
        native["nproc_per_node"] = command.nproc_per_node
    return native


def _resources(settings, body, config, errors) -> dict[str, Any]:
    spec_id = config.get("spec_id")
    spec = settings.spec(spec_id) if spec_id else None
    if spec is None:
        known = ", ".join(s.id for s in settings.specs) or "none (set TRAINQ_SPECS)"
        errors[SPEC_FIELD] = [f"{'unknown spec ' + repr(spec_id) if spec_id else 'is required'}"
                              f"; this deployment's specs are: {known}"]
        return {}
    return {"cpu": spec.cpu, "memory": spec.memory_bytes, "gpu": spec.gpu,
            "pool": body.get("logic_compute_group_id") or spec.pool}


def _framework(body, errors) -> str | None:
    word = (body.get("framework") or "").strip().lower()
    if word in ("pytorch", "tensorflow"):
        return word
    errors["framework"] = [f"{body.get('framework')!r} is not a framework trainq runs; "
                           "use pytorch or tensorflow"]
    return None


def _envs(pairs: list[dict], errors) -> dict[str, str]:
    names = [pair["name"] for pair in pairs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        errors["envs"] = [f"names {', '.join(twice)} more than once; give each variable once"]
    return {pair["name"]: pair["value"] for pair in pairs}


def _workspace(body, errors) -> int | None:
    given = {name: body[name] for name in ("workspace_id", "project_id") if body.get(name)}
    for name, value in given.items():
        if not value.isdigit():
            errors[name] = [f"{value!r} is not a workspace id; GET /api/v1/me lists yours"]
            return None
    if len(set(given.values())) > 1:
        errors["project_id"] = ["differs from workspace_id; both name trainq's workspace, give "
                                "one of them"]
        return None
    return int(next(iter(given.values()))) if given else None


def _adapter_fields(body, config) -> dict[str, Any]:
    recorded = {name: body[name] for name in RECORDED if name in body}
    if "image_type" in config:
        recorded["image_type"] = config["image_type"]
    return {"spec_id": config["spec_id"], "shm_gi": config.get("shm_gi"),
            "command": body["command"], "notify_enabled": body.get("enable_notification", True),
            "tb_summary_path": tb_dir(body.get("tb_summary_path")),
            "recorded_fields": recorded or None}


def tb_dir(path: str | None) -> str | None:
    """tb_summary_path as a directory inside the job's output (the script gets TRAINQ_TB_DIR)."""
    if not path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise InvalidInput("the job cannot be created as sent", errors={"tb_summary_path": [
            "must be a relative path inside the job's output directory, e.g. \"tb\""]})
    return str(pure)


def dataset_ids(body: dict[str, Any]) -> list[int]:
    """dataset_info's ids as registry ids; InvalidInput for one that is not a number."""
    ids = [info["dataset_id"] for info in body.get("dataset_info") or []]
    wrong = [value for value in ids if not value.isdigit()]
    if wrong:
        raise InvalidInput("the job cannot be created as sent", errors={"dataset_info": [
            f"dataset_id {wrong[0]!r} is not a registered dataset's id (a number); "
            "GET /api/v1/admin/datasets lists them"]})
    return [int(value) for value in ids]
