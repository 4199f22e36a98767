"""The wire protocol between the control plane and workers: the only names either side uses.

A GPU host loads `config/` and `workers/` only, so this module imports nothing from either.
Compatibility rule: a field added later that an older peer may ignore keeps the version; a
change an older peer must not ignore bumps PROTOCOL_VERSION, and the older peer refuses it."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

#: Version of the task spec and allocation formats; a peer refuses a newer one it cannot read.
#: 2: the task spec's launcher and nproc_per_node (a version-1 worker would run such a job
#: as a plain script); a spec that needs neither is still sent as version 1.
PROTOCOL_VERSION = 3
#: The runtime environment a job gets when it names none: the worker's own interpreter.
DEFAULT_ENV = "default"
#: A runtime environment's name, as `trainq worker --env NAME=PATH` declares it and a job's
#: env_id asks for it: plain, because it travels in a Redis field of names and in messages.
ENV_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Launcher(StrEnum):
    """How the worker starts a script."""
    PYTHON = "python"  # python <script> <args>
    TORCHRUN = "torchrun"  # torch.distributed.run: nproc_per_node processes with RANK, etc.


class ProtocolError(ValueError):
    """A message this side cannot read; the text says what is wrong and what to upgrade."""


class EventKind(StrEnum):
    """The `kind` of a stream entry: what a worker tells the consumer about an attempt."""
    STARTED = "started"  # the script is running (worker, GPUs, pid)
    EPOCH = "epoch"  # one metric report, the record parse_metric_line builds
    LOG = "log"  # a batch of output lines, numbered per attempt so replays are no-ops
    FINISHED = "finished"  # the attempt ended: outcome, exit code, message, failure class
    # Per-step values, many steps per entry so a job reporting every step adds a few entries a
    # second, not one per step. Added without a version bump: events carry no version, an older
    # worker never sends it (a step line is a log line to it), and an older consumer logs and
    # skips it (the curve is lost, never the job), so upgrade consumers before workers.
    STEPS = "steps"


class Outcome(StrEnum):
    """How an attempt ended, in a `finished` event: a terminal status, or (PREEMPTED) back to
    the queue as a new attempt."""
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"  # stopped because the scheduler took its GPUs back


class FailureClass(StrEnum):
    """Why an attempt did not complete, stored with the attempt (an API filter and a hint)."""
    SETUP_ERROR = "setup_error"  # the script could not start (path, spec, exec)
    TIMEOUT = "timeout"  # stopped at max_running_time_ms
    OUT_OF_MEMORY = "out_of_memory"  # SIGKILL or an out-of-memory error in stderr
    KILLED_BY_SIGNAL = "killed_by_signal"  # the script died of another signal
    USER_ERROR = "user_error"  # the script exited non-zero
    CANCELLED = "cancelled"  # stopped by request
    WORKER_LOST = "worker_lost"  # the control plane saw the lease expire
    PREEMPTED = "preempted"  # the control plane took the GPUs back for other work


#: The line a training script prints to report an epoch or a step (copied in
#: workers/reporting.py).
METRIC_LINE_PREFIX = "##trainq "
#: The largest step number kept (copied in workers/reporting.py): a 32-bit column, and bucket
#: arithmetic (step × points) that stays inside 64 bits.
MAX_STEP = 2**31 - 1
#: Metrics with their own column and webhook field (copied in workers/reporting.py).
NAMED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "f1_score")
#: Environment a job's envs may not set: the slot's GPU pinning and trainq's own variables.
RESERVED_ENV_PREFIXES = ("TRAINQ_", "CUDA_VISIBLE_DEVICES")
#: Reserved names the control plane itself writes into a job's envs (the API refuses the prefix
#: from users), so the worker passes them on: a seed 002 base model's weights directory.
CONTROL_PLANE_ENVS = frozenset({"TRAINQ_BASE_DIR"})


def encode_entry(job_id: str, attempt: int, kind: EventKind,
                 data: dict[str, Any], rank: int = 0) -> dict[str, str]:
    """One stream entry; flat strings because Redis Stream fields are strings. `rank` names the
    instance of a multi-host attempt that sent it (absent: 0, as before gangs)."""
    entry = {"job_id": job_id, "attempt": str(attempt), "kind": str(kind),
             "ts": repr(time.time()), "data": json.dumps(data, allow_nan=False)}
    if rank:
        entry["rank"] = str(rank)
    return entry


def entry_rank(entry: dict[str, Any]) -> int:
    """The instance an entry came from; 0 for single-instance jobs and older workers."""
    rank = str(entry.get("rank") or "0")
    return int(rank) if rank.isdigit() else 0


def decode_entry(fields: dict[str, str]) -> dict[str, Any]:
    """The entry with its `data` parsed; `kind` stays a plain string (an unknown one is logged)."""
    return {**fields, "data": json.loads(fields.get("data") or "{}")}


#: Lease values are "<owner>|<redis server time>"; the reaper compares them with that clock.
LEASE_SEPARATOR = "|"
#: The owner a lease names once its attempt ended and the outcome is in the stream.
LEASE_DONE = "done"


class Lease(NamedTuple):
    owner: str
    server_time: int

    @property
    def done(self) -> bool:
        return self.owner == LEASE_DONE


def parse_lease(value: str | None) -> Lease | None:
    """The lease's owner and the server time of its last heartbeat; None when there is none."""
    if not value:
        return None
    owner, _, stamp = value.rpartition(LEASE_SEPARATOR)
    return Lease(owner, int(stamp or 0))


