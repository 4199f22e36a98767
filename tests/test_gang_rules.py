"""A multi-host attempt is one job: the consumer's rules for its instances' events, the reaper
watching every instance's lease, per-instance release of GPUs, and how each instance is
launched (real database and Redis; no workers)."""
from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.consumer.reaper import Reaper
from app.models import Job, JobAttempt, JobLogLine
from app.models.base import utcnow
from app.services.events import apply_event
from app.services.transitions import record_creation
from tests.test_events_replay import db  # noqa: F401  (the fixture)
from config.keys import (ALLOCATIONS_SET, CLAIMED_SET, claimed_member, gang_end_key,
                         host_jobs_key, lease_key, parse_claimed_member)
from config.protocol import Allocation, InstanceAssignment, TaskSpec, encode_entry
from workers import allocations
from workers.gang import Gang
from workers.launch import command, gang_env

NOTIFY = "http://receiver.invalid"


@pytest.fixture
def gang_job(db):
    row = Job(id=f"job-gang{time.time_ns()}", name="gang", framework="pytorch",
              script_path="x.py", cpu=1, memory=1, gpu=0, priority=5, pool="cpu",
              queue="train.cpu.p05", status="queued", attempt=1, args=[], envs={},
              created_at=utcnow(), workspace_id=1, instance_count=2, launcher="torchrun")
    with db.write() as session:
        session.add(row)
        session.flush()
        record_creation(session, row, NOTIFY)
    return row


def _event(job, kind, data, rank=0, attempt=1):
    entry = encode_entry(job.id, attempt, kind, data, rank)
    return {**entry, "data": data}


def _apply(db, redis, *events):
    with db.write() as session:
        for event in events:
            apply_event(session, event, NOTIFY, redis=redis)


def _job(db, job_id) -> tuple[Job, list[str], JobAttempt | None]:
    with db.read() as session:
        job = session.get(Job, job_id)
        statuses = [t.to_status for t in job.transitions]
        attempt = job.attempts[0] if job.attempts else None
        session.expunge_all()
        return job, statuses, attempt


def _started(job, rank, host):
    return _event(job, "started", {"worker": host, "gpus": "", "pid": 100 + rank, "rank": rank},
                  rank)


def _finished(job, rank, outcome, code=0, message=None, failure_class=None):
    return _event(job, "finished", {"outcome": outcome, "exit_code": code, "message": message,
                                    "failure_class": failure_class}, rank)


def test_training_once_every_instance_started_completed_once_every_one_completed(
        db, redis_client, gang_job):
    _apply(db, redis_client, _started(gang_job, 0, "ga"))
    assert _job(db, gang_job.id)[0].status == "queued"   # one instance is not the job
    _apply(db, redis_client, _started(gang_job, 1, "gb"), _started(gang_job, 1, "gb"))
    job, statuses, attempt = _job(db, gang_job.id)
    assert job.status == "training" and statuses == ["queued", "training"]
    assert attempt.worker == "0:ga,1:gb" and attempt.pid == 100
    _apply(db, redis_client, _finished(gang_job, 0, "completed"))
    assert _job(db, gang_job.id)[0].status == "training"
    _apply(db, redis_client, _finished(gang_job, 1, "completed"))
    job, statuses, attempt = _job(db, gang_job.id)
    assert statuses == ["queued", "training", "completed"]
    assert [(i["rank"], i["outcome"]) for i in attempt.instance_list] == \
        [(0, "completed"), (1, "completed")]


def test_the_first_failed_instance_fails_the_job_and_ends_the_others(db, redis_client, gang_job):
    _apply(db, redis_client, _started(gang_job, 0, "ga"), _started(gang_job, 1, "gb"),
           _finished(gang_job, 1, "failed", 1, "the script exited with 1", "user_error"),
           _finished(gang_job, 0, "completed"))   # too late: the job already failed
    job, statuses, attempt = _job(db, gang_job.id)
    assert statuses == ["queued", "training", "failed"]
    assert job.failure_message == "instance 1 of 2: the script exited with 1"
    assert attempt.failure_class == "user_error"
    assert "instance 1 of 2" in redis_client.get(gang_end_key(gang_job.id, 1))


