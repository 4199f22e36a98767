"""What a scrape of GET /metrics answers, all read at scrape time from the stores every process
shares: the database (jobs), the host registry (workers, GPUs) and the event metrics in Redis.
So every gunicorn process answers the same, and a gauge is never stale after a restart."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from prometheus_client.exposition import choose_encoder
from sqlalchemy import func, select

from app.domain.status import TERMINAL, JobStatus
from app.metrics import store
from app.metrics.catalogue import (DISPATCH_LATENCY, EVENT_METRICS, JOB_DURATION,
                                   WEBHOOK_DELIVERIES, WAITING_SINCE, DeliveryOutcome, GpuState)
from app.models import Job
from app.models.base import utcnow
from workers.hosts import HostRecord, HostState, read_hosts


@dataclass(frozen=True)
class Families:
    """A finished scrape, in the shape prometheus_client's encoders read (a collector)."""

    metrics: list[Metric]

    def collect(self) -> list[Metric]:
        return self.metrics


def render(runtime, accept: str) -> tuple[bytes, str]:
    """The exposition (OpenMetrics when the scraper asks for it) and its content type. Raises
    SQLAlchemyError or RedisError when the database or Redis does not answer."""
    encoder, content_type = choose_encoder(accept)
    return encoder(Families(families(runtime))), content_type


def families(runtime) -> list[Metric]:
    with runtime.db.read() as session:
        jobs, waiting = _job_counts(session), _waiting(session)
    now, hosts = read_hosts(runtime.redis)
    recorded = store.read(runtime.redis, EVENT_METRICS)
    # Every configured pool has every series from the start, so rate() and alerts see a 0.
    pools = sorted({p.name for p in runtime.settings.pools} | {pool for pool, _ in jobs}
                   | {host.pool for host in hosts})
    fresh = runtime.settings.lease_seconds
    return [_jobs(pools, jobs), *_queue(pools, waiting), _workers(pools, hosts, now, fresh),
            _gpus(pools, hosts, now, fresh), *_events(pools, recorded)]


def _job_counts(session) -> Counter:
    """(pool, status) -> jobs."""
    return Counter({(pool, status): n for pool, status, n in session.execute(
        select(Job.pool, Job.status, func.count()).group_by(Job.pool, Job.status))})


def _waiting(session) -> list[tuple[str, int, datetime]]:
    """(pool, jobs, since when the longest-waiting one waits) of queued jobs not yet sent."""
    return session.execute(
        select(Job.pool, func.count(), func.min(WAITING_SINCE))
        .where(Job.status == JobStatus.QUEUED.value, Job.published_at.is_(None))
        .group_by(Job.pool)).all()


def _jobs(pools: list[str], counts: Counter) -> Metric:
    family = GaugeMetricFamily("trainq_jobs", "Jobs in the database by status and pool",
                               labels=["status", "pool"])
    for pool in pools:
        for status in JobStatus:
            family.add_metric([status.value, pool], counts[(pool, status.value)])
    return family


def _queue(pools: list[str], waiting) -> list[Metric]:
    depth = GaugeMetricFamily(
        "trainq_queue_depth", "Queued jobs waiting to be placed (not yet sent to a host)",
        labels=["pool"])
    oldest = GaugeMetricFamily(
        "trainq_queue_oldest_seconds", "How long the longest-waiting queued job of the pool has "
        "waited to be placed (0: none waits)", labels=["pool"])
    rows, now = {pool: (n, since) for pool, n, since in waiting}, utcnow()
    for pool in pools:
        count, since = rows.get(pool, (0, None))
        depth.add_metric([pool], count)
        oldest.add_metric([pool], max(0.0, (now - since).total_seconds()) if since else 0.0)
    return [depth, oldest]


def _workers(pools: list[str], hosts: list[HostRecord], now: int, fresh: float) -> Metric:
    family = GaugeMetricFamily(
        "trainq_workers", "Worker hosts by state: online, draining (finishing its jobs, taking "
        "no new ones) or offline (no heartbeat within TRAINQ_LEASE_SECONDS)",
        labels=["pool", "state"])
    counts = Counter((host.pool, host.state(now, fresh)) for host in hosts)
    for pool in pools:
        for state in HostState:
            family.add_metric([pool, state.value], counts[(pool, state)])
    return family


def _gpus(pools: list[str], hosts: list[HostRecord], now: int, fresh: float) -> Metric:
    family = GaugeMetricFamily(
        "trainq_gpus", "GPUs of the registered hosts: free, used (held by a job), draining (free "
        "on a draining host) or offline (on a host without a heartbeat)", labels=["pool", "state"])
    counts: Counter = Counter()
    for host in hosts:
        for state, n in _gpu_states(host, host.state(now, fresh)).items():
            counts[(host.pool, state)] += n
    for pool in pools:
        for state in GpuState:
            family.add_metric([pool, state.value], counts[(pool, state)])
    return family


def _gpu_states(host: HostRecord, state: HostState) -> dict[GpuState, int]:
    if state is HostState.OFFLINE:
        return {GpuState.OFFLINE: len(host.gpus)}
    free = len(host.free_gpus)
    return {GpuState.USED: len(host.gpus) - free,
            GpuState.FREE if state is HostState.ONLINE else GpuState.DRAINING: free}


def _events(pools: list[str], recorded) -> list[Metric]:
    deliveries = CounterMetricFamily(WEBHOOK_DELIVERIES.name, WEBHOOK_DELIVERIES.help,
                                     labels=list(WEBHOOK_DELIVERIES.labels))
    counted = recorded[WEBHOOK_DELIVERIES.name]
    for outcome in DeliveryOutcome:
        deliveries.add_metric([outcome.value], counted.get((outcome.value,), {}).get("count", 0))
    statuses = sorted(status.value for status in TERMINAL)
    return [_histogram(DISPATCH_LATENCY, recorded, [(pool,) for pool in pools]),
            _histogram(JOB_DURATION, recorded, [(p, s) for p in pools for s in statuses]),
            deliveries]


def _histogram(metric, recorded, expected: list[tuple[str, ...]]) -> Metric:
    family = HistogramMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    series = recorded[metric.name]
    for labels in sorted(set(expected) | set(series)):
        observed = store.histogram(metric, series.get(labels, {}))
        family.add_metric(list(labels), observed.buckets, observed.sum)
    return family
