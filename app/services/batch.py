"""Batch submission (a sweep): up to MAX_BATCH jobs validated all-or-nothing and recorded in one
transaction under one batch id, then one wake-up for the scheduler. Each job is built and
checked exactly as a single submission is (services.jobs); only the counting is per batch."""
from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

from sqlalchemy import select

from app.errors import DomainError, InvalidInput
from app.models import Job
from app.services import access, datasets, idempotency, jobs
from app.services.quotas import check_quotas
from app.services.transitions import record_creation

MAX_BATCH = 1000


#: What new_batch_id makes; a filter for anything else is refused before it reaches the database.
BATCH_ID = r"^batch-[0-9a-f]{16}$"


def new_batch_id() -> str:
    return f"batch-{secrets.token_hex(8)}"


def submit_batch(runtime, items: list[dict[str, Any]], user_id: int | None,
                 idempotency_key: str | None = None) -> tuple[list[Job], bool]:
    """The recorded jobs in the order given, and whether the Idempotency-Key replayed them."""
    body = {"jobs": items}
    if idempotency_key is not None:
        replayed = _replay(runtime, user_id, idempotency_key, body)
        if replayed:
            return replayed, True
    built = _build_all(runtime.settings, items, user_id)
    batch_id = new_batch_id()
    jobs.require_redis(runtime)
    with runtime.db.write() as session:
        _place_all(session, built, items, user_id)
        for job in built:
            job.batch_id = batch_id
        session.add_all(built)
        session.flush()
        for job in built:
            record_creation(session, job, runtime.settings.notify_url)
        if idempotency_key is not None:
            idempotency.remember(session, user_id, idempotency_key,
                                 idempotency.request_hash(body), built[0].id)
    jobs.wake(runtime, *sorted({job.pool for job in built}))
    return built, False


def _build_all(settings, items, user_id) -> list[Job]:
    """Every job checked before any is recorded: the errors of all of them at once, each under
    `jobs[i].<field>`."""
    built, errors = [], {}
    for index, item in enumerate(items):
        try:
            built.append(jobs.build_job(settings, item, user_id))
        except InvalidInput as exc:
            errors.update({f"jobs[{index}].{name}": problems
                           for name, problems in (exc.errors or {}).items()})
    if errors:
        raise InvalidInput("no job of the batch was created; fix these and send it again",
                           errors=errors)
    return built


def _place_all(session, built: list[Job], items, user_id) -> None:
    """Workspaces, quotas (the whole batch counted at once) and datasets, in the transaction."""
    workspaces = {}
    for index, (job, item) in enumerate(zip(built, items)):
        key = item.get("workspace_id")
        try:
            if key not in workspaces:
                workspaces[key] = access.submit_workspace(session, user_id, key)
            job.workspace_id = workspaces[key].id
            if job.dataset_id is not None:
                job.datasets = datasets.resolve(session, [job.dataset_id])
        except DomainError as exc:
            raise _at(exc, index) from None
    adding = Counter(job.workspace_id for job in built)
    for workspace in {w.id: w for w in workspaces.values()}.values():
        widest = max(job.gpu * job.instance_count for job in built
                     if job.workspace_id == workspace.id)
        check_quotas(session, workspace, widest, adding=adding[workspace.id])


def _at(error: DomainError, index: int) -> DomainError:
    """The same error, saying which job of the batch it is about."""
    error.message = f"jobs[{index}]: {error.message}"
    if error.errors:
        error.errors = {f"jobs[{index}].{name}": p for name, p in error.errors.items()}
    return error


def _replay(runtime, user_id, key: str, body) -> list[Job]:
    idempotency.check_key(key)
    with runtime.db.read() as session:
        first = idempotency.find_replay(session, user_id, key, idempotency.request_hash(body))
        if first is None:
            return []
        batch_id = session.scalar(select(Job.batch_id).where(Job.id == first))
        return list(session.scalars(select(Job).where(Job.batch_id == batch_id)
                                    .order_by(Job.created_at, Job.id)))