def test_epochs_come_from_rank_0_and_log_lines_keep_their_rank(db, redis_client, gang_job):
    line = {"lines": [{"seq": 1, "stream": "stdout", "line": "hello"}]}
    _apply(db, redis_client, _event(gang_job, "epoch", {"epoch": 1, "extra": {}}, 1),
           _event(gang_job, "log", line, 0), _event(gang_job, "log", line, 1),
           _event(gang_job, "log", line, 1))   # a replay of rank 1's batch
    with db.read() as session:
        ranks = session.scalars(select(JobLogLine.rank).where(JobLogLine.job_id == gang_job.id))
        assert sorted(ranks) == [0, 1]
    from app.models import JobMetric
    with db.read() as session:
        assert not session.scalars(select(JobMetric).where(JobMetric.job_id == gang_job.id)).all()


def test_the_reaper_retries_the_whole_gang_when_one_instance_goes_silent(
        db, redis_client, gang_job, settings):
    _apply(db, redis_client, _started(gang_job, 0, "ga"), _started(gang_job, 1, "gb"))
    now = int(redis_client.time()[0])
    redis_client.set(lease_key(gang_job.id, 1, 0), f"ga/pid1|{now + 3600}")   # alive
    redis_client.set(lease_key(gang_job.id, 1, 1), f"gb/pid2|{now - 3600}")   # long silent
    redis_client.zadd(CLAIMED_SET, {claimed_member(gang_job.id, 1, r): now for r in (0, 1)})
    runtime = SimpleNamespace(db=db, settings=settings)
    try:
        handled = Reaper(runtime, redis_client).run_once()
        assert (gang_job.id, "retried") in handled
        job, statuses, attempt = _job(db, gang_job.id)
        assert job.attempt == 2 and statuses == ["queued", "training", "queued"]
        assert attempt.failure_class == "worker_lost" and "(instance 1 of 2)" in attempt.message
        assert redis_client.get(gang_end_key(gang_job.id, 1))   # ga's instance stops now
        assert redis_client.zscore(CLAIMED_SET, claimed_member(gang_job.id, 1, 1)) is None
    finally:
        redis_client.zrem(CLAIMED_SET, *(claimed_member(gang_job.id, 1, r) for r in (0, 1)))


def _leases(redis_client, job, **by_rank):
    """Set each instance's lease: "alive", "silent" (long past) or "done"."""
    now = int(redis_client.time()[0])
    for name, state in by_rank.items():
        rank = int(name[1:])
        at = {"alive": now + 3600, "silent": now - 3600, "done": now}[state]
        value = f"h{rank}/pid|{at}" if state != "done" else "done|0"
        redis_client.set(lease_key(job.id, 1, rank), value)
    redis_client.zadd(CLAIMED_SET, {claimed_member(job.id, 1, r): now for r in (0, 1)})


def _sweep(db, redis_client, settings, job):
    try:
        return Reaper(SimpleNamespace(db=db, settings=settings), redis_client).run_once()
    finally:
        redis_client.zrem(CLAIMED_SET, *(claimed_member(job.id, 1, r) for r in (0, 1)))


def test_a_failure_echoing_a_lost_host_retries_the_gang(db, redis_client, gang_job, settings):
    """gb's worker dies; the rank on ga fails at once (its peer is gone) and says so before
    gb's lease runs out. That is a lost host, not the script's fault: the attempt is retried."""
    _apply(db, redis_client, _started(gang_job, 0, "ga"), _started(gang_job, 1, "gb"),
           _finished(gang_job, 0, "failed", 1, "gloo: connection closed by peer", "user_error"))
    job, statuses, _ = _job(db, gang_job.id)
    assert job.status == "training" and statuses == ["queued", "training"]   # not yet a verdict
    assert redis_client.get(gang_end_key(gang_job.id, 1))   # yet gb's instance stops, if alive
    _leases(redis_client, gang_job, r0="done", r1="silent")
    assert (gang_job.id, "retried") in _sweep(db, redis_client, settings, gang_job)
    job, statuses, attempt = _job(db, gang_job.id)
    assert job.attempt == 2 and statuses == ["queued", "training", "queued"]
    assert attempt.failure_class == "worker_lost" and "(instance 1 of 2)" in attempt.message


