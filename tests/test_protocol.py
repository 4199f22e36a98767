"""The wire protocol: task specs, allocations and leases round-trip, bad input is refused, and
both sides name the same events, outcomes and constants."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from config import protocol
from config.protocol import (PROTOCOL_VERSION, Allocation, EventKind, InstanceAssignment,
                             Launcher,
                             Outcome, ProtocolError, TaskSpec, decode_entry, encode_entry,
                             parse_lease)
from workers import reporting

SPEC = TaskSpec(script_path="train.py", framework="pytorch", cpu=2, memory=1 << 30, gpu=1,
                args=("--lr", "0.1"), envs={"SEED": "1"}, dataset_id=7,
                max_running_time_ms=60_000)
#: A message as Job.task_spec() sent it before the version field existed.
UNVERSIONED = {"script_path": "train.py", "args": ["--lr", "0.1"], "envs": {"SEED": "1"},
               "framework": "pytorch", "dataset_id": 7, "max_running_time_ms": 60_000,
               "cpu": 2, "memory": 1 << 30, "gpu": 1}


def test_a_task_spec_round_trips_through_json():
    for spec in (SPEC, replace(SPEC, launcher=Launcher.TORCHRUN, nproc_per_node=4),
                 replace(SPEC, env_id="torch2", datasets={"train": ["mnist/1"], "test": []},
                         tb_summary_path="tb")):
        wire = json.loads(json.dumps(spec.to_wire()))  # what Celery's JSON serializer carries
        assert TaskSpec.from_wire(wire) == spec


def test_a_spec_is_written_in_the_lowest_version_that_carries_it():
    """A version-1 worker reads a plain spec as before, and refuses a torchrun one rather
    than running it as a plain script."""
    assert TaskSpec.from_wire(UNVERSIONED) == SPEC
    assert SPEC.to_wire() == {**UNVERSIONED, "launcher": "python", "nproc_per_node": None,
                              "env_id": "default", "datasets": None, "tb_summary_path": None,
                              "version": 1}
    assert replace(SPEC, launcher=Launcher.TORCHRUN).to_wire()["version"] == 2


@pytest.mark.parametrize("change", [{"env_id": "torch2"}, {"datasets": {"train": ["d/1"]}},
                                    {"tb_summary_path": "tb"}])
def test_a_version_2_worker_refuses_an_environment_datasets_or_tensorboard(change):
    """It would run the job with the wrong interpreter or without its data: better refused."""
    assert replace(SPEC, **change).to_wire()["version"] == 3 == PROTOCOL_VERSION


def test_a_newer_spec_is_refused_with_what_to_do():
    with pytest.raises(ProtocolError, match=rf"version {PROTOCOL_VERSION + 1} is newer.*upgrade trainq"):
        TaskSpec.from_wire({**UNVERSIONED, "version": PROTOCOL_VERSION + 1})
    with pytest.raises(ProtocolError, match=r"launcher 'mpirun' is not one of"):
        TaskSpec.from_wire({**UNVERSIONED, "launcher": "mpirun", "version": 2})


def test_fields_added_later_are_ignored_by_this_version():
    assert TaskSpec.from_wire({**UNVERSIONED, "priority_hint": 3}) == SPEC


@pytest.mark.parametrize("change", [
    {"script_path": None}, {"cpu": "2"}, {"gpu": True}, {"args": "--lr"}, {"args": [1]},
    {"envs": {"SEED": 1}}, {"envs": []}, {"dataset_id": "7"}, {"version": "1"}, {"version": 0},
    {"env_id": None}, {"datasets": {"train": "d/1"}}, {"datasets": {"train": [1]}},
    {"datasets": []}, {"tb_summary_path": 1}])
def test_a_malformed_spec_is_refused(change):
    with pytest.raises(ProtocolError):
        TaskSpec.from_wire({**UNVERSIONED, **change})


@pytest.mark.parametrize("missing", ["script_path", "framework", "cpu", "memory", "gpu"])
def test_a_spec_lacking_a_required_field_is_refused(missing):
    wire = {k: v for k, v in UNVERSIONED.items() if k != missing}
    with pytest.raises(ProtocolError, match=missing):
        TaskSpec.from_wire(wire)


def test_optional_spec_fields_have_defaults():
    spec = TaskSpec.from_wire({"script_path": "t.py", "framework": "tensorflow", "cpu": 1,
                               "memory": 1, "gpu": 0})
    assert (spec.args, spec.envs, spec.dataset_id, spec.max_running_time_ms) == ((), {}, None, None)


@pytest.mark.parametrize("wire", [None, [], "train.py"])
def test_a_spec_that_is_not_an_object_is_refused(wire):
    with pytest.raises(ProtocolError):
        TaskSpec.from_wire(wire)


ALLOCATION = Allocation("job-abc", 2, 41, (InstanceAssignment(0, "gpu-a", ("0", "1")),
                                           InstanceAssignment(1, "gpu-b", ("GPU-5f2e",))))


def test_an_allocation_round_trips_as_compact_json():
    text = ALLOCATION.to_wire()
    assert " " not in text and json.loads(text)["version"] == PROTOCOL_VERSION
    assert Allocation.from_wire(text) == ALLOCATION


def test_an_instance_assignment_round_trips():
    one = InstanceAssignment(3, "gpu-c", ())
    assert one.to_wire() == '{"rank":3,"host":"gpu-c","gpus":[]}'
    assert InstanceAssignment.from_wire(one.to_wire()) == one


def _allocation_wire(**change) -> str:
    return json.dumps({**json.loads(ALLOCATION.to_wire()), **change})


@pytest.mark.parametrize("text", [
    "not json", "[]", "null",
    _allocation_wire(version=PROTOCOL_VERSION + 1), _allocation_wire(job_id=""),
    _allocation_wire(attempt=0), _allocation_wire(epoch=-1), _allocation_wire(epoch="41"),
    _allocation_wire(instances=[]), _allocation_wire(instances={}),
    _allocation_wire(instances=[{"rank": 0, "host": "a", "gpus": []},
                                {"rank": 0, "host": "b", "gpus": []}]),
    _allocation_wire(instances=[{"rank": 1, "host": "a", "gpus": []}]),
    _allocation_wire(instances=[{"rank": 0, "host": "", "gpus": []}]),
    _allocation_wire(instances=[{"rank": 0, "host": "a", "gpus": [0]}]),
    _allocation_wire(instances=[{"rank": 0, "host": "a"}]),
    json.dumps({"job_id": "job-abc", "attempt": 1, "epoch": 1}),
])
def test_a_bad_allocation_is_refused(text):
    with pytest.raises(ProtocolError):
        Allocation.from_wire(text)


@pytest.mark.parametrize("text", ["{}", '{"rank": -1, "host": "a", "gpus": []}',
                                  '{"rank": 0, "host": "a", "gpus": "0,1"}', "7"])
def test_a_bad_instance_assignment_is_refused(text):
    with pytest.raises(ProtocolError):
        InstanceAssignment.from_wire(text)


def test_leases():
    assert parse_lease(None) is None and parse_lease("") is None
    lease = parse_lease("slot-a/pid7|1700000000")
    assert lease == ("slot-a/pid7", 1700000000) and not lease.done
    assert parse_lease("host|with|bars|5").owner == "host|with|bars"
    assert parse_lease(f"{protocol.LEASE_DONE}{protocol.LEASE_SEPARATOR}5").done


def test_stream_entries_keep_their_format():
    entry = encode_entry("job-x", 3, EventKind.EPOCH, {"epoch": 1})
    assert set(entry) == {"job_id", "attempt", "kind", "ts", "data"}
    assert all(type(value) is str for value in entry.values())
    assert (entry["kind"], entry["attempt"], entry["data"]) == ("epoch", "3", '{"epoch": 1}')
    assert decode_entry(entry) == {**entry, "data": {"epoch": 1}}
    assert decode_entry({"job_id": "j", "attempt": "1", "kind": "log"})["data"] == {}


def test_the_script_helper_copies_agree_with_the_protocol():
    """workers/reporting.py stands alone on a script's path, so it keeps its own copies."""
    assert reporting.PREFIX == protocol.METRIC_LINE_PREFIX
    assert reporting.NAMED_METRICS == protocol.NAMED_METRICS
    assert reporting.MAX_STEP == protocol.MAX_STEP


