"""Prometheus metrics on a registry of each app's own (never the global one).

Counters and queue depths are read from Redis at every scrape, so they cover every process
sharing that Redis. The histograms (job duration, queue wait) and the HTTP request counter
are local: they cover the jobs this process's pool ran and the requests this server answered.
When Redis is down the scrape still answers, with ``tickr_redis_up 0``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tickr_app.core.errors import TickrError

if TYPE_CHECKING:
    from tickr_app.core.engine import Tickr
    from tickr_app.core.records import LeasedJob, QueueStats, WorkerInfo

log = logging.getLogger("tickr.api.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCRAPE_TIMEOUT_S = 5.0

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf"))
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, float("inf"))

# by_type counter name in Redis -> (metric name, help)
_TYPE_COUNTERS = (
    ("enqueued", "tickr_jobs_enqueued", "Jobs enqueued."),
    ("succeeded", "tickr_jobs_succeeded", "Jobs that succeeded."),
    ("failed", "tickr_jobs_failed", "Failed attempts (each retried or dead job counts once per failure)."),
    ("retried", "tickr_jobs_retried", "Failed attempts that were scheduled for a retry."),
    ("dead", "tickr_jobs_dead", "Jobs moved to the dead letter queue."),
    ("limited", "tickr_jobs_limited", "Jobs a rate or concurrency limit (or a RateLimited pause) held back to wait."),
    ("rate_limited", "tickr_jobs_rate_limited", "Times a handler raised RateLimited (the type paused, no attempt counted)."),
)
_QUEUE_COUNTERS = (
    ("enqueued", "tickr_queue_enqueued", "Jobs enqueued, per queue."),
    ("processed", "tickr_queue_processed", "Attempts finished (succeeded or failed), per queue."),
    ("succeeded", "tickr_queue_succeeded", "Jobs that succeeded, per queue."),
    ("failed", "tickr_queue_failed", "Failed attempts, per queue."),
    ("retried", "tickr_queue_retried", "Failed attempts scheduled for a retry, per queue."),
    ("cancelled", "tickr_queue_cancelled", "Jobs cancelled, per queue."),
    ("limited", "tickr_queue_limited", "Jobs held back by a limit to wait (limited waits), per queue."),
)
_DEPTHS = ("ready", "waiting", "active", "dead")


@dataclass(slots=True)
class Snapshot:
    redis_up: bool = False
    queues: list[QueueStats] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)


class RedisCollector(Collector):
    """Yields the families of the snapshot the scrape handler just read from Redis."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        up = GaugeMetricFamily("tickr_redis_up", "1 when Redis answered this scrape.")
        up.add_metric([], 1.0 if snap.redis_up else 0.0)
        yield up
        if not snap.redis_up:
            return
        for what, name, doc in _TYPE_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["queue", "type"])
            for q in snap.queues:
                for jtype, counts in sorted(q.by_type.items()):
                    if what in counts:
                        family.add_metric([q.name, jtype], counts[what])
            yield family
        for what, name, doc in _QUEUE_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["queue"])
            for q in snap.queues:
                family.add_metric([q.name], getattr(q, what))
            yield family
        yield from _limit_families(snap.queues)
        depth = GaugeMetricFamily("tickr_queue_jobs", "Jobs in a queue by state.", labels=["queue", "state"])
        paused = GaugeMetricFamily("tickr_queue_paused", "1 when the queue is paused for every process.", labels=["queue"])
        for q in snap.queues:
            for state in _DEPTHS:
                depth.add_metric([q.name, state], getattr(q, state))
            paused.add_metric([q.name], 1.0 if q.paused else 0.0)
        yield depth
        yield paused
        processes = GaugeMetricFamily("tickr_worker_processes", "Live worker processes.")
        processes.add_metric([], len(snap.workers))
        yield processes
        slots = GaugeMetricFamily("tickr_worker_slots", "Worker slots per process.", labels=["worker", "state"])
        for w in snap.workers:
            slots.add_metric([w.id, "busy"], w.busy)
            slots.add_metric([w.id, "total"], w.concurrency)
        yield slots
        lag = GaugeMetricFamily(
            "tickr_worker_loop_lag_seconds",
            "Largest event-loop lag each live worker process saw in its last heartbeat period.",
            labels=["worker"],
        )
        for w in snap.workers:
            if w.loop is not None:
                lag.add_metric([w.id], w.loop.lag_ms / 1000)
        yield lag


