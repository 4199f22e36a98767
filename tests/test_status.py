"""The job state machine: only allowed transitions, terminal states absorbing."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.status import ALLOWED, TERMINAL, JobStatus, can_transition, parse_status


def test_terminal_states_have_no_way_out():
    for status in TERMINAL:
        assert all(not can_transition(status, other) for other in JobStatus)


def test_allowed_moves():
    assert can_transition(JobStatus.QUEUED, JobStatus.TRAINING)
    assert can_transition(JobStatus.QUEUED, JobStatus.CANCELLED)
    assert can_transition(JobStatus.TRAINING, JobStatus.COMPLETED)
    assert not can_transition(JobStatus.QUEUED, JobStatus.COMPLETED)
    assert not can_transition(JobStatus.TRAINING, JobStatus.TRAINING)


def test_status_types_follow_the_webhook_contract():
    assert [s.status_type for s in JobStatus] == [1, 2, 3, 4, 5]


def test_aliases_and_unknown_words():
    assert parse_status("pending") is JobStatus.QUEUED
    assert parse_status(" Running ") is JobStatus.TRAINING
    with pytest.raises(ValueError, match="use one of: queued"):
        parse_status("done")


@given(st.lists(st.sampled_from(list(JobStatus)), max_size=30))
def test_any_sequence_of_requests_keeps_the_machine_consistent(requests):
    status, history = JobStatus.QUEUED, [JobStatus.QUEUED]
    for wanted in requests:
        if can_transition(status, wanted):
            status = wanted
            history.append(wanted)
    for before, after in zip(history, history[1:]):
        assert after in ALLOWED[before]
    assert all(s not in TERMINAL for s in history[:-1])  # nothing follows a terminal state
