"""A long history of jobs, inserted directly with SQLAlchemy core: what months of a busy queue
leave behind, for the list/detail/log query plans (tests) and their timings (bench)."""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from app.models import (Job, JobAttempt, JobLogLine, JobMetric, JobTransition, Membership, User,
                        Workspace)
from app.services.keyset import Position

#: Mostly finished work, some of it waiting or running, as a queue looks after months.
STATUS_WEIGHTS = {"completed": 60, "failed": 15, "cancelled": 10, "queued": 8, "training": 7}
TERMINAL = {"completed", "failed", "cancelled"}
#: Every BATCH_EVERY-th stretch of BATCH_SIZE jobs was submitted as one sweep.
BATCH_SIZE, BATCH_EVERY = 50, 20
CHUNK = 2000  # rows per INSERT: big enough to be quick, small enough for every driver


@dataclass(frozen=True)
class History:
    workspace_ids: list[int]
    batch_ids: list[str]
    #: A job with transitions, an attempt, metrics and log lines: the detail and log reads.
    busy_job_id: str
    #: A viewer of the first two workspaces (the list as a non-admin sees it).
    member_id: int
    admin_id: int


def insert_history(db, jobs: int, *, workspaces: int = 4, lines: int = 200,
                   seed: int = 7) -> History:
    """`jobs` jobs, one every 30 s back from now, spread over `workspaces` new workspaces; each
    tenth has 10 epochs of metrics and every hundredth `lines` log lines."""
    rng, now, tag = random.Random(seed), datetime.now(timezone.utc), secrets.token_hex(4)
    with db.write() as session:
        ws = [_add(session, Workspace(name=f"history-{tag}-{i}")) for i in range(workspaces)]
        admin = _add(session, User(username=f"history-admin-{tag}", password_hash="-",
                                   is_admin=True))
        member = _add(session, User(username=f"history-member-{tag}", password_hash="-"))
        session.add_all([Membership(workspace_id=w.id, user_id=member.id, role="viewer")
                         for w in ws[:2]])
    rows = [_job(rng, i, now - timedelta(seconds=30 * (jobs - i)), ws, tag) for i in range(jobs)]
    _insert(db, Job, rows)
    _insert(db, JobTransition, [t for row in rows for t in _transitions(row)])
    _insert(db, JobAttempt, [_attempt(row) for row in rows if row["started_at"]])
    _insert(db, JobMetric, [m for row in rows[::10] if row["started_at"] for m in _epochs(row)])
    busy = next(row for row in reversed(rows) if row["started_at"])
    logged = [busy] + [row for row in rows[::100] if row["started_at"] and row is not busy]
    _insert(db, JobLogLine, [line for row in logged for line in _log_lines(row, lines)])
    batches = sorted({row["batch_id"] for row in rows if row["batch_id"]})
    return History([w.id for w in ws], batches, busy["id"], member.id, admin.id)


def position_at(db, depth: float):
    """The keyset position `depth` (0 to 1) of the way down the whole list, newest first."""
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(Job))
        row = session.execute(select(Job.created_at, Job.id).order_by(
            Job.created_at.desc(), Job.id.desc()).offset(int(count * depth)).limit(1)).one()
    return Position(row.created_at, row.id)


def analyze(db) -> None:
    """Planner statistics as autovacuum leaves them after a bulk load (SQLite needs none)."""
    if db.is_sqlite:
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def _add(session, row):
    session.add(row)
    session.flush()
    return row


def _insert(db, model, rows: list[dict]) -> None:
    for first in range(0, len(rows), CHUNK):
        with db.write() as session:
            session.execute(insert(model), rows[first:first + CHUNK])


def _job(rng: random.Random, i: int, created: datetime, ws: list, tag: str) -> dict:
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    started = created + timedelta(seconds=rng.randint(1, 600)) if status != "queued" else None
    finished = started + timedelta(minutes=rng.randint(1, 600)) if status in TERMINAL else None
    stretch = i // BATCH_SIZE
    return {"id": f"job-{tag}{i:08x}", "name": f"train-{i % 37}",
            "workspace_id": ws[i % len(ws)].id,
            "framework": "pytorch", "script_path": "train.py", "args": ["--lr", "0.01"],
            "envs": {}, "cpu": 4, "memory": 16 << 30, "gpu": rng.choice((0, 1, 1, 2, 8)),
            "priority": rng.randint(0, 10), "pool": "gpu", "queue": "train.gpu.p05",
            "status": status, "attempt": 1, "created_at": created, "updated_at": created,
            "started_at": started, "finished_at": finished,
            "batch_id": f"batch-{tag}{stretch:08x}" if stretch % BATCH_EVERY == 0 else None}


def _transitions(row: dict) -> list[dict]:
    steps = [(None, "queued", row["created_at"])]
    if row["started_at"]:
        steps.append(("queued", "training", row["started_at"]))
    if row["finished_at"]:
        steps.append(("training", row["status"], row["finished_at"]))
    return [{"job_id": row["id"], "attempt": 1, "from_status": before, "to_status": after,
             "at": at} for before, after, at in steps]


def _attempt(row: dict) -> dict:
    return {"job_id": row["id"], "number": 1, "worker": "host-1", "gpus": "0",
            "started_at": row["started_at"], "finished_at": row["finished_at"],
            "exit_code": 0 if row["status"] == "completed" else None}


def _epochs(row: dict) -> list[dict]:
    return [{"job_id": row["id"], "attempt": 1, "epoch": epoch, "total_epochs": 10,
             "loss": 1 / epoch, "extra": {}, "reported_at": row["started_at"]}
            for epoch in range(1, 11)]


def _log_lines(row: dict, count: int) -> list[dict]:
    return [{"job_id": row["id"], "attempt": 1, "rank": 0, "seq": seq, "stream": "stdout",
             "line": f"step {seq} loss {1 / seq:.4f}",
             "at": row["started_at"] + timedelta(milliseconds=seq)} for seq in range(1, count + 1)]