@dataclass(frozen=True)
class PreemptRequest:
    """What the scheduler tells a worker whose attempt it takes the GPUs back from."""
    reason: str  # for the attempt's message, e.g. which job needs the GPUs
    grace_seconds: float  # between SIGTERM (checkpoint now) and SIGKILL

    def to_wire(self) -> str:
        return json.dumps({"reason": self.reason, "grace_seconds": self.grace_seconds},
                          separators=_COMPACT)

    @classmethod
    def from_wire(cls, text: str) -> "PreemptRequest":
        got = _typed(_load(text, "preempt request"),
                     {"reason": str, "grace_seconds": (int, float)}, "preempt request")
        return cls(got["reason"], float(got["grace_seconds"]))


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to run an attempt; it never reads the database itself."""
    script_path: str
    framework: str
    cpu: int
    memory: int
    gpu: int
    args: tuple[str, ...] = ()
    envs: dict[str, str] = field(default_factory=dict)
    dataset_id: int | None = None
    max_running_time_ms: int | None = None
    launcher: str = Launcher.PYTHON
    nproc_per_node: int | None = None  # torchrun's; None: the instance's GPUs, or 1 without
    #: Version 3: the named interpreter of the host to run it with, the dataset directories
    #: (relative to TRAINQ_DATASET_ROOT) as {"train": [...], "test": [...]}, and a TensorBoard
    #: directory under the output.
    env_id: str = DEFAULT_ENV
    datasets: dict[str, list[str]] | None = None
    tb_summary_path: str | None = None
    #: The version the message was written in (informational: two specs that say the same are
    #: equal whatever their version); to_wire writes the lowest version that can carry it.
    version: int = field(default=1, compare=False)

    def to_wire(self) -> dict[str, Any]:
        return {**asdict(self), "args": list(self.args), "envs": dict(self.envs),
                "launcher": str(self.launcher), "version": self._wire_version()}

    def _wire_version(self) -> int:
        """The lowest version that carries every field set: an older worker would silently
        drop what it does not know, so it must refuse the message instead."""
        if (self.env_id != DEFAULT_ENV or self.datasets is not None
                or self.tb_summary_path is not None):
            return 3
        return 1 if self.launcher == Launcher.PYTHON and self.nproc_per_node is None else 2

    @classmethod
    def from_wire(cls, wire: Any) -> "TaskSpec":
        """Messages from before the version field (still in a broker) are version 1."""
        version = _version(wire, "task spec")
        spec = _typed(wire, _SPEC_TYPES, "task spec", required=_REQUIRED_SPEC)
        _check_all(spec.get("args", ()), str, "task spec args")
        _check_all(spec.get("envs", {}).values(), str, "task spec envs")
        for dirs in (spec.get("datasets") or {}).values():
            _check(dirs, list, "task spec datasets")
            _check_all(dirs, str, "task spec dataset paths")
        if spec.get("launcher", Launcher.PYTHON) not in set(Launcher):
            raise ProtocolError(f"task spec launcher {spec['launcher']!r} is not one of "
                                f"{', '.join(Launcher)}; upgrade trainq on this host")
        return cls(**{**spec, "args": tuple(spec.get("args", ())), "version": version})


_OPTIONAL_INT = (int, type(None))


def dataset_paths(resolved: dict[str, Any] | None) -> dict[str, list[str]] | None:
    """A job's resolved datasets ({"train": [{"id", "path"}], …}) as the worker needs them."""
    if not resolved:
        return None
    return {role: [entry["path"] for entry in entries] for role, entries in resolved.items()}
