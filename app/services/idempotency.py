"""Idempotency-Key for job submission: a client retry never creates a second GPU job."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from app.errors import Conflict, InvalidInput
from app.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def request_hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(errors={"Idempotency-Key": [
            f"must be 1 to {MAX_KEY_LENGTH} characters (e.g. a UUID per logical request)"]})
    return key


def find_replay(session, user_id: int | None, key: str, digest: str) -> str | None:
    """The job id already created with this key and body; Conflict if the body differs."""
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                      IdempotencyKey.key == key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise Conflict(f"Idempotency-Key {key!r} was already used with a different request "
                       "body; use a new key for a new job")
    return row.job_id


def remember(session, user_id: int | None, key: str, digest: str, job_id: str) -> None:
    session.add(IdempotencyKey(user_id=user_id, key=key, request_hash=digest, job_id=job_id))
