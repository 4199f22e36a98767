"""A stop reaches the script when it is announced (issue 12), not at a poll: the supervisor
sleeps until a heartbeat unless the job's stop channel, the script's exit or a SIGTERM wakes it.
Real Redis, real scripts; the poll and the heartbeat are an hour here unless a test says
otherwise, so whatever stops in seconds was woken by the push."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis as redis_lib

from app.services import gang
from app.services.jobs import flag_cancel
from config.keys import (ALLOCATIONS_SET, allocation_key, cancel_key, claim_key, gang_end_key,
                         host_jobs_key, lease_key, preempt_key, stop_channel)
from config.protocol import Allocation, InstanceAssignment, PreemptRequest, TaskSpec
from config.settings import Settings
from tests.conftest import REDIS_URL
from tests.faults.conftest import wait_until
from tests.support.stack import free_port
from workers import process, runner
from workers.claim import announce_stop
from workers.exits import Stop
from workers.host import Host
from workers.process import reap_group
from workers.runner import AttemptRun, _start, _supervise

HOST = "stop-push-test"
HOUR = 3600.0
#: Marks this test's connections to Redis, to count them on the server.
CLIENT_NAME = "trainq-stop-push-test"

SCRIPT = """\
import signal, sys, time
from pathlib import Path

marks = Path(sys.argv[1])
def on_term(*_):
    (marks / "term").write_text(repr(time.time()))
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)
(marks / "ready").write_text("1")
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(autouse=True)
def no_poll(monkeypatch):
    monkeypatch.setattr(runner, "CANCEL_POLL_SECONDS", HOUR)


@pytest.fixture(autouse=True)
def spare_the_stack(monkeypatch):
    """The supervisor runs inside pytest here. After a stop it sweeps every descendant of its
    process (right in a worker's pool process, which runs nothing else), and here that would
    be the suite's live stack. These scripts leave nothing behind to sweep; the sweep itself is
    tested through real workers (tests/test_torchrun.py)."""
    monkeypatch.setattr(process, "kill_descendants", lambda root=None: [])


@pytest.fixture
def supervisor_redis(redis_client):
    """The supervisor's client, as workers.connections makes it, named to be counted."""
    client = redis_lib.Redis.from_url(REDIS_URL, socket_timeout=30, socket_connect_timeout=5,
                                      decode_responses=True, client_name=CLIENT_NAME)
    yield client
    client.close()


class Attempt:
    """One attempt of a fresh job running SCRIPT, supervised in a thread of its own."""

    def __init__(self, tmp_path: Path, redis, heartbeat: float = HOUR, runs_for: float = 600,
                 limit_ms: int | None = None):
        self.redis, self.marks = redis, tmp_path / "marks"
        self.marks.mkdir(parents=True)
        (tmp_path / "term_marker.py").write_text(SCRIPT)
        settings = Settings.from_env({
            "TRAINQ_SCRIPT_ROOT": str(tmp_path), "TRAINQ_VAR_DIR": str(tmp_path / "var"),
            "TRAINQ_HEARTBEAT_SECONDS": str(heartbeat), "TRAINQ_STOP_GRACE_SECONDS": "5"})
        self.job_id = f"job-push-{os.urandom(4).hex()}"
        spec = TaskSpec("term_marker.py", "pytorch", 1, 1, 0, max_running_time_ms=limit_ms,
                        args=(str(self.marks), str(runs_for))).to_wire()
        allocation = Allocation(self.job_id, 1, 1, (InstanceAssignment(0, HOST, ()),))
        self.run = AttemptRun(self.job_id, 1, spec, Host("cpu", (), None, HOST), settings,
                              allocation.to_wire())
        self.proc = _start(self.run)

    def supervise(self) -> Stop:
        try:
            return _supervise(self.run, self.redis, self.proc)
        finally:
            reap_group(self.proc)
            self.proc.stdout.close()
            self.proc.stderr.close()

    def subscribed(self) -> bool:
        return self.redis.pubsub_numsub(stop_channel(self.job_id))[0][1] == 1

    def ready(self) -> bool:
        return (self.marks / "ready").exists() and self.subscribed()

    def signalled_at(self) -> float:
        return float((self.marks / "term").read_text())

    def forget(self) -> None:
        self.redis.delete(cancel_key(self.job_id), preempt_key(self.job_id, 1),
                          gang_end_key(self.job_id, 1), lease_key(self.job_id, 1),
                          claim_key(self.job_id, 1), allocation_key(self.job_id, 1),
                          host_jobs_key(HOST))
        self.redis.zrem(ALLOCATIONS_SET, f"{self.job_id}|1")


def _supervised(attempt: Attempt, stop) -> tuple[Stop, float]:
    """Supervise in a thread, raise the stop once the script runs and the supervisor listens;
    (why supervision ended, seconds from the stop to the script's SIGTERM)."""
    with ThreadPoolExecutor(1) as pool:
        ended = pool.submit(attempt.supervise)
        try:
            wait_until(attempt.ready, timeout=30)
            asked = time.time()
            stop(attempt)
            return ended.result(timeout=30), attempt.signalled_at() - asked
        finally:
            if not ended.done():
                attempt.proc.kill()  # a failed test must not wait out the hour
            attempt.forget()


def _preempt(attempt: Attempt) -> None:
    attempt.redis.set(preempt_key(attempt.job_id, 1), PreemptRequest("a test", 5).to_wire())
    announce_stop(attempt.redis, "preempt", attempt.job_id)