def _limit_families(queues: list[QueueStats]) -> Iterator[Metric]:
    """Flow control: time throttled (counted in Redis by the fetch script, so every process's
    share is in it) per queue and per type, and the limits' state now."""
    throttled = CounterMetricFamily(
        "tickr_queue_throttled_seconds", "Time the queue's own rate or concurrency limit let nothing start.", labels=["queue"]
    )
    type_throttled = CounterMetricFamily(
        "tickr_type_throttled_seconds", "Time a job type had jobs held back by its limits or a pause.", labels=["queue", "type"]
    )
    state = GaugeMetricFamily("tickr_limit_throttled", "1 while a limit holds work back.", labels=["queue", "type"])
    running = GaugeMetricFamily("tickr_limit_running", "Running jobs a concurrency limit counts.", labels=["queue", "type"])
    held = GaugeMetricFamily("tickr_limit_held_jobs", "Jobs waiting for a limit to free.", labels=["queue", "type"])
    rate = GaugeMetricFamily("tickr_limit_current_rate", "Jobs started per second in the rate window.", labels=["queue", "type"])
    for q in queues:
        throttled.add_metric([q.name], q.throttled_ms / 1000)
        for jtype, counts in sorted(q.by_type.items()):
            if "throttled_ms" in counts:
                type_throttled.add_metric([q.name, jtype], counts["throttled_ms"] / 1000)
        if q.limits is None:
            continue
        for jtype, s in [("", q.limits.limits), *sorted(q.limits.types.items())]:
            state.add_metric([q.name, jtype], 1.0 if s.throttled else 0.0)
            running.add_metric([q.name, jtype], s.running)
            held.add_metric([q.name, jtype], s.held)
            if s.current_rate is not None:
                rate.add_metric([q.name, jtype], s.current_rate)
    yield from (throttled, type_throttled, state, running, held, rate)


class ApiMetrics:
    """One app's metrics: its own registry, the Redis collector and the local histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = RedisCollector()
        self.registry.register(self.collector)
        self.job_duration = Histogram(
            "tickr_job_duration_seconds",
            "Run time of job attempts in this process's pool.",
            ["queue", "type"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "tickr_job_queue_wait_seconds",
            "Time from a job being due to an attempt starting, in this process's pool.",
            ["queue", "type"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "tickr_http_requests",
            "HTTP requests answered by this API server.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "tickr_event_loop_lag_seconds",
            "How late this process's event loop ran a timer due every 0.1 s (blocking code on the loop shows here).",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self._attached: Tickr | None = None

    # -- local observations ----------------------------------------------------------------

    def observe_job(self, job: LeasedJob, waited: float, ran: float) -> None:
        self.job_duration.labels(job.queue, job.type).observe(ran)
        self.queue_wait.labels(job.queue, job.type).observe(waited)

    def attach(self, tickr: Tickr) -> None:
        """Follow the jobs of the engine's pool (idempotent; a producer has no pool, and a
        pool started later is followed too)."""
        if tickr is self._attached:
            return
        self.detach()
        tickr.add_job_observer(self.observe_job)
        tickr.add_loop_lag_observer(self.loop_lag.observe)
        self._attached = tickr

    def detach(self) -> None:
        if self._attached is not None:
            self._attached.remove_job_observer(self.observe_job)
            self._attached.remove_loop_lag_observer(self.loop_lag.observe)
            self._attached = None

    # -- scraping --------------------------------------------------------------------------

    async def render(self, tickr: Tickr) -> bytes:
        self.attach(tickr)
        snapshot = await read_snapshot(tickr)
        self.collector.snapshot = snapshot  # no await between this and generate_latest
        return generate_latest(self.registry)


async def read_snapshot(tickr: Tickr) -> Snapshot:
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            stats = await tickr.stats()
            workers = await tickr.worker_processes()
    except (TickrError, TimeoutError, RuntimeError) as exc:
        log.debug("metrics scrape without Redis: %s", exc)
        return Snapshot(redis_up=False)
    return Snapshot(True, [stats[name] for name in sorted(stats)], workers)