def test_the_consumer_handles_every_event_kind_and_outcome():
    from app.models.telemetry import JobMetric
    from app.services.events import HANDLERS, OUTCOME_STATUS

    # Every outcome ends in a status, except PREEMPTED: that one queues the job again.
    assert set(HANDLERS) == set(EventKind)
    assert set(OUTCOME_STATUS) | {Outcome.PREEMPTED} == set(Outcome)
    assert all(hasattr(JobMetric, name) for name in protocol.NAMED_METRICS)


def test_a_spec_is_immutable():
    with pytest.raises(AttributeError):
        SPEC.script_path = "other.py"  # type: ignore[misc]
    assert replace(SPEC, gpu=2).gpu == 2 and SPEC.gpu == 1


def test_a_worker_fails_an_attempt_whose_spec_it_cannot_read(tmp_path):
    """As a setup error the user sees, rather than a job left queued that nobody runs."""
    from config.settings import Settings
    from workers.runner import AttemptRun, _run_claimed
    from workers.host import Host

    class Recorder:
        def finished(self, outcome, **fields):
            self.outcome, self.fields = outcome, fields

    settings = Settings.from_env({"TRAINQ_VAR_DIR": str(tmp_path)})
    run = AttemptRun("job-new", 1, {**UNVERSIONED, "version": PROTOCOL_VERSION + 1},
                     Host("cpu", (), None, "test"), settings, ALLOCATION.to_wire())
    events = Recorder()
    assert _run_claimed(run, None, events) == Outcome.FAILED
    assert events.fields["failure_class"] == protocol.FailureClass.SETUP_ERROR
    assert "upgrade trainq" in events.fields["message"]
