"""Named resource specs (seed 004's `spec_id`), from TRAINQ_SPECS, with an hourly price each from
TRAINQ_SPEC_PRICES. A spec is what one instance of a job gets: GPUs, CPUs, memory, and the pool
that offers them."""
from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEYS = {"gpu": int, "cpu": int, "mem_gi": float, "pool": str}
_EXAMPLE = "'a100-1=gpu:1,cpu:8,mem_gi:64,pool:gpu;cpu-4=gpu:0,cpu:4,mem_gi:8,pool:cpu'"


@dataclass(frozen=True)
class ResourceSpec:
    id: str
    gpu: int
    cpu: int
    mem_gi: float
    pool: str
    #: The price of one instance for an hour (TRAINQ_SPEC_PRICES); 0 where none is set.
    price_per_hour: float = 0.0

    @property
    def memory_bytes(self) -> int:
        return int(self.mem_gi * (1 << 30))


def parse_specs(text: str, prices: str, pools) -> tuple[ResourceSpec, ...]:
    """Parse "ID=gpu:N,cpu:N,mem_gi:N,pool:NAME;…" and "ID=PRICE,…"; no specs: one per pool."""
    from config.settings import SettingsError  # settings imports this module

    text = text.strip() or ";".join(_pool_spec(pool) for pool in pools)
    pool_names = {pool.name for pool in pools}
    price_of = _parse_prices(prices)
    specs = tuple(_parse_spec(item, price_of, pool_names)
                  for item in filter(None, (part.strip() for part in text.split(";"))))
    ids = [spec.id for spec in specs]
    if len(set(ids)) != len(ids):
        raise SettingsError(f"TRAINQ_SPECS names a spec twice: {text!r}")
    unpriced = set(price_of) - set(ids)
    if unpriced:
        raise SettingsError(f"TRAINQ_SPEC_PRICES prices specs TRAINQ_SPECS does not declare: "
                            f"{', '.join(sorted(unpriced))}")
    return specs


def _pool_spec(pool) -> str:
    """A pool's default spec: its slot's GPUs, 8 CPUs and 32 GiB per GPU (2 and 4 without)."""
    return (f"{pool.name}=gpu:{pool.gpus},cpu:{max(2, 8 * pool.gpus)},"
            f"mem_gi:{max(4, 32 * pool.gpus)},pool:{pool.name}")


def _parse_spec(item: str, price_of: dict[str, float], pool_names: set[str]) -> ResourceSpec:
    from config.settings import SettingsError

    spec_id, _, body = item.partition("=")
    values = dict(part.partition(":")[::2] for part in body.split(","))
    if not _SPEC_ID.match(spec_id) or set(values) != set(_KEYS):
        raise SettingsError(f"TRAINQ_SPECS entry {item!r} is not ID=gpu:N,cpu:N,mem_gi:N,"
                            f"pool:NAME (entries separated by ';'), e.g. {_EXAMPLE}")
    try:
        typed = {key: kind(values[key]) for key, kind in _KEYS.items()}
    except ValueError:
        raise SettingsError(f"TRAINQ_SPECS entry {item!r} has a value that is not a number; "
                            f"e.g. {_EXAMPLE}") from None
    if typed["pool"] not in pool_names:
        raise SettingsError(f"TRAINQ_SPECS entry {item!r} names pool {typed['pool']!r}, which "
                            f"TRAINQ_POOLS does not declare ({', '.join(sorted(pool_names))})")
    if min(typed["gpu"], typed["cpu"], typed["mem_gi"]) < 0 or typed["cpu"] < 1:
        raise SettingsError(f"TRAINQ_SPECS entry {item!r}: cpu must be 1 or more, and gpu and "
                            "mem_gi not negative")
    return ResourceSpec(spec_id, **typed, price_per_hour=price_of.get(spec_id, 0.0))


def _parse_prices(text: str) -> dict[str, float]:
    from config.settings import SettingsError

    prices: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        spec_id, _, price = item.partition("=")
        try:
            prices[spec_id] = float(price)
        except ValueError:
            raise SettingsError(f"TRAINQ_SPEC_PRICES entry {item!r} is not ID=PRICE_PER_HOUR, "
                                "e.g. 'a100-1=12.5,cpu-4=0.4'") from None
        if prices[spec_id] < 0:
            raise SettingsError(f"TRAINQ_SPEC_PRICES entry {item!r}: a price is not negative")
    return prices
