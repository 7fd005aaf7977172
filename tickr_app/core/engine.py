"""``Tickr``: the engine one process runs — Redis connection, scheduler and worker pool.

It works inside an already running event loop (Jupyter, the TUI, aiohttp), and with
``workers=0`` it is a producer only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import defaults
from .backoff import Reconnect
from .batcher import EnqueueBatcher
from .broker import Broker, BrokerSettings, default_worker_id
from .connection import connect, mask_text, mask_url
from .errors import IdempotencyConflict, InvalidRequest, JobNotFound, QueueNotEmpty, QueueNotFound, RedisUnavailable
from .home import tickr_home
from .job import Job
from .ids import new_job_id
from .keys import DEFAULT_PREFIX, DEFAULT_QUEUE, check_queue_name
from .limit_methods import LimitMethods
from .notify import Listener
from .pool import PoolSettings, WorkerPool
from .records import (
    EnqueueSpec,
    Event,
    LagStats,
    LeasedJob,
    ListableStatus,
    PoolState,
    QueueStats,
    WorkerInfo,
    event_job_ids,
)
from .builtin_jobs import install_builtin_jobs
from .registry import Registry, default_registry
from .reprs import JobList, StatsReport, WorkerList
from .schedule_methods import ScheduleMethods
from .scheduler import Scheduler
from .workflow_methods import WorkflowMethods

log = logging.getLogger("tickr.engine")

JobObserver = Callable[[LeasedJob, float, float], None]
"""Called after every attempt this process's pool runs, with (job, seconds from due to start,
seconds run); must be quick and must not raise (the API's Prometheus histograms use it)."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _redis_errors(
    method: Callable[Concatenate[Tickr, _P], Awaitable[_R]],
) -> Callable[Concatenate[Tickr, _P], Coroutine[Any, Any, _R]]:
    """A facade method lets no redis-py or socket error out: they leave as ``RedisUnavailable``."""

    @wraps(method)
    async def call(self: Tickr, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(self, *args, **kwargs)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None

    return call


MAX_DELAY_S = 10 * 365 * 24 * 3600
MAX_RUN_AT_S = 253_402_300_799
"""9999-12-31T23:59:59Z, the last moment ISO 8601 can write with four digits: a fixed bound
(not "now + N years") so the OpenAPI document can state it exactly."""
SUBMIT_BATCH = 1000
"""Jobs per enqueue script call."""
SUBMIT_PIPELINE = 3
"""Enqueue calls in flight at once in submit_many."""
SERVED_CACHE_S = 1.0
"""How long ``is_served`` trusts its last read of the worker registry."""
TYPE_FILTER_SCAN = 10_000
"""``list_jobs(job_type=...)`` looks at most this many jobs of a status for matches."""


class _StartMethod:
    """``start`` is both an instance method (``await tickr.start()``) and, looked up on the
    class, a constructor that returns a started engine (``t = await Tickr.start(**kwargs)``),
    handy in a notebook where ``async with`` cannot span cells."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__
        self.__wrapped__ = func

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is not None:
            return self.func.__get__(instance, owner)
        func = self.func

        async def start(*args: Any, **kwargs: Any) -> Any:
            if args and isinstance(args[0], owner):  # Tickr.start(tickr), unbound style
                return await func(*args, **kwargs)
            return await func(owner(*args, **kwargs))

        start.__doc__ = "Create an engine with these arguments, start it and return it."
        return start


@dataclass(slots=True)
class JobRequest:
    """One job for ``submit_many``."""

    type: str
    payload: Any = None
    delay: float | None = None
    run_at: datetime | float | None = None
    max_attempts: int | None = None
    queue: str | None = None
    idempotency_key: str | None = None


class Tickr(ScheduleMethods, WorkflowMethods, LimitMethods):
    def __init__(
        self,
        redis_url: str | None = None,
        *,
        workers: int = 5,
        queues: Sequence[str] | None = None,
        prefix: str = DEFAULT_PREFIX,
        registry: Registry | None = None,
        home: str | Path | None = None,
        lease: float = defaults.LEASE_S,
        grace_period: float = defaults.GRACE_PERIOD_S,
        loop_lag_threshold: float = defaults.LAG_THRESHOLD_S,
        process_nice: int = defaults.PROCESS_NICE,
        scheduler: bool | None = None,
        builtin_jobs: bool = True,
        worker_id: str | None = None,
        retention: float = defaults.RETENTION_S,
        dead_cap: int = defaults.DEAD_CAP,
        sweep_interval: float | None = None,
        redis: Any = None,
    ) -> None:
        if workers < 0:
            raise InvalidRequest("workers must be >= 0")
        if lease <= 0:
            raise InvalidRequest("lease must be > 0")
        self.redis_url = redis_url
        self.workers = workers
        self.registry = registry if registry is not None else default_registry
        if builtin_jobs:
            install_builtin_jobs(self.registry)
        self.home = tickr_home(home)
        self.prefix = prefix
        self.worker_id = worker_id or default_worker_id()
        self._queues = [check_queue_name(q) for q in queues] if queues else None
        self._run_scheduler = workers > 0 if scheduler is None else scheduler
        self._pool_settings = PoolSettings(
            concurrency=workers,
            lease_ms=int(lease * 1000),
            grace_period=grace_period,
            lag_threshold=loop_lag_threshold,
            process_nice=process_nice,
        )
        self._broker_settings = BrokerSettings(
            prefix=prefix, retention_ms=int(retention * 1000), dead_cap=dead_cap
        )
        self._sweep_interval = sweep_interval if sweep_interval is not None else min(1.0, lease / 4)
        self._external_redis = redis
        self._embedded: Any = None
        self._broker: Broker | None = None
        self._batcher: EnqueueBatcher | None = None
        self._listener: Listener | None = None
        self._scheduler: Scheduler | None = None
        self._pool: WorkerPool | None = None
        self._started = False
        self._valid_queues: set[str] = set()
        self._observers: list[JobObserver] = []
        self._lag_observers: list[Callable[[float], None]] = []
        self._served: tuple[float, frozenset[str]] | None = None
        self._served_read: asyncio.Future[frozenset[str]] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def queues(self) -> list[str]:
        if self._queues:
            return sorted(set(self._queues))
        return sorted(self.registry.queues() | {DEFAULT_QUEUE})

    @_StartMethod
    async def start(self) -> Tickr:
        """Connect (starting the embedded Redis if no URL is given), then run the scheduler
        and the pool; returns the engine. ``await Tickr.start(**kwargs)`` also works."""
        if self._started:
            return self
        url = self.redis_url
        if self._external_redis is None and url is None:
            from .embedded import EmbeddedRedis

            self._embedded = EmbeddedRedis(self.home)
            url = await asyncio.to_thread(self._embedded.start)
            self.redis_url = url
        try:
            redis = self._external_redis if self._external_redis is not None else connect(url or "")
            self._broker = Broker(redis, self._broker_settings)
            self._batcher = EnqueueBatcher(self._broker)
            await self._broker.ping()
            await self._broker.register_queues(self.queues)
        except (RedisError, OSError) as exc:
            await self._close_connection()
            raise RedisUnavailable(
                f"cannot reach Redis at {mask_url(url) if url else '(client)'}: {mask_text(str(exc))}"
            ) from None
        except BaseException:
            await self._close_connection()
            raise
        try:
            self._listener = Listener(self._broker.redis)
            if self._run_scheduler:
                self._scheduler = Scheduler(self._broker, self._listener, sweep_interval=self._sweep_interval)
                for queue in self.queues:
                    self._scheduler.add_queue(queue)
            if self.workers > 0:
                self._pool = WorkerPool(
                    self._broker,
                    self.registry,
                    self.queues,
                    self._listener,
                    settings=self._pool_settings,
                    worker_id=self.worker_id,
                    home=self.home,
                    stats_source=self._stats_dicts,
                )
            if self._pool is not None:
                self._pool.observers.extend(self._observers)
            if self._scheduler is not None and self._pool is not None:
                self._scheduler.pool = self._pool
            if self._pool:
                await self._apply_declared_limits()
                await self._pool.start()  # registers its wake and control channels
                for lag_observer in self._lag_observers:
                    self._add_to_monitor(lag_observer)
            self._listener.start()
            if self._scheduler or self._pool:
                # Be subscribed before returning and before the first promote: a wake, cancel or
                # scale message published before the subscription would be lost, and only the
                # slow fallbacks (idle re-check, lease heartbeat) would pick it up.
                try:
                    await asyncio.wait_for(self._listener.connected.wait(), 5.0)
                except TimeoutError:
                    log.warning("pub/sub is not connected yet; wake-ups and commands may be slow until it is")
            if self._scheduler:
                self._scheduler.start()
                await self._upsert_declared_schedules()
            self._started = True
        except BaseException as exc:
            # Nothing a failed start began may keep running: a pool left behind would go on
            # leasing jobs that no one stops.
            await self._abort_start()
            if isinstance(exc, (RedisError, OSError)):
                raise self._unavailable(exc) from None
            raise
        return self

    async def _abort_start(self) -> None:
        """Undo a start that failed part way: kill the pool (its runners and loop monitor),
        stop the scheduler and listener, close the connection."""
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._pool is not None:
            await self._pool.kill()
        if self._listener is not None:
            await self._listener.stop()
        await self._close_connection()
        self._scheduler = self._pool = self._listener = None

    async def stop(self, *, graceful: bool = True, grace_period: float | None = None) -> None:
        """Graceful: running jobs finish within the grace period, the rest go back to ready."""
        if not self._started:
            await self._close_connection()
            return
        self._started = False
        # The scheduler first: it hands freshly leased jobs to the pool, which must still take them.
        if self._scheduler:
            await self._scheduler.stop()
        if self._pool:
            if graceful:
                await self._pool.stop(grace_period)
            else:
                await self._pool.kill()
        if self._listener:
            await self._listener.stop()
        await self._close_connection()

    async def _close_connection(self) -> None:
        if self._broker is not None and self._external_redis is None:
            try:
                await self._broker.close()
            except Exception:
                pass
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
            self._embedded = None

    async def __aenter__(self) -> Tickr:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._started

    def __repr__(self) -> str:
        state = "running" if self._started else "stopped"
        where = mask_text(self.redis_url) if self.redis_url else "embedded Redis"
        return f"<Tickr {state} redis={where} prefix={self.prefix!r} workers={self.workers} queues={self.queues}>"

    def _require(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("Tickr is not started: use `async with Tickr(...)` or `await tickr.start()`")
        return self._broker

    def _unavailable(self, exc: BaseException) -> RedisUnavailable:
        """The one error a Redis failure leaves the facade as, with the URL's password masked."""
        if not isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError)):
            # Redis answered with an error: not an outage, but a bug or a misconfigured server.
            log.error("Redis answered with an error", exc_info=exc)
        where = mask_url(self.redis_url) if self.redis_url else "(client)"
        return RedisUnavailable(f"Redis at {where} is unavailable: {mask_text(str(exc) or type(exc).__name__)}")

    async def _redis(self, awaitable: Awaitable[_R]) -> _R:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None

    # -- submitting ------------------------------------------------------------------------

    def _spec(self, req: JobRequest) -> tuple[str, EnqueueSpec]:
        job_type = self.registry.get(req.type)
        model = job_type.validate(req.payload if req.payload is not None else {})
        payload_json = model.model_dump_json()
        if req.delay is not None and req.run_at is not None:
            raise InvalidRequest("give either delay or run_at, not both")
        delay_ms = -1
        run_at_ms = -1
        if req.delay is not None:
            if not _is_number(req.delay) or not (0 <= req.delay <= MAX_DELAY_S):
                raise InvalidRequest(f"delay must be a number of seconds between 0 and {MAX_DELAY_S}")
            delay_ms = round(req.delay * 1000)
        if req.run_at is not None:
            run_at_ms = round(_run_at_seconds(req.run_at) * 1000)
        max_attempts = job_type.max_attempts if req.max_attempts is None else req.max_attempts
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not (1 <= max_attempts <= 1000):
            raise InvalidRequest("max_attempts must be an integer between 1 and 1000")
        if req.idempotency_key is not None and not isinstance(req.idempotency_key, str):
            raise InvalidRequest(f"idempotency key must be a string, not {type(req.idempotency_key).__name__}")
        key = req.idempotency_key or ""
        if len(key) > 200:
            raise InvalidRequest("idempotency key is longer than 200 characters")
        queue = job_type.queue if req.queue is None else req.queue
        if queue not in self._valid_queues:
            check_queue_name(queue)
            if len(self._valid_queues) < 10_000:
                self._valid_queues.add(queue)
        fingerprint = ""
        if key:
            fingerprint = request_fingerprint(job_type.name, payload_json, queue, max_attempts, delay_ms, run_at_ms)
        return queue, EnqueueSpec(
            id=new_job_id(),
            type=job_type.name,
            payload_json=payload_json,
            max_attempts=max_attempts,
            timeout_ms=int((job_type.timeout or 0) * 1000),
            backoff_base_ms=int(job_type.backoff_base * 1000),
            backoff_cap_ms=int(job_type.backoff_cap * 1000),
            delay_ms=delay_ms,
            run_at_ms=run_at_ms,
            idempotency_key=key,
            request_fingerprint=fingerprint,
        )

    async def submit(
        self,
        type: str,
        payload: Mapping[str, Any] | Any = None,
        *,
        delay: float | None = None,
        run_at: datetime | float | None = None,
        max_attempts: int | None = None,
        queue: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Validate and enqueue one job; with an idempotency key seen in the last 24 h, the
        original job is returned instead, or ``IdempotencyConflict`` is raised when that key was
        used for a different request. Concurrent submits share Redis round trips."""
        broker = self._require()
        queue_name, spec = self._spec(JobRequest(type, payload, delay, run_at, max_attempts, queue, idempotency_key))
        now_ms = int(time.time() * 1000)
        assert self._batcher is not None  # set with the broker
        try:  # inline, not @_redis_errors: the hot path keeps one coroutine frame
            job_id, created = await self._batcher.enqueue(queue_name, spec)
            if created:
                return _fresh_job(queue_name, spec, now_ms)
            if created is None:
                raise _conflict(spec.idempotency_key, job_id)
            existing = await broker.get(job_id, queue_name)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        if existing is None:
            raise JobNotFound(f"the job for this idempotency key ({job_id}) no longer exists")
        return existing

    async def submit_many(self, requests: Iterable[JobRequest | Mapping[str, Any]]) -> list[Job]:
        """Validate every job first (nothing is enqueued if one is invalid), then enqueue each
        queue's jobs in atomic batches of 1,000, a few batches in flight at once so packing the
        next overlaps Redis running the previous one."""
        broker = self._require()
        specs: list[tuple[str, EnqueueSpec]] = []
        for req in requests:
            if not isinstance(req, JobRequest):
                req = JobRequest(**req)
            specs.append(self._spec(req))
        if len(specs) == 1:
            queue, spec = specs[0]
            chunks = [(queue, [0])]
        else:
            by_queue: dict[str, list[int]] = {}
            for i, (queue, _) in enumerate(specs):
                by_queue.setdefault(queue, []).append(i)
            chunks = [
                (queue, indexes[start : start + SUBMIT_BATCH])
                for queue, indexes in by_queue.items()
                for start in range(0, len(indexes), SUBMIT_BATCH)
            ]
        out: list[Job | None] = [None] * len(specs)
        now_ms = int(time.time() * 1000)
        duplicates: list[tuple[int, str, str]] = []
        conflicts: list[tuple[int, str]] = []
        in_flight = asyncio.Semaphore(SUBMIT_PIPELINE)

        async def enqueue(queue: str, chunk: list[int]) -> None:
            async with in_flight:
                results = await self._redis(broker.enqueue(queue, [specs[i][1] for i in chunk]))
            for i, (job_id, created) in zip(chunk, results):
                if created:
                    out[i] = _fresh_job(queue, specs[i][1], now_ms)
                elif created is None:
                    conflicts.append((i, job_id))
                else:
                    duplicates.append((i, queue, job_id))

        if len(chunks) == 1:
            await enqueue(*chunks[0])
        else:
            await asyncio.gather(*(enqueue(queue, chunk) for queue, chunk in chunks))
        if conflicts:
            i, job_id = conflicts[0]
            error = _conflict(specs[i][1].idempotency_key, job_id)
            raise IdempotencyConflict(
                f"request {i}: {error.message} ({len(conflicts)} such request(s); the others were enqueued)",
                details=[{"index": j, "job_id": jid} for j, jid in conflicts[:100]],
            )
        for i, queue, job_id in duplicates:
            existing = await self._redis(broker.get(job_id, queue))
            if existing is None:
                raise JobNotFound(f"the job for this idempotency key ({job_id}) no longer exists")
            out[i] = existing
        return [j for j in out if j is not None]

    # -- reading ---------------------------------------------------------------------------

    @_redis_errors
    async def get(self, job_id: str) -> Job | None:
        return await self._require().get(job_id)

    @_redis_errors
    async def get_many(self, queue: str, ids: Sequence[str]) -> list[Job]:
        """Several jobs of one queue in one round trip, in the order given (missing ones left out)."""
        check_queue_name(queue)
        return await self._require().get_many(queue, ids)

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Wait until the job is finished (succeeded, dead or cancelled), without polling:
        it follows the queue's event stream."""
        broker = self._require()
        queue = await self._redis(broker.find_queue(job_id))
        if queue is None:
            raise JobNotFound(f"no job with id {job_id!r}")

        async def follow() -> Job:
            backoff = Reconnect()
            cursor: str | None = None
            while True:
                try:
                    if cursor is None:
                        cursor = await broker.last_event_id(queue)
                    job = await broker.get(job_id, queue)
                    if job is None:
                        raise JobNotFound(f"job {job_id} was deleted")
                    if job.is_final:
                        return job
                    while True:
                        events = await broker.read_events(queue, cursor, block_ms=1000)
                        if events:
                            cursor = events[-1][0]
                        if not events or any(job_id in event_job_ids(fields) for _, fields in events):
                            break
                    backoff.reset()
                except (RedisError, OSError):
                    # Redis restarting: keep waiting (the caller's timeout still bounds it).
                    await asyncio.sleep(backoff.next_delay())

        return await asyncio.wait_for(follow(), timeout)

    @_redis_errors
    async def stats(self) -> dict[str, QueueStats]:
        """Counts per queue, as a ``dict`` (a ``StatsReport``: one table in a notebook)."""
        broker = self._require()
        names = sorted(set(await broker.queues()) | set(self.queues))
        return StatsReport({q: await broker.queue_stats(q) for q in names})

    async def _stats_dicts(self) -> dict[str, dict[str, Any]]:
        return {name: s.to_dict() for name, s in (await self.stats()).items()}

    @_redis_errors
    async def queue_stats(self, queue: str = DEFAULT_QUEUE) -> QueueStats:
        """Counts of one queue."""
        check_queue_name(queue)
        return await self._require().queue_stats(queue)

    @_redis_errors
    async def known_queues(self) -> list[str]:
        """Every queue this engine serves or any process has registered in Redis, sorted."""
        return sorted(set(await self._require().queues()) | set(self.queues))

    @_redis_errors
    async def is_paused(self, queue: str = DEFAULT_QUEUE) -> bool:
        """Whether the queue is paused for every process (``pause_queue``)."""
        check_queue_name(queue)
        return await self._require().is_paused(queue)

    @_redis_errors
    async def list_jobs(
        self, queue: str = DEFAULT_QUEUE, status: ListableStatus = "ready", limit: int = 50, *, job_type: str | None = None
    ) -> list[Job]:
        """Jobs in one status, in dashboard order; with ``job_type``, only that type's (among the
        first 10,000 jobs of that status)."""
        check_queue_name(queue)
        broker = self._require()
        if job_type is None:
            return JobList(await broker.list_jobs(queue, status, limit))
        found: list[Job] = []
        offset, page = 0, 500
        while len(found) < limit and offset < TYPE_FILTER_SCAN:
            ids = await broker.list_ids(queue, status, page, offset)
            found.extend(j for j in await broker.get_many(queue, ids) if j.type == job_type)
            offset += len(ids)
            if len(ids) < page:
                break
        return JobList(found[:limit])

    async def is_served(self, queue: str) -> bool:
        """Whether a live worker process (this one or any other on this Redis and prefix)
        serves ``queue``: jobs sent to a queue nobody serves wait until someone does. The worker
        registry is read at most once a second."""
        check_queue_name(queue)
        if self._pool is not None and queue in self.queues:
            return True
        now = time.monotonic()
        if self._served is None or now - self._served[0] > SERVED_CACHE_S:
            # Concurrent submits share one read of the registry.
            if self._served_read is None or self._served_read.done():
                self._served_read = asyncio.ensure_future(self._read_served())
            self._served = (now, await asyncio.shield(self._served_read))
        return queue in self._served[1]

    async def _read_served(self) -> frozenset[str]:
        workers = await self._redis(self._require().workers())
        return frozenset(q for w in workers for q in w.queues)

    @_redis_errors
    async def worker_processes(self) -> list[WorkerInfo]:
        return WorkerList(await self._require().workers())

    # -- events and the Redis clock --------------------------------------------------------

    @_redis_errors
    async def last_event_id(self, queue: str = DEFAULT_QUEUE) -> str:
        """The id of the queue's newest event (``"0-0"`` when it has none): a cursor for
        ``read_events``."""
        return await self._require().last_event_id(queue)

    @_redis_errors
    async def read_events(
        self, queue: str, after: str, *, count: int = 1000, block_ms: int | None = None
    ) -> list[Event]:
        """Events of a queue after a cursor, oldest first: ``[(event id, {'e': name, 'id':
        job ids, 'n': count?})]``; see ``records.event_job_ids`` and ``records.event_count``.
        Event ids start with the Redis time in milliseconds."""
        return await self._require().read_events(queue, after, block_ms=block_ms, count=count)

    @_redis_errors
    async def redis_time_ms(self) -> int:
        """Now on the Redis clock (job times and event ids use it)."""
        return await self._require().time_ms()

    @_redis_errors
    async def ping(self) -> None:
        """Raise ``RedisUnavailable`` unless the engine runs and Redis answers."""
        if not self._started:
            raise RedisUnavailable("the Tickr engine is not running")
        await self._require().ping()

    @_redis_errors
    async def server_info(self, section: str = "server") -> dict[str, Any]:
        """Redis ``INFO`` of one section (the version and mode, for reports and benchmarks)."""
        return dict(await self._require().redis.info(section))

    # -- the event loop's health -----------------------------------------------------------

    def loop_lag(self) -> LagStats | None:
        """This process's event-loop lag and its last stall's offender (None without a pool);
        every process's is in ``worker_processes()``."""
        monitor = self._pool.loop_monitor if self._pool is not None else None
        return monitor.snapshot(reset=False) if monitor is not None else None

    def add_loop_lag_observer(self, observer: Callable[[float], None]) -> None:
        """Call ``observer(seconds)`` with every lag sample of this process's loop (the API's
        Prometheus histogram), also once a pool starts later. Must be quick and must not raise."""
        if observer not in self._lag_observers:
            self._lag_observers.append(observer)
        self._add_to_monitor(observer)

    def remove_loop_lag_observer(self, observer: Callable[[float], None]) -> None:
        if observer in self._lag_observers:
            self._lag_observers.remove(observer)
        monitor = self._pool.loop_monitor if self._pool is not None else None
        if monitor is not None and observer in monitor.observers:
            monitor.observers.remove(observer)

    def _add_to_monitor(self, observer: Callable[[float], None]) -> None:
        monitor = self._pool.loop_monitor if self._pool is not None else None
        if monitor is not None and observer not in monitor.observers:
            monitor.observers.append(observer)

    # -- commands --------------------------------------------------------------------------

    @_redis_errors
    async def cancel(self, job_id: str) -> str:
        return await self._require().cancel(job_id)

    @_redis_errors
    async def retry(self, job_id: str) -> str:
        return await self._require().retry(job_id)

    @_redis_errors
    async def retry_dead(self, queue: str = DEFAULT_QUEUE) -> int:
        check_queue_name(queue)
        return await self._require().retry_dead(queue)

    @_redis_errors
    async def delete(self, job_id: str) -> str:
        return await self._require().delete(job_id)

    @_redis_errors
    async def delete_dead(self, queue: str = DEFAULT_QUEUE) -> int:
        """Delete every dead job of a queue, atomically; returns how many went."""
        check_queue_name(queue)
        return await self._require().delete_dead(queue)

    @_redis_errors
    async def forget_queue(self, queue: str) -> None:
        """Forget a queue that holds no jobs and that no live worker serves (a typo, a fuzzer's
        queue): it leaves ``stats()``, the API and the TUI. Raises ``QueueNotFound`` for a name
        nobody knows and ``QueueNotEmpty`` (409 over HTTP) when it still holds ready, waiting,
        active or dead jobs, schedules (they would go on firing into it) or workflow records
        (``delete_workflow`` them first), or a live worker
        process serves it. A name that breaks the queue-name rule is refused with
        ``InvalidRequest`` unless it is in the queue set (left there by an older version), so
        such a name can still be cleaned up."""
        broker = self._require()
        if queue not in await broker.queues():
            check_queue_name(queue)  # a bad name already in the set (an older version's) may go
            raise QueueNotFound(f"no queue named {queue[:100]!r}")
        servers = [w.id for w in await broker.workers() if queue in w.queues]
        if servers:
            raise QueueNotEmpty(
                f"queue {queue[:100]!r} is served by {len(servers)} live worker process(es); stop them first",
                details={"workers": servers[:20]},
            )
        left = await broker.forget_queue(queue)
        if left is not None:
            held = ", ".join(f"{n} {status}" for status, n in left.items() if n)
            jobs = sum(left.values()) - left["schedules"] - left["workflows"]
            kinds = " and ".join(
                kind for kind, n in (("jobs", jobs), ("schedules", left["schedules"]), ("workflows", left["workflows"])) if n
            )
            raise QueueNotEmpty(f"queue {queue[:100]!r} still holds {kinds} ({held}); delete them first", details=left)
        self._valid_queues.discard(queue)

    @_redis_errors
    async def pause_queue(self, queue: str = DEFAULT_QUEUE) -> None:
        check_queue_name(queue)
        await self._require().pause(queue)

    @_redis_errors
    async def resume_queue(self, queue: str = DEFAULT_QUEUE) -> None:
        check_queue_name(queue)
        await self._require().resume(queue)

    @_redis_errors
    async def command_worker(self, worker_id: str, *, concurrency: int | None = None, paused: bool | None = None) -> None:
        """Scale or pause any live worker process; this process's own pool reacts at once
        (no Redis round trip), so one call serves a local and a remote target alike."""
        if concurrency is not None and not (0 <= concurrency <= defaults.MAX_CONCURRENCY):
            raise InvalidRequest(f"concurrency must be between 0 and {defaults.MAX_CONCURRENCY}")
        if self._pool is not None and worker_id == self.worker_id:
            if concurrency is not None:
                self._pool.scale(concurrency)
            if paused is not None:
                self._pool.pause() if paused else self._pool.resume()
            return
        await self._require().command_worker(worker_id, concurrency=concurrency, paused=paused)

    # -- this process's pool ---------------------------------------------------------------

    @property
    def has_pool(self) -> bool:
        """This engine runs a worker pool (``workers > 0`` and started)."""
        return self._pool is not None

    def pool_state(self) -> PoolState | None:
        """What this process's pool is doing (read locally, no Redis); None without a pool."""
        pool = self._pool
        if pool is None:
            return None
        return PoolState(
            worker_id=self.worker_id,
            concurrency=pool.concurrency,
            busy=pool.busy,
            paused=pool.paused,
            in_flight=pool.in_flight,
            grace_period=pool.settings.grace_period,
            running=pool.running(),
        )

    def add_job_observer(self, observer: JobObserver) -> None:
        """Call ``observer`` after every attempt this process's pool runs (also a pool started
        later); adding the same observer twice has no effect."""
        if observer not in self._observers:
            self._observers.append(observer)
        if self._pool is not None and observer not in self._pool.observers:
            self._pool.observers.append(observer)

    def remove_job_observer(self, observer: JobObserver) -> None:
        for observers in (self._observers, self._pool.observers if self._pool is not None else []):
            if observer in observers:
                observers.remove(observer)

    async def drain(self, on_progress: Callable[[int], None] | None = None) -> None:
        """Stop this process's pool gracefully (the first step of ``stop``, on its own, for a
        quit dialog): fetching stops, running jobs get the grace period, the rest go back to
        ready. ``on_progress(busy)`` reports the jobs still running."""
        if self._pool is not None:
            await self._pool.stop(on_progress=on_progress)

    def stop_running_jobs(self) -> None:
        """Cancel every job this process's pool is running, as in a shutdown: they go back to
        ready without counting the attempt (a quit that should not wait)."""
        if self._pool is None:
            return
        for running in self._pool.running():
            self._pool.cancel_job(running.job_id, "shutdown")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _run_at_seconds(run_at: object) -> float:
    """Epoch seconds of a ``run_at`` given as epoch seconds or an aware datetime. A naive
    datetime is refused, as schedules' ``start``/``end`` and the API's ISO times are: reading
    it as this machine's local time would make the due time depend on where it was submitted."""
    if isinstance(run_at, datetime):
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise InvalidRequest("run_at: a datetime needs a time zone (e.g. datetime(..., tzinfo=timezone.utc))")
        try:
            when = run_at.timestamp()
        except (OverflowError, OSError, ValueError):
            when = -1.0
    elif _is_number(run_at):
        when = float(run_at)  # type: ignore[arg-type]
    else:
        raise InvalidRequest(
            f"run_at must be epoch seconds or a datetime with a time zone, not {type(run_at).__name__}"
        )
    if not (0 <= when <= MAX_RUN_AT_S):
        raise InvalidRequest("run_at is out of range: epoch seconds from 0 to 9999-12-31T23:59:59Z")
    return when


def request_fingerprint(
    job_type: str, payload_json: str, queue: str, max_attempts: int, delay_ms: int, run_at_ms: int
) -> str:
    """A digest of what a submit asked for, to tell a repeat (same digest) from a different
    request reusing an idempotency key. Key order in the payload does not matter, and the times
    are the normalised milliseconds (-1: not given), so ``delay=10`` from Python and ``10.0``
    from JSON, or ``run_at`` as a datetime or as epoch seconds, are the same request."""
    canonical = orjson.dumps(
        [job_type, orjson.loads(payload_json), queue, max_attempts, delay_ms, run_at_ms], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def _conflict(key: str, job_id: str) -> IdempotencyConflict:
    shown = key if len(key) <= 80 else key[:77] + "..."
    return IdempotencyConflict(
        f"Idempotency-Key {shown!r} was already used for a different request (job {job_id}); "
        "send the same type, payload and options to get that job, or use a new key",
        details={"job_id": job_id},
    )


def _fresh_job(queue: str, spec: EnqueueSpec, now_ms: int) -> Job:
    if spec.run_at_ms >= 0:
        due = spec.run_at_ms
    elif spec.delay_ms > 0:
        due = now_ms + spec.delay_ms
    else:
        due = now_ms
    return Job(
        id=spec.id,
        type=spec.type,
        queue=queue,
        status="waiting" if due > now_ms else "ready",
        payload=orjson.loads(spec.payload_json),
        attempts=0,
        max_attempts=spec.max_attempts,
        created_at=now_ms,
        due_at=due,
        timeout_ms=spec.timeout_ms,
        idempotency_key=spec.idempotency_key or None,
    )
