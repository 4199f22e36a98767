"""Aligned GPU blocks on one host. GPU sets are int masks: bit i is `HostView.gpus[i]`."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Block:
    mask: int
    indexes: tuple[int, ...]
    enclosing: tuple[int, ...]   # the aligned 2b, 4b … blocks around it, smallest first


@lru_cache(maxsize=1024)
def blocks(n: int, g: int) -> tuple[Block, ...]:
    """Where g GPUs may go on an n-GPU host: blocks of b = the next power of two >= g, aligned
    on b. Aligned blocks keep whole 2/4/8-GPU blocks free for big jobs and follow NVLink pairs."""
    size = 1 << (g - 1).bit_length()
    return tuple(_block(start, size, n) for start in range(0, n, size))


def _block(start: int, size: int, n: int) -> Block:
    indexes = tuple(range(start, min(start + size, n)))
    enclosing, outer = [], 2 * size
    while outer < n:
        low = start - start % outer
        enclosing.append(mask_of(range(low, min(low + outer, n))))
        outer *= 2
    return Block(mask_of(indexes), indexes, tuple(enclosing))


def fit(free: int, n: int, g: int) -> tuple[tuple[int, ...], int] | None:
    """The best block with g GPUs free in `free`: (tie-break key, the lowest g free GPUs there).
    Best = the tightest block, then the one in the most-used 2b (then 4b …) block around it."""
    if g == 0:
        return (), 0
    best = None
    for block in blocks(n, g) if free.bit_count() >= g else ():
        inside = free & block.mask
        if inside.bit_count() >= g:
            take = lowest(inside, g)
            left = free & ~take
            key = ((left & block.mask).bit_count(),
                   *((left & m).bit_count() for m in block.enclosing))
            if best is None or key < best[0]:
                best = (key, take)
    return best


def bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def lowest(mask: int, g: int) -> int:
    """The g lowest set bits of mask."""
    out = 0
    for _ in range(g):
        low = mask & -mask
        out, mask = out | low, mask ^ low
    return out


def mask_of(indexes: Iterable[int]) -> int:
    out = 0
    for i in indexes:
        out |= 1 << i
    return out
