"""Each host's state while planning: its free GPUs and slots now and, for the forward plan,
the time from which each GPU and slot stays free (its timeline)."""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.scheduler.fit import Block, blocks, bits, fit, mask_of
from app.scheduler.model import HostView, RunningJob
from config.protocol import DEFAULT_ENV

#: An end nobody knows: the GPU or slot frees at some unknown time.
INF = float("inf")


@dataclass(frozen=True)
class Option:
    """When a job could start on one host, on the timeline."""
    start: float     # INF: unknown
    unknown: int     # GPUs/slot among those it needs that free at an unknown time
    mask: int        # the GPUs it would take
    why: str         # what an unknown start waits for; "" when known


@dataclass(eq=False)
class HostState:
    name: str
    gpus: tuple[str, ...]
    free: int                        # free now
    free_slots: int                  # free now
    avail: list[float]               # per GPU: the time from which it stays free
    why: list[str]                   # per GPU: what an INF in `avail` waits for
    slots: list[tuple[float, str]]   # per slot, sorted: (time it frees, what an INF waits for)
    options: dict[int, Option | None] = field(default_factory=dict)   # earliest() per size
    envs: frozenset[str] = frozenset({DEFAULT_ENV})   # its runtime environments (HostView's)

    def start_now(self, mask: int, now: float, end: float, why: str) -> None:
        self.free &= ~mask
        self.free_slots -= 1
        self.book(mask, now, end, why)

    def book(self, mask: int, start: float, end: float, why: str) -> None:
        """Hold `mask` and one slot from `start` to `end` on the timeline."""
        for i in bits(mask):
            self.avail[i], self.why[i] = end, why
        # The latest slot still free by `start`: earlier ones stay for jobs that start sooner.
        k = max(0, bisect.bisect_right(self.slots, start, key=lambda s: s[0]) - 1)
        del self.slots[k]
        bisect.insort(self.slots, (end, why if end == INF else ""))
        self.options.clear()


def largest_fit(state: HostState) -> int:
    """The most GPUs one job could get on this host now."""
    if state.free_slots < 1:
        return 0
    n = len(state.gpus)
    return next((g for g in range(n, 0, -1) if fit(state.free, n, g)), 0)


def earliest(state: HostState, g: int) -> Option | None:
    """The earliest start of a g-GPU instance on this host's timeline (None: too few GPUs)."""
    if g not in state.options:
        state.options[g] = _earliest(state, g)
    return state.options[g]


def _earliest(state: HostState, g: int) -> Option | None:
    slot_at, slot_why = state.slots[0]
    if g == 0:
        return Option(slot_at, int(slot_at == INF), 0, slot_why)
    best = None
    for block in blocks(len(state.gpus), g):
        chosen = _soonest(state.avail, block, g)
        if chosen is None:
            continue
        start = max(state.avail[chosen[-1]], slot_at)
        if best is None or start < best.start:
            best = _option(state, chosen, start)
        elif start == best.start == INF:   # both unknown: the one waiting on fewer unknown ends
            option = _option(state, chosen, start)
            best = option if option.unknown < best.unknown else best
    return best


def _soonest(avail: list[float], block: Block, g: int) -> list[int] | None:
    """The g GPUs of the block that free soonest, the last of them last."""
    if len(block.indexes) < g:
        return None
    return sorted(block.indexes, key=avail.__getitem__)[:g]


def _option(state: HostState, chosen: Sequence[int], start: float) -> Option:
    if start < INF:
        return Option(start, 0, mask_of(chosen), "")
    slot_at, slot_why = state.slots[0]
    unknown = sum(state.avail[i] == INF for i in chosen) + (slot_at == INF)
    last = chosen[-1]
    why = state.why[last] if state.avail[last] == INF else slot_why
    return Option(start, unknown, mask_of(chosen), why)


def pool_state(now: float, hosts: Iterable[HostView],
               running: Iterable[RunningJob]) -> list[HostState]:
    """The schedulable hosts that can run anything, with what the running jobs hold there."""
    held: dict[str, list[tuple[float, str, tuple[str, ...]]]] = {}
    for job in running:
        # A job past its expected end is about to end: it frees now, not in the past.
        end = INF if job.expected_end is None else max(now, job.expected_end)
        why = f"running job {job.id} has no expected end" if end == INF else ""
        for host, gpus in job.hosts.items():
            held.setdefault(host, []).append((end, why, gpus))
    return [_host_state(now, h, held.get(h.name, ()))
            for h in hosts if h.schedulable and h.slots > 0]


def _host_state(now: float, host: HostView,
                held: Sequence[tuple[float, str, tuple[str, ...]]]) -> HostState:
    index = {gpu: i for i, gpu in enumerate(host.gpus)}
    free = mask_of(index[g] for g in host.free_gpus if g in index)
    avail = [now if free >> i & 1 else INF for i in range(len(host.gpus))]
    why = ["" if free >> i & 1 else f"GPU {gpu} on {host.name} is held by no known job"
           for i, gpu in enumerate(host.gpus)]
    for end, cause, gpus in held:
        for i in (index[g] for g in gpus if g in index and not free >> index[g] & 1):
            avail[i], why[i] = end, cause
    free_slots = max(0, min(host.free_slots, host.slots))
    used = host.slots - free_slots
    ends = sorted((end, cause) for end, cause, _ in held)[:used]
    ends += [(INF, f"a slot on {host.name} is held by no known job")] * (used - len(ends))
    return HostState(host.name, host.gpus, free, free_slots, avail, why,
                     [(now, "")] * free_slots + ends, envs=host.envs)


