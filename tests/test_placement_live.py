"""The placer on a live cluster: 4 hosts x 8 fake GPUs, real API, scheduler, workers and
training subprocesses. Mixed 1/2/4/8-GPU jobs share hosts without a GPU ever given twice, GPUs
stay busy while work waits, priorities hold, a standby scheduler takes over from a dead
leader without leaking or doubling anything, and an urgent job preempts a checkpointing one,
which resumes where it stopped."""
from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.models import Job
from config.keys import ALLOCATIONS_SET, SCHEDULER_EPOCH, host_jobs_key
from config.protocol import Allocation, InstanceAssignment
from tests.conftest import ADMIN_PASSWORD
from tests.faults.conftest import wait_until
from tests.support.client import ApiClient
from tests.support.cluster import private_cluster
from tests.support.passes import only_on
from workers import allocations

pytestmark = pytest.mark.placement

HOSTS, GPUS_PER_HOST, LOCK_SECONDS, PREEMPT_AFTER = ("pa", "pb", "pc", "pd"), 8, 3, 2
SIZES, WEIGHTS = (1, 2, 4, 8), (0.4, 0.3, 0.2, 0.1)
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, script_root):
    hosts = {name: ("pack", f"0-{GPUS_PER_HOST - 1}", ()) for name in HOSTS}
    with private_cluster(tmp_path_factory, script_root, "place", hosts,
                         TRAINQ_POOLS="cpu=0,pack=8", TRAINQ_HEARTBEAT_SECONDS="1",
                         TRAINQ_SCHEDULER_LOCK_SECONDS=str(LOCK_SECONDS),
                         TRAINQ_AGING_SECONDS="0", TRAINQ_API_WORKERS="2",
                         TRAINQ_PREEMPT_AFTER_SECONDS=str(PREEMPT_AFTER),
                         TRAINQ_PREEMPT_GRACE_SECONDS="20") as stack:
        try:
            yield stack
        finally:
            figures = Path(stack.env["TRAINQ_VAR_DIR"]) / "placement-figures.json"
            figures.write_text(json.dumps(FIGURES, indent=2))
            print(f"\nlive placement figures ({figures}): {json.dumps(FIGURES, indent=2)}")


@pytest.fixture(scope="module")
def client(cluster) -> ApiClient:
    return ApiClient.login(cluster.base_url, "admin", ADMIN_PASSWORD)


def _submit_mix(client: ApiClient, record: Path, count: int, seed: int,
                seconds: tuple[float, float]) -> dict[str, dict]:
    rng = random.Random(seed)
    jobs = {}
    for _ in range(count):
        gpus = rng.choices(SIZES, WEIGHTS)[0]
        priority = rng.choice((2, 5, 8))
        # Not preemptible: these runs measure packing (the last test measures preemption).
        job_id = client.submit_ok(script_path="gpu_record.py", gpu=gpus, pool="pack",
                                  priority=priority, preemptible=False,
                                  args=[str(record), f"{rng.uniform(*seconds):.2f}"])
        jobs[job_id] = {"gpus": gpus, "priority": priority}
    return jobs


def _records(record: Path) -> list[dict]:
    """Every complete line: a script may be appending the last one while this reads (CI once
    parsed half a line), and a line counts once its newline is there."""
    text = record.read_text() if record.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def _wait_all_recorded(record: Path, count: int, timeout: float) -> list[dict]:
    wait_until(lambda: len(_records(record)) >= count, timeout=timeout, interval=0.5)
    return _records(record)


def _clashes(records: list[dict]) -> list[tuple[str, str, str, str]]:
    """Pairs of jobs that held the same GPU of the same host at overlapping times."""
    by_gpu: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for r in records:
        for gpu in r["gpus"].split(","):
            by_gpu.setdefault((r["host"], gpu), []).append((r["start"], r["end"], r["job"]))
    clashes = []
    for (host, gpu), spans in by_gpu.items():
        spans.sort()
        for (_, end, job), (start, _, other) in zip(spans, spans[1:]):
            if start < end:
                clashes.append((host, gpu, job, other))
    return clashes


def _busy_while_backlog(records: list[dict]) -> float:
    """GPU-seconds used between the first start and the last start (work was waiting all
    along) over the GPU-seconds the cluster had then."""
    first, last = min(r["start"] for r in records), max(r["start"] for r in records)
    used = sum((min(r["end"], last) - max(r["start"], first)) * len(r["gpus"].split(","))
               for r in records if r["end"] > first and r["start"] < last)
    return used / ((last - first) * len(HOSTS) * GPUS_PER_HOST)


def _dispatch_times(env: dict, ids) -> dict[str, tuple[float, float]]:
    """Job id -> (submitted, placed) as the database records them."""
    engine = create_engine(env["TRAINQ_DATABASE_URL"])
    try:
        with Session(engine) as session:
            rows = session.execute(select(Job.id, Job.created_at, Job.published_at)
                                   .where(Job.id.in_(list(ids))))
            return {r.id: (r.created_at.timestamp(), r.published_at.timestamp()) for r in rows}
    finally:
        engine.dispose()


def _priority_inversions(jobs: dict[str, dict], times: dict[str, tuple[float, float]]) -> list:
    """A job placed before a same-size job of higher priority that was already waiting."""
    margin = 0.5   # a job created this close to a cycle may not have been committed yet
    inversions = []
    for low, lo in jobs.items():
        for high, hi in jobs.items():
            if hi["gpus"] == lo["gpus"] and hi["priority"] > lo["priority"] \
                    and times[high][0] < times[low][1] - margin \
                    and times[high][1] > times[low][1]:
                inversions.append((high, low))
    return inversions


