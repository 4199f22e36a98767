"""The host this worker serves: its name, pool, GPU ids, CPU set and how many jobs it runs at
once, from `trainq worker`. The scheduler places jobs on it; it never picks jobs itself."""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field

from config.settings import SettingsError
from workers.environments import default_envs, from_text, to_text

#: Set by `trainq worker` for the Celery process it starts; not user settings.
HOST_POOL_ENV, HOST_GPUS_ENV, HOST_CPUS_ENV, HOST_NAME_ENV, HOST_SLOTS_ENV, HOST_ADDR_ENV = (
    "TRAINQ_HOST_POOL", "TRAINQ_HOST_GPUS", "TRAINQ_HOST_CPUS", "TRAINQ_HOST_NAME",
    "TRAINQ_HOST_SLOTS", "TRAINQ_HOST_ADDR")
HOST_ENVS_ENV = "TRAINQ_HOST_ENVS"
#: Host names become Redis keys and a Celery queue name: keep them plain.
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Host:
    pool: str
    gpus: tuple[str, ...]
    cpus: frozenset[int] | None
    name: str
    #: Jobs it runs at once (its Celery concurrency); the scheduler never places more.
    slots: int = 1
    #: Where the other hosts of a multi-host job reach this one (torchrun's master, TF_CONFIG).
    addr: str = "127.0.0.1"
    #: Runtime environments: name -> interpreter (workers/environments.py).
    envs: dict[str, str] = field(default_factory=default_envs)

    def env(self) -> dict[str, str]:
        return {HOST_POOL_ENV: self.pool, HOST_GPUS_ENV: ",".join(self.gpus),
                HOST_CPUS_ENV: format_cpus(self.cpus), HOST_NAME_ENV: self.name,
                HOST_SLOTS_ENV: str(self.slots), HOST_ADDR_ENV: self.addr,
                HOST_ENVS_ENV: to_text(self.envs)}

    @classmethod
    def from_env(cls) -> "Host":
        cpus = os.environ.get(HOST_CPUS_ENV, "")
        return cls(pool=os.environ.get(HOST_POOL_ENV, "cpu"),
                   gpus=tuple(filter(None, os.environ.get(HOST_GPUS_ENV, "").split(","))),
                   cpus=parse_cpus(cpus) if cpus else None,
                   name=os.environ.get(HOST_NAME_ENV) or socket.gethostname(),
                   slots=int(os.environ.get(HOST_SLOTS_ENV) or 1),
                   addr=os.environ.get(HOST_ADDR_ENV) or default_addr(),
                   envs=from_text(os.environ.get(HOST_ENVS_ENV, "")))


def default_addr() -> str:
    """The address of the interface this host routes outward through: connecting a UDP socket
    sends nothing, it only picks the route. Loopback when there is none (one machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def check_host_name(name: str) -> str:
    if not _HOST_NAME.match(name):
        raise SettingsError(f"--name {name!r} is not a host name trainq can use: letters, digits, "
                            "'.', '_' and '-', starting with a letter or digit, at most 63")
    return name


def default_slots(gpus: tuple[str, ...]) -> int:
    """One job per GPU at most (a 0-GPU job still takes a slot); a host without GPUs runs one."""
    return max(1, len(gpus))


def parse_gpus(text: str) -> tuple[str, ...]:
    """'0-3,6' -> ('0','1','2','3','6'); UUIDs ('GPU-…', 'MIG-…') are kept as given; 'all' asks
    NVML for every GPU of the host."""
    if text.strip() == "all":
        return discover_gpus()
    ids: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, dash, high = part.partition("-")
        if dash and low.isdigit() and high.isdigit() and int(low) <= int(high):
            ids += [str(i) for i in range(int(low), int(high) + 1)]
        elif part.isdigit() or part.startswith(("GPU-", "MIG-")):
            ids.append(part)
        else:
            raise SettingsError(f"--gpus takes GPU indexes, ranges or UUIDs such as '0-7', '0,1' "
                                f"or 'GPU-…', or 'all'; got {text!r}")
    if len(set(ids)) != len(ids):
        raise SettingsError(f"--gpus names a GPU twice: {text!r}")
    return tuple(ids)


@dataclass(frozen=True)
class FoundGpu:
    """A GPU as NVML describes it."""

    uuid: str
    name: str
    memory_gib: float


def discover_gpus() -> tuple[str, ...]:
    """Every GPU NVML sees, by UUID: stable across reboots and driver updates, unlike indexes."""
    try:
        return tuple(gpu.uuid for gpu in nvml_gpus())
    except NvmlUnavailable as exc:
        raise SettingsError(f"--gpus all needs an NVIDIA driver, and NVML answered: {exc}; "
                            "give the GPU ids instead, e.g. --gpus 0-7") from None


class NvmlUnavailable(Exception):
    """No NVML library, no driver or no device: why, in NVML's words."""


def nvml_gpus() -> tuple[FoundGpu, ...]:
    """The GPUs of this machine, in NVML's order; NvmlUnavailable says why there are none."""
    try:
        import pynvml
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - no library, no driver, no device: one message
        raise NvmlUnavailable(str(exc) or type(exc).__name__) from None
    try:
        return tuple(_found(pynvml, pynvml.nvmlDeviceGetHandleByIndex(i))
                     for i in range(pynvml.nvmlDeviceGetCount()))
    finally:
        pynvml.nvmlShutdown()


def _found(pynvml, handle) -> FoundGpu:
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total
    return FoundGpu(_text(pynvml.nvmlDeviceGetUUID(handle)),
                    _text(pynvml.nvmlDeviceGetName(handle)), round(memory / 2**30, 1))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_cpus(text: str) -> frozenset[int]:
    """'0-3,8' -> {0,1,2,3,8}."""
    cpus: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise SettingsError(f"--cpus takes a CPU list like '0-3,8', got {text!r}") from None
    return frozenset(cpus)


def format_cpus(cpus: frozenset[int] | None) -> str:
    return ",".join(str(c) for c in sorted(cpus)) if cpus else ""