STOPS = {
    "cancel": (lambda a: flag_cancel(a.redis, a.job_id), Stop.CANCELLED),
    "preempt": (_preempt, Stop.PREEMPTED),
    "gang-end": (lambda a: gang.end(a.redis, a.job_id, 1, "instance 1 failed"),
                 Stop.SUPERSEDED),
}


@pytest.mark.parametrize("kind", list(STOPS))
def test_an_announced_stop_reaches_the_script_at_once(tmp_path, supervisor_redis, kind):
    """Poll and heartbeat an hour away: only the announcement can have woken the supervisor."""
    stop, expected = STOPS[kind]
    reason, took = _supervised(Attempt(tmp_path, supervisor_redis), stop)
    assert reason == expected
    print(f"{kind}: stop -> SIGTERM in the script {took * 1000:.1f} ms")
    assert took < 1.0


def test_a_stop_whose_announcement_was_lost_is_honoured_at_the_next_beat(tmp_path,
                                                                         supervisor_redis):
    attempt = Attempt(tmp_path, supervisor_redis, heartbeat=1.5)
    reason, took = _supervised(attempt, lambda a: a.redis.set(cancel_key(a.job_id), "1"))
    assert reason == Stop.CANCELLED
    assert took < 1.5 + 2  # the next beat re-reads the keys (2 s: slack for a loaded machine)


@pytest.fixture
def refusing_redis(tmp_path):
    """The URL of a Redis of its own whose user may not SUBSCRIBE (daemonized: not a child of
    this process)."""
    port, pidfile = free_port(), tmp_path / "redis.pid"
    subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--daemonize",
                    "yes", "--pidfile", str(pidfile), "--dir", str(tmp_path), "--save", "",
                    "--appendonly", "no"], check=True)
    admin = redis_lib.Redis(port=port, decode_responses=True)
    try:
        wait_until(lambda: _answers(admin), timeout=20)
        admin.execute_command("ACL", "SETUSER", "nosub", "on", "nopass", "~*", "&*", "+@all",
                              "-subscribe")
        yield f"redis://nosub@127.0.0.1:{port}/0"
    finally:
        admin.close()
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)


def _answers(client) -> bool:
    try:
        return client.ping()
    except redis_lib.ConnectionError:
        return False


def test_without_pub_sub_the_supervisor_polls_the_keys(tmp_path, refusing_redis, caplog,
                                                       monkeypatch):
    """A Redis that refuses SUBSCRIBE to the worker's user: the attempt runs and stops as before
    announcements existed, and says so once."""
    monkeypatch.setattr(runner, "CANCEL_POLL_SECONDS", 0.2)
    client = redis_lib.Redis.from_url(refusing_redis, decode_responses=True)
    attempt = Attempt(tmp_path, client)
    attempt.subscribed = lambda: True  # it never will be: the point of this test
    with caplog.at_level(logging.WARNING, logger="workers.wakeup"):
        reason, took = _supervised(attempt, lambda a: flag_cancel(a.redis, a.job_id))
    client.close()
    assert reason == Stop.CANCELLED and took < 0.2 + 2
    warned = [r.getMessage() for r in caplog.records if "polls for them" in r.getMessage()]
    assert len(warned) == 1 and attempt.job_id in warned[0] and "'subscribe'" in warned[0]


def test_the_scripts_exit_and_the_time_limit_wake_the_supervisor(tmp_path, supervisor_redis):
    exits = Attempt(tmp_path / "a", supervisor_redis, runs_for=0.3)
    begun = time.monotonic()
    assert exits.supervise() == Stop.EXITED and time.monotonic() - begun < 5
    exits.forget()
    limited = Attempt(tmp_path / "b", supervisor_redis, limit_ms=500)
    begun = time.monotonic()
    assert limited.supervise() == Stop.TIMEOUT and time.monotonic() - begun < 5
    limited.forget()


def test_a_sigterm_to_the_worker_wakes_the_supervisor(tmp_path, supervisor_redis):
    """What workers.tasks does on revoke(terminate=True): its handler wakes the main thread,
    which supervises here."""
    attempt = Attempt(tmp_path, supervisor_redis)

    def terminate_this_process() -> None:
        try:
            wait_until(attempt.ready, timeout=30)
        except AssertionError:
            attempt.proc.kill()  # the test fails, not waiting out the hour
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, lambda *_: attempt.run.stop())
    sender = threading.Thread(target=terminate_this_process)
    try:
        sender.start()
        begun = time.monotonic()
        assert attempt.supervise() == Stop.CANCELLED
        assert time.monotonic() - begun < 10 and attempt.signalled_at()
    finally:
        sender.join()
        signal.signal(signal.SIGTERM, previous)
        attempt.forget()


def test_an_attempt_leaves_no_thread_or_connection_behind(tmp_path, supervisor_redis):
    threads, connections = threading.active_count(), []
    for round_ in range(8):
        attempt = Attempt(tmp_path / str(round_), supervisor_redis)
        _supervised(attempt, lambda a: flag_cancel(a.redis, a.job_id))
        assert not attempt.subscribed() and threading.active_count() == threads
        connections.append(wait_until(lambda: _unsubscribed(supervisor_redis), timeout=5))
    # The client's pool, for the keys, holds one connection for each of its users at once (this
    # test, the supervisor, and a subscription's, reused once given back); a leak adds one for
    # every attempt.
    assert max(connections) <= 3


def _unsubscribed(redis) -> int | None:
    """How many connections this test's client holds, once none of them is a subscription's."""
    ours = [c for c in redis.client_list() if c.get("name") == CLIENT_NAME]
    return len(ours) if all(c["sub"] == "0" for c in ours) and ours else None
