"""GPU pools: named classes of worker slot, parsed from TRAINQ_POOLS ("cpu=0,a100x8=8")."""
from __future__ import annotations

import re
from dataclasses import dataclass

_POOL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Pool:
    """One class of worker slot: every slot of the pool offers `gpus` GPUs."""

    name: str
    gpus: int


def parse_pools(spec: str) -> tuple[Pool, ...]:
    """Parse "name=gpus,..." into pools sorted by slot size (smallest first)."""
    from config.settings import SettingsError  # settings imports this module

    pools = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, gpus = item.partition("=")
        if not _POOL_NAME.match(name) or not gpus.isdigit():
            raise SettingsError(
                f"TRAINQ_POOLS entry {item!r} is not NAME=GPUS_PER_SLOT "
                "(lower-case name, e.g. 'cpu=0,a100x8=8')"
            )
        pools.append(Pool(name, int(gpus)))
    if not pools:
        raise SettingsError("TRAINQ_POOLS declares no pool; e.g. 'cpu=0,gpu=1'")
    if len({p.name for p in pools}) != len(pools):
        raise SettingsError(f"TRAINQ_POOLS names a pool twice: {spec!r}")
    return tuple(sorted(pools, key=lambda p: (p.gpus, p.name)))


def pool_for(pools: tuple[Pool, ...], gpus: int, requested: str | None = None) -> Pool | None:
    """The named pool, or the smallest pool whose slot fits `gpus`; None when nothing fits."""
    if requested is not None:
        pool = next((p for p in pools if p.name == requested), None)
        return pool if pool is not None and pool.gpus >= gpus else None
    return next((p for p in pools if p.gpus >= gpus), None)
