"""Keyset pagination over (created_at, id), newest first: a page starts after the last row of
the previous one, so page 1,000 costs what page 1 costs (an index range, never an OFFSET that
reads and throws away every row before it)."""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Select, tuple_

#: What a client is told when a cursor cannot be read: it is opaque, so only ours are valid.
BAD_CURSOR = ("not a cursor this API gave out: pass next_cursor from the previous page "
              "unchanged, or leave cursor out to start again from the newest")

#: Ours are under 100 characters; anything much longer was not made here.
MAX_CURSOR = 512
_ROW_ID = re.compile(r"[\x21-\x7e]{1,40}")


@dataclass(frozen=True)
class Position:
    """The last row a page showed."""

    created_at: datetime
    id: str


class CursorError(ValueError):
    """A cursor that is not one of ours (edited, truncated, from another API)."""


def encode(position: Position) -> str:
    stamp = position.created_at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    raw = json.dumps([stamp, position.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> Position:
    if len(cursor) > MAX_CURSOR:
        raise CursorError(BAD_CURSOR)
    try:
        stamp, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(stamp)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise CursorError(BAD_CURSOR) from None
    # A printable id as the jobs table holds them: a NUL byte would reach PostgreSQL as a 500.
    if not isinstance(row_id, str) or not _ROW_ID.fullmatch(row_id) or created_at.tzinfo is None:
        raise CursorError(BAD_CURSOR)
    return Position(created_at, row_id)


def after(query: Select, created_at, row_id, position: Position) -> Select:
    """`query` narrowed to the rows that sort after `position` newest first. A row-value
    comparison, which PostgreSQL and SQLite both turn into one range of a (…, created_at, id)
    index; `a < x OR (a = x AND b < y)` would make PostgreSQL filter row by row instead."""
    return query.where(tuple_(created_at, row_id) < (position.created_at, position.id))