def test_a_failure_stands_once_no_instance_was_lost(db, redis_client, gang_job, settings):
    _apply(db, redis_client, _started(gang_job, 0, "ga"), _started(gang_job, 1, "gb"),
           _finished(gang_job, 0, "failed", 3, "ValueError: bad shape", "user_error"))
    _leases(redis_client, gang_job, r0="done", r1="alive")   # gb still stopping
    assert _sweep(db, redis_client, settings, gang_job) == []
    assert _job(db, gang_job.id)[0].status == "training"
    _leases(redis_client, gang_job, r0="done", r1="done")    # gb stopped (ended by its gang)
    assert (gang_job.id, "failed") in _sweep(db, redis_client, settings, gang_job)
    job, statuses, attempt = _job(db, gang_job.id)
    assert statuses == ["queued", "training", "failed"]
    assert job.failure_message == "instance 0 of 2: ValueError: bad shape"
    assert (attempt.failure_class, attempt.exit_code) == ("user_error", 3)


def test_claimed_members_name_their_instance():
    assert claimed_member("j", 3) == "j|3" and claimed_member("j", 3, 2) == "j|3|2"
    assert parse_claimed_member("j|3") == ("j", 3, 0)
    assert parse_claimed_member("j|3|2") == ("j", 3, 2)
    assert parse_claimed_member("j|x") is None


def test_an_instance_gives_back_its_host_and_the_last_one_the_allocation(redis_client):
    job_id = f"job-rel{time.time_ns()}"
    gang = Allocation(job_id, 1, 0, (InstanceAssignment(0, "rel-a", ("0",)),
                                     InstanceAssignment(1, "rel-b", ("1",))))
    member = claimed_member(job_id, 1)
    redis_client.set(f"trainq:alloc:{job_id}:1", gang.to_wire())
    redis_client.zadd(ALLOCATIONS_SET, {member: 1})
    redis_client.hset(host_jobs_key("rel-a"), member, "0")
    redis_client.hset(host_jobs_key("rel-b"), member, "1")
    assert allocations.release_instance(redis_client, gang, "rel-b")
    assert not redis_client.hexists(host_jobs_key("rel-b"), member)
    assert redis_client.hexists(host_jobs_key("rel-a"), member)   # rank 0 still runs there
    assert allocations.current(redis_client, job_id, 1) == gang
    assert allocations.release_instance(redis_client, gang, "rel-a")
    assert allocations.current(redis_client, job_id, 1) is None
    assert redis_client.zscore(ALLOCATIONS_SET, member) is None


def _spec(framework="pytorch", launcher="torchrun", nproc=None) -> TaskSpec:
    return TaskSpec(script_path="t.py", framework=framework, cpu=1, memory=1, gpu=2,
                    launcher=launcher, nproc_per_node=nproc)


def test_each_instance_runs_torchrun_with_a_static_rendezvous_at_rank_0():
    gang = Gang(1, ("10.0.0.1:29400", "10.0.0.2:29401"))
    argv = command(_spec(), "t.py", ("0", "1"), gang)
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=10.0.0.1", "--master-port=29400",
            "--nproc-per-node=2", "--max-restarts=0"} <= set(argv)
    assert "--standalone" not in argv
    assert gang_env(_spec(), gang) == {"TRAINQ_NODE_RANK": "1", "TRAINQ_NUM_NODES": "2"}


def test_a_tensorflow_instance_gets_tf_config_naming_every_worker():
    gang = Gang(1, ("10.0.0.1:2222", "10.0.0.2:2223"))
    env = gang_env(_spec("tensorflow", "python"), gang)
    assert json.loads(env["TF_CONFIG"]) == {
        "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2223"]},
        "task": {"type": "worker", "index": 1}}
    assert command(_spec("tensorflow", "python"), "t.py", (), gang) == [sys.executable, "t.py"]
