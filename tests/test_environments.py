"""Runtime environments without a cluster: `trainq worker --env` checks, the host registry, the
placer's filter and queue reasons, preemption, and how the worker starts a script with them.
The live run is tests/test_environments_live.py."""
from __future__ import annotations

import sys

import pytest
import redis as redis_lib

from app.cli import _worker_host, build_parser
from app.scheduler.model import RunningJob
from app.scheduler.policy import HostView, PendingJob, Reason, plan
from app.scheduler.preempt import Candidate, choose
from config.keys import EVENTS_STREAM, HOSTS_SET, host_key
from config.protocol import (Allocation, FailureClass, InstanceAssignment, Launcher, Outcome,
                             TaskSpec, decode_entry)
from config.settings import Settings, SettingsError
from tests.conftest import REDIS_URL
from workers import launch
from workers.environments import UnknownEnvironment
from workers.events import EventPublisher
from workers.gang import Gang
from workers.host import Host
from workers.hosts import read_hosts, register
from workers.runner import AttemptRun, _run_claimed, _start

IDS = ("0", "1")
ALT = frozenset({"default", "alt"})


def host(name, envs=frozenset({"default"}), *, schedulable=True, live=True, gpus=IDS):
    return HostView(name, gpus, frozenset(gpus), 2, 2, schedulable, envs, live)


def job(id, env="default", gpus=1, instances=1, priority=5):
    return PendingJob(id, "ws", priority, gpus, 0.0, None, instances, env)


def placed(result):
    return {p.job_id: sorted(i.host for i in p.instances) for p in result.placements}


def entry(result, job_id):
    return next(e for e in result.queue if e.job_id == job_id)


# --- the placer --------------------------------------------------------------------------------

def test_a_job_goes_only_to_a_host_with_its_environment():
    hosts = [host("a"), host("b", ALT)]   # alike but for alt: the name decides between them
    assert placed(plan(0, hosts, [], [job("plain")])) == {"plain": ["a"]}
    assert placed(plan(0, hosts, [], [job("alt", "alt")])) == {"alt": ["b"]}


def test_every_instance_of_a_gang_needs_the_environment():
    hosts = [host("a", ALT), host("b"), host("c", ALT)]
    assert placed(plan(0, hosts, [], [job("g", "alt", instances=2)])) == {"g": ["a", "c"]}
    short = plan(0, hosts, [], [job("g3", "alt", instances=3)])
    assert not short.placements
    assert entry(short, "g3").reason == Reason.TOO_BIG
    assert 'the pool has 2 with runtime environment "alt"' in entry(short, "g3").message


def test_no_live_host_with_the_environment_is_the_queue_reason():
    hosts = [host("a"), host("b", ALT, schedulable=False, live=False)]   # b is offline
    result = plan(0, hosts, [], [job("m", "missing"), job("offline", "alt")])
    for job_id, env in (("m", "missing"), ("offline", "alt")):
        found = entry(result, job_id)
        assert found.reason == Reason.NO_ENVIRONMENT and found.eta_seconds is None
        assert f'runtime environment "{env}"' in found.message
        assert f"--env {env}=/path/to/python" in found.message


def test_a_draining_host_with_the_environment_means_waiting_for_it():
    result = plan(0, [host("a"), host("b", ALT, schedulable=False)], [], [job("j", "alt")])
    assert entry(result, "j").reason == Reason.DRAINING


def test_the_default_environment_is_everywhere_even_offline():
    result = plan(0, [host("a", schedulable=False, live=False)], [], [job("j")])
    assert entry(result, "j").reason == Reason.DRAINING


def test_a_busy_environment_host_is_waited_for_not_replaced():
    busy = RunningJob("r", {"b": IDS}, 100.0)
    hosts = [host("a"), HostView("b", IDS, frozenset(), 2, 1, True, ALT)]
    result = plan(0, hosts, [busy], [job("j", "alt")])
    assert not result.placements
    found = entry(result, "j")
    assert found.reason == Reason.WAITING_FOR_GPUS and found.eta_seconds == pytest.approx(100.0)


def test_preemption_frees_gpus_only_on_hosts_with_the_environment():
    hosts = [HostView(n, IDS, frozenset(), 2, 1, True, envs) for n, envs in
             (("a", frozenset({"default"})), ("b", ALT))]
    victims = [Candidate(f"low-{n}", n, IDS, 1, True, 10.0 + (n == "b")) for n in ("a", "b")]
    chosen = choose(job("urgent", "alt", gpus=2, priority=9), hosts, victims)
    assert chosen is not None and chosen.host == "b" and chosen.victims == ("low-b",)
    assert choose(job("nowhere", "missing", gpus=2, priority=9), hosts, victims) is None


# --- `trainq worker --env` and the registry ----------------------------------------------------

