"""Read side of per-step values: one job's curve, downsampled in SQL for a chart."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, literal, select

from app.models import JobStep, JobStepSpan

#: What GET /metrics returns when it is not told `points`: about one point per pixel of a chart.
DEFAULT_POINTS = 1000
#: The most points one read returns (?points= up to this returns every step of most jobs).
MAX_POINTS = 10_000
_COLUMNS = (JobStep.attempt, JobStep.step, JobStep.values, JobStep.reported_at)


@dataclass(frozen=True)
class Curve:
    points: list[dict[str, Any]]  # {attempt, step, values, reported_at} by attempt, then step
    total: int  # steps stored; more than len(points) when the curve was downsampled


def curve(session, job_id: str, points: int = DEFAULT_POINTS) -> Curve:
    """At most `points` of the job's steps: all of them when they fit, else each attempt gets
    its share of `points` in proportion to its steps (see _sampled). The attempts' spans say
    how many there are, so no read passes over all the steps."""
    spans = list(session.scalars(select(JobStepSpan).where(JobStepSpan.job_id == job_id)
                                 .order_by(JobStepSpan.attempt)))
    total = sum(span.steps for span in spans)
    if total <= points:
        rows = session.execute(select(*_COLUMNS).where(JobStep.job_id == job_id)
                               .order_by(JobStep.attempt, JobStep.step))
        return Curve([dict(row._mapping) for row in rows], total)
    shares = _shares([span.steps for span in spans], points)
    return Curve([row for span, share in zip(spans, shares)
                  for row in _sampled(session, span, share)], total)


def _shares(counts: list[int], points: int) -> list[int]:
    """`points` split in proportion to `counts` (largest remainder), so they sum to `points`
    and none exceeds its count (called only when sum(counts) > points)."""
    total = sum(counts)
    shares = [count * points // total for count in counts]
    by_remainder = sorted(range(len(counts)), key=lambda i: -(counts[i] * points % total))
    for i in by_remainder[:points - sum(shares)]:
        shares[i] += 1
    return shares


def _sampled(session, span: JobStepSpan, share: int) -> list[dict[str, Any]]:
    """`share` real steps of one attempt: its first step, then the last step of each of
    share - 1 equal ranges of step numbers (share 1: the last step). Why this and not an
    average or a min/max: every point is a step the script reported, with all its values from
    that one step (the min of one metric and the max of another would invent a step); equal
    ranges sample the x axis evenly; first and last keep where training started and where it
    stands. A spike inside a range can fall between points; ?points= up to 10,000 shows more."""
    if share <= 0:
        return []
    ranges = max(share - 1, 1)
    rows = session.execute(_range_ends(span, ranges, ranges + 1 - share))
    by_step = {row.step: row for row in rows}  # an empty range repeats the end before it
    return [dict(by_step[step]._mapping) for step in sorted(by_step)]


def _range_ends(span: JobStepSpan, ranges: int, start: int):
    """The last step at or before first + floor(k * (last - first) / ranges) for
    k = start..ranges, with its values: k = 0 is the first step, k = ranges the last, each
    other k the end of a range. 64-bit arithmetic, as k * (last - first) reaches 10**4 * 2**31.

    Each column is a subquery per k, one primary-key probe each, so the plan is that on every
    database: joined instead, PostgreSQL may hash all of the attempt's rows when its
    statistics are older than the job (a job's steps arrive faster than autovacuum analyses).
    Without gaps in the step numbers the step is the bound itself: two lookups, no search."""
    k = select(literal(start, BigInteger).label("k")).cte("range_number", recursive=True)
    k = k.union_all(select(k.c.k + 1).where(k.c.k < ranges))
    width = literal(span.last_step - span.first_step, BigInteger)
    bound = span.first_step + k.c.k * width // ranges
    if span.steps == span.last_step - span.first_step + 1:
        pick, step = (JobStep.step == bound,), bound
    else:
        pick = (JobStep.step <= bound, JobStep.step.desc())
        step = _of_step(span, "step", *pick)
    return select(literal(span.attempt).label("attempt"), step.label("step"),
                  *(_of_step(span, name, *pick).label(name)
                    for name in ("values", "reported_at"))).select_from(k)


def _of_step(span: JobStepSpan, name: str, condition, order=None):
    """Column `name` of the attempt's step that `condition` picks (the last one with `order`)."""
    return (select(getattr(JobStep, name))
            .where(JobStep.job_id == span.job_id, JobStep.attempt == span.attempt, condition)
            .order_by(order).limit(1).scalar_subquery())
