"""The worker slot this process serves: its pool, GPU ids and CPU set, from `trainq worker`."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from config.settings import SettingsError

#: Set by `trainq worker` for the Celery process it starts; not user settings.
SLOT_POOL_ENV, SLOT_GPUS_ENV, SLOT_CPUS_ENV, SLOT_NAME_ENV = (
    "TRAINQ_SLOT_POOL", "TRAINQ_SLOT_GPUS", "TRAINQ_SLOT_CPUS", "TRAINQ_SLOT_NAME")


@dataclass(frozen=True)
class Slot:
    pool: str
    gpus: tuple[str, ...]
    cpus: frozenset[int] | None
    name: str

    @property
    def cuda_visible_devices(self) -> str:
        # Empty hides every GPU: a cpu-pool job must not grab a GPU it was not given.
        return ",".join(self.gpus)

    def env(self) -> dict[str, str]:
        return {SLOT_POOL_ENV: self.pool, SLOT_GPUS_ENV: ",".join(self.gpus),
                SLOT_CPUS_ENV: format_cpus(self.cpus), SLOT_NAME_ENV: self.name}

    @classmethod
    def from_env(cls) -> "Slot":
        cpus = os.environ.get(SLOT_CPUS_ENV, "")
        return cls(pool=os.environ.get(SLOT_POOL_ENV, "cpu"),
                   gpus=parse_gpus(os.environ.get(SLOT_GPUS_ENV, "")),
                   cpus=parse_cpus(cpus) if cpus else None,
                   name=os.environ.get(SLOT_NAME_ENV) or socket.gethostname())


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


def discover_gpus() -> tuple[str, ...]:
    """Every GPU NVML sees, by UUID: stable across reboots and driver updates, unlike indexes."""
    try:
        import pynvml
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - no library, no driver, no device: one message
        raise SettingsError(f"--gpus all needs an NVIDIA driver, and NVML answered: {exc}; "
                            "give the GPU ids instead, e.g. --gpus 0-7") from None
    try:
        return tuple(_uuid(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i)))
                     for i in range(pynvml.nvmlDeviceGetCount()))
    finally:
        pynvml.nvmlShutdown()


def _uuid(value) -> str:
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
