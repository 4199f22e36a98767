"""Event metrics in Redis: one hash per metric (config/keys.py:metric_key), so a scrape of any API
process sees what every scheduler and consumer process recorded, and nothing needs
prometheus_client's multiprocess directory. Counts only grow; if Redis loses them, Prometheus
sees a counter reset, which rate() and increase() handle.

A field is "<label values>|<part>". A histogram stores each observation in the one bucket it
falls in (one write, not one per bound) plus "sum"; a scrape adds them up into Prometheus'
cumulative buckets, and the count is the +Inf bucket. A counter's part is "count". Label values
are pool names, statuses and outcomes, which never contain "|"."""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from app.metrics.catalogue import EventMetric
from config.keys import metric_key

SEP = "|"
INF = float("inf")


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[str, float]]  # (le, cumulative count), ending with +Inf
    sum: float


def observe(redis, metric: EventMetric, labels: tuple[str, ...], value: float) -> None:
    bounds = (*metric.buckets, INF)
    bound = bounds[bisect_left(bounds, value)]
    prefix, key = _prefix(labels), metric_key(metric.name)
    pipe = redis.pipeline(transaction=True)  # MULTI: a scrape never sees a bucket without its sum
    pipe.hincrby(key, prefix + floatToGoString(bound), 1)
    pipe.hincrbyfloat(key, prefix + "sum", value)
    pipe.execute()


def increment(redis, metric: EventMetric, labels: tuple[str, ...]) -> None:
    redis.hincrby(metric_key(metric.name), _prefix(labels) + "count", 1)


def read(redis, metrics) -> dict[str, dict[tuple[str, ...], dict[str, float]]]:
    """Per metric name: label values -> {part: value}, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for metric in metrics:
        pipe.hgetall(metric_key(metric.name))
    return {metric.name: _by_labels(fields) for metric, fields in zip(metrics, pipe.execute())}


def histogram(metric: EventMetric, parts: dict[str, float]) -> Histogram:
    """Cumulative buckets of one label set. A bound this version no longer has (the buckets
    were changed) is counted in the next bound up, so the count stays right."""
    bounds = (*metric.buckets, INF)
    counts = [0.0] * len(bounds)
    for part, value in parts.items():
        if part != "sum":
            counts[bisect_left(bounds, float(part))] += value
    running, buckets = 0.0, []
    for bound, count in zip(bounds, counts):
        running += count
        buckets.append((floatToGoString(bound), running))
    return Histogram(buckets, parts.get("sum", 0.0))


def _by_labels(fields: dict[str, str]) -> dict[tuple[str, ...], dict[str, float]]:
    series: dict[tuple[str, ...], dict[str, float]] = {}
    for field, value in fields.items():
        labels, _, part = field.rpartition(SEP)
        series.setdefault(tuple(labels.split(SEP)), {})[part] = float(value)
    return series


def _prefix(labels: tuple[str, ...]) -> str:
    return SEP.join(labels) + SEP