def _host(*argv: str) -> Host:
    args = build_parser().parse_args(["worker", "--pool", "cpu", "--name", "h", *argv])
    return _worker_host(args, Settings.from_env({}))


def test_worker_envs_default_to_its_own_python_and_take_named_ones(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    assert _host().envs == {"default": sys.executable}
    envs = _host("--env", f"torch2.1_x-y={python}", "--env", f"default={python}").envs
    assert envs == {"default": str(python), "torch2.1_x-y": str(python)}


@pytest.mark.parametrize("value, says", [
    ("torch2", "--env takes NAME=PATH"), ("torch2=", "--env takes NAME=PATH"),
    ("bad name=/bin/sh", "is not one trainq can use"), ("-x=/bin/sh", "is not one trainq"),
    ("x" * 65 + "=/bin/sh", "at most 64"), ("t=/no/such/python", "is not an executable file"),
    ("t=/tmp", "is not an executable file"), ("t=plain.txt", "is not an executable file")])
def test_worker_refuses_a_bad_env(value, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.txt").write_text("not a program\n")   # no execute bit
    with pytest.raises(SettingsError, match=says):
        _host(f"--env={value}")


def test_worker_refuses_an_env_named_twice():
    with pytest.raises(SettingsError, match="names 'a' twice"):
        _host("--env", "a=/bin/sh", "--env", "a=/bin/sh")


def test_the_registry_carries_the_names_and_the_celery_worker_the_paths(redis_client,
                                                                         monkeypatch):
    envs = {"default": sys.executable, "alt": "/bin/sh"}
    register(redis_client, Host("cpu", (), None, "env-host", envs=envs))
    redis_client.hset(host_key("old-host"), mapping={"pool": "cpu", "seen": 1})
    redis_client.sadd(HOSTS_SET, "old-host")   # registered by a worker from before --env
    try:
        _, records = read_hosts(redis_client)
    finally:   # offline hosts stay in the pool: later tests' queue answers would count them
        redis_client.srem(HOSTS_SET, "env-host", "old-host")
        redis_client.delete(host_key("env-host"), host_key("old-host"))
    found = {record.name: record.envs for record in records}
    assert found["env-host"] == ("alt", "default") and found["old-host"] == ("default",)
    for name, value in Host("cpu", (), None, "h", envs=envs).env().items():
        monkeypatch.setenv(name, value)   # what `trainq worker` hands its Celery worker
    assert Host.from_env().envs == envs


# --- the worker starts the script with the environment's python --------------------------------

def test_the_launch_command_uses_the_interpreter():
    spec = TaskSpec("train.py", "pytorch", 1, 1, 0, args=("--x",))
    assert launch.command(spec, "s.py", (), python="/py") == ["/py", "s.py", "--x"]
    torchrun = TaskSpec("train.py", "pytorch", 1, 1, 0, launcher=Launcher.TORCHRUN)
    gang = Gang(1, ("127.0.0.1:5000", "127.0.0.1:5001"))
    argv = launch.command(torchrun, "s.py", (), gang, python="/py")
    assert argv[:3] == ["/py", "-m", "torch.distributed.run"] and argv[-1] == "s.py"


@pytest.fixture
def unconsumed_redis():
    """A Redis database no result consumer reads: the event stays there for the test to see
    (the suite's consumer deletes each event it has handled)."""
    client = redis_lib.Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/8", decode_responses=True)
    client.delete(EVENTS_STREAM)
    yield client
    client.delete(EVENTS_STREAM)
    client.close()


def test_an_environment_the_host_lacks_fails_the_attempt_as_a_setup_error(tmp_path,
                                                                           unconsumed_redis):
    (tmp_path / "train.py").write_text("print('never')\n")
    settings = Settings.from_env({"TRAINQ_SCRIPT_ROOT": str(tmp_path),
                                  "TRAINQ_VAR_DIR": str(tmp_path / "var")})
    spec = TaskSpec("train.py", "pytorch", 1, 1, 0, env_id="torch9").to_wire()
    allocation = Allocation("job-env", 1, 1, (InstanceAssignment(0, "test", ()),)).to_wire()
    run = AttemptRun("job-env", 1, spec, Host("cpu", (), None, "test"), settings, allocation)
    with pytest.raises(UnknownEnvironment, match=r"host test has no runtime environment "
                       r"'torch9' \(it has: default\); restart its worker with --env torch9="):
        _start(run)
    events = EventPublisher(unconsumed_redis, "job-env", 1)
    assert _run_claimed(run, unconsumed_redis, events) == Outcome.FAILED
    (_, fields), = unconsumed_redis.xrevrange(EVENTS_STREAM, count=1)
    finished = decode_entry(fields)["data"]
    assert finished["failure_class"] == FailureClass.SETUP_ERROR
    assert "no runtime environment 'torch9'" in finished["message"]