_SPEC_TYPES = {"script_path": str, "framework": str, "cpu": int, "memory": int, "gpu": int,
               "args": list, "envs": dict, "dataset_id": _OPTIONAL_INT,
               "max_running_time_ms": _OPTIONAL_INT, "launcher": str,
               "nproc_per_node": _OPTIONAL_INT, "env_id": str, "datasets": (dict, type(None)),
               "tb_summary_path": (str, type(None))}
_REQUIRED_SPEC = ("script_path", "framework", "cpu", "memory", "gpu")
_COMPACT = (",", ":")  # JSON separators for the compact form: no spaces


@dataclass(frozen=True)
class InstanceAssignment:
    """One instance of a placed job: its rank in the gang, its host and that host's GPU ids."""
    rank: int
    host: str
    gpus: tuple[str, ...]

    def to_wire(self) -> str:
        return json.dumps(self._fields(), separators=_COMPACT)

    @classmethod
    def from_wire(cls, text: str) -> "InstanceAssignment":
        return cls._from_fields(_load(text, "instance assignment"))

    def _fields(self) -> dict[str, Any]:
        return {"rank": self.rank, "host": self.host, "gpus": list(self.gpus)}

    @classmethod
    def _from_fields(cls, obj: Any) -> "InstanceAssignment":
        got = _typed(obj, {"rank": int, "host": str, "gpus": list}, "instance assignment")
        _check_all(got["gpus"], str, "instance gpus")
        if got["rank"] < 0 or not got["host"]:
            raise ProtocolError(f"an instance needs a rank >= 0 and a host, got {obj!r}")
        return cls(got["rank"], got["host"], tuple(got["gpus"]))


@dataclass(frozen=True)
class Allocation:
    """Where the placer put one attempt of a job, across hosts. `epoch` is the placer's fencing
    number: a host acts on an allocation only if no newer epoch has reached it."""
    job_id: str
    attempt: int
    epoch: int
    instances: tuple[InstanceAssignment, ...]

    def to_wire(self) -> str:
        return json.dumps({"version": PROTOCOL_VERSION, "job_id": self.job_id,
                           "attempt": self.attempt, "epoch": self.epoch,
                           "instances": [i._fields() for i in self.instances]},
                          separators=_COMPACT)

    @classmethod
    def from_wire(cls, text: str) -> "Allocation":
        obj = _load(text, "allocation")
        _version(obj, "allocation")
        got = _typed(obj, {"job_id": str, "attempt": int, "epoch": int, "instances": list},
                     "allocation")
        placed = tuple(InstanceAssignment._from_fields(i) for i in got["instances"])
        if not got["job_id"] or got["attempt"] < 1 or got["epoch"] < 0:
            raise ProtocolError(f"an allocation needs a job id, attempt >= 1, epoch >= 0: {text!r}")
        if not placed or sorted(i.rank for i in placed) != list(range(len(placed))):
            raise ProtocolError(f"allocation ranks must be 0..n-1, each once: {text!r}")
        return cls(got["job_id"], got["attempt"], got["epoch"], placed)


def _version(obj: Any, what: str) -> int:
    version = _typed(obj, {"version": int}, what, required=()).get("version", 1)
    if version < 1:
        raise ProtocolError(f"{what} version must be 1 or more, got {version}")
    if version > PROTOCOL_VERSION:
        raise ProtocolError(f"{what} version {version} is newer than this side reads (version "
                            f"{PROTOCOL_VERSION}); upgrade trainq on this host to run it")
    return version


def _typed(obj: Any, types: dict[str, Any], what: str, required=None) -> dict[str, Any]:
    """The fields of `obj` named in `types`, each of its type; `required` (default: all) present."""
    _check(obj, dict, what)
    missing = [name for name in (types if required is None else required) if name not in obj]
    if missing:
        raise ProtocolError(f"{what} lacks {', '.join(missing)}")
    got = {name: obj[name] for name in types if name in obj}
    for name, value in got.items():
        _check(value, types[name], f"{what} field {name}")
    return got


def _check(value: Any, kind: type | tuple[type, ...], what: str) -> None:
    # bool is an int subclass in Python, but never a count, rank or id here.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ProtocolError(f"{what} has the wrong type: {value!r}")


def _check_all(values, kind: type, what: str) -> None:
    for value in values:
        _check(value, kind, what)


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise ProtocolError(f"{what} is not JSON: {text!r}") from None