def _assert_nothing_held(redis) -> None:
    wait_until(lambda: redis.zcard(ALLOCATIONS_SET) == 0, timeout=30)
    for host in HOSTS:
        assert redis.hlen(host_jobs_key(host)) == 0, host


@only_on("postgres", "the 400-job load proof (2.5 minutes) is about the placer, not the database; "
                     "it runs on the one production deployments use")
def test_400_mixed_jobs_share_4_hosts_of_8_gpus(cluster, client, tmp_path):
    record = tmp_path / "gpus.jsonl"
    started = time.monotonic()
    jobs = _submit_mix(client, record, 400, seed=8, seconds=(2.0, 6.0))
    records = _wait_all_recorded(record, len(jobs), timeout=600)
    FIGURES["jobs"], FIGURES["wall_seconds"] = len(records), round(time.monotonic() - started, 1)
    kept = Path(cluster.env["TRAINQ_VAR_DIR"]) / "placement-live.jsonl"
    kept.write_text(record.read_text())   # for scripts/host_timeline.py
    FIGURES["record"] = str(kept)
    assert sorted(r["job"] for r in records) == sorted(jobs)   # each ran, and exactly once
    for r in records:
        gpus = [int(g) for g in r["gpus"].split(",")]
        assert len(gpus) == jobs[r["job"]]["gpus"] and r["host"] in HOSTS
        assert gpus == list(range(gpus[0], gpus[0] + len(gpus))) and gpus[0] % len(gpus) == 0
    assert _clashes(records) == []
    busy = FIGURES["busy_while_backlog"] = round(_busy_while_backlog(records), 3)
    assert busy >= 0.85, f"GPUs busy {busy:.2f} of the time while jobs waited"
    assert _priority_inversions(jobs, _dispatch_times(cluster.env, jobs)) == []
    for job_id in random.Random(1).sample(sorted(jobs), 20):
        assert client.job(job_id)["status"] == "completed"
    _assert_nothing_held(cluster.redis)


def test_standby_takes_over_from_a_killed_leader_without_leaks(cluster, client, tmp_path):
    standby = cluster.start("scheduler-standby")   # returns once it says it stands by
    old_epoch = int(cluster.redis.get(SCHEDULER_EPOCH))
    record = tmp_path / "gpus.jsonl"
    jobs = _submit_mix(client, record, 40, seed=9, seconds=(0.5, 1.5))
    wait_until(lambda: len(_records(record)) >= 5, timeout=60, interval=0.1)
    killed_at = time.monotonic()
    cluster.kill("scheduler", signal.SIGKILL)   # in the middle of placing the burst
    wait_until(lambda: "leading with epoch" in standby.log(), timeout=LOCK_SECONDS + 5,
               interval=0.05)
    FIGURES["takeover_seconds"] = round(time.monotonic() - killed_at, 2)
    records = _wait_all_recorded(record, len(jobs), timeout=180)
    assert sorted(r["job"] for r in records) == sorted(jobs)   # none lost, none twice
    assert _clashes(records) == []
    assert all(client.job(j)["attempt"] == 1 for j in jobs)
    _assert_nothing_held(cluster.redis)
    # The dead leader's epoch can place nothing any more.
    stale = Allocation("job-stale", 1, old_epoch, (InstanceAssignment(0, HOSTS[0], ("0",)),))
    assert allocations.reserve(cluster.redis, stale, 30) == allocations.STALE_EPOCH


def test_an_urgent_job_preempts_a_checkpointing_one_which_resumes(cluster, client, tmp_path):
    go = tmp_path / "go"
    blockers = [client.submit_ok(script_path="wait_for_file.py", args=[str(go), "300"], gpu=8,
                                 pool="pack", priority=1, preemptible=False) for _ in range(3)]
    victim = client.submit_ok(script_path="train_pytorch.py", args=["--epochs", "400"], gpu=8,
                              pool="pack", priority=1, fault_tolerance_max_retry=0)
    try:
        for job_id in (*blockers, victim):
            client.wait_status(job_id, "training", timeout=120)
        wait_until(lambda: len(_metrics(client, victim)) >= 3, timeout=120, interval=0.2)
        victim_host = client.job(victim)["attempts"][0]["worker"]
        urgent = client.submit_ok(script_path="sleep_for.py", args=["1"], gpu=8, pool="pack",
                                  priority=9)
        done = client.wait_terminal(urgent, timeout=120)
        assert done["status"] == "completed"
        assert done["attempts"][0]["worker"] == victim_host   # the GPUs held for it
        finished = client.wait_terminal(victim, timeout=300)
    finally:
        go.touch()
    assert finished["status"] == "completed" and finished["attempt"] == 2
    first, second = finished["attempts"]
    assert first["failure_class"] == "preempted" and first["counts_against_retries"] is False
    assert f"job {urgent} (priority 9) needs its GPUs" in first["message"]
    assert [t["to_status"] for t in finished["transitions"]] == \
        ["queued", "training", "queued", "training", "completed"]
    epochs = [(m["attempt"], m["epoch"]) for m in _metrics(client, victim)]
    resumed_at = min(e for a, e in epochs if a == 2)
    assert resumed_at > 1 and resumed_at <= max(e for a, e in epochs if a == 1) + 1
    logs = client.request("GET", f"/api/v1/training/jobs/{victim}/logs",
                          params={"lines": 2000}).json()["data"]["logs"]
    assert any("received SIGTERM, checkpoint saved" in line for line in logs)
    assert any("resumed from checkpoint" in line for line in logs)
    for job_id in blockers:
        assert client.wait_terminal(job_id)["status"] == "completed"


def _metrics(client: ApiClient, job_id: str) -> list[dict]:
    return client.request("GET", f"/api/v1/training/jobs/{job_id}/metrics").json()["data"][
        "metrics"]
