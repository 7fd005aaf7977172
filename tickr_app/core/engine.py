"""``Tickr``: the engine one process runs — Redis connection, scheduler and worker pool.

It works inside an already running event loop (Jupyter, the TUI, aiohttp), and with
``workers=0`` it is a producer only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from redis.exceptions import RedisError

from .backoff import Reconnect
from .batcher import EnqueueBatcher
from .broker import (
    Broker,
    BrokerSettings,
    EnqueueSpec,
    ListableStatus,
    QueueStats,
    WorkerInfo,
    default_worker_id,
    event_job_ids,
)
from .connection import connect, mask_text
from .errors import IdempotencyConflict, InvalidRequest, JobNotFound, QueueNotEmpty, QueueNotFound, RedisUnavailable
from .home import tickr_home
from .job import Job
from .keys import DEFAULT_PREFIX, DEFAULT_QUEUE
from .notify import Listener
from .pool import PoolSettings, WorkerPool
from .registry import Registry, default_registry
from .reprs import JobList, StatsReport, WorkerList
from .scheduler import Scheduler

log = logging.getLogger("tickr.engine")

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


class Tickr:
    def __init__(
        self,
        redis_url: str | None = None,
        *,
        workers: int = 5,
        queues: Sequence[str] | None = None,
        prefix: str = DEFAULT_PREFIX,
        registry: Registry | None = None,
        home: str | Path | None = None,
        lease: float = 30.0,
        grace_period: float = 30.0,
        scheduler: bool | None = None,
        builtin_jobs: bool = True,
        worker_id: str | None = None,
        retention: float = 24 * 3600,
        dead_cap: int = 10_000,
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
            from tickr_app.jobs import register_builtins

            register_builtins(self.registry)
        self.home = tickr_home(home)
        self.prefix = prefix
        self.worker_id = worker_id or default_worker_id()
        self._queues = list(queues) if queues else None
        self._run_scheduler = workers > 0 if scheduler is None else scheduler
        self._pool_settings = PoolSettings(
            concurrency=workers, lease_ms=int(lease * 1000), grace_period=grace_period
        )
        self._broker_settings = BrokerSettings(
            prefix=prefix, retention_ms=int(retention * 1000), dead_cap=dead_cap
        )
        self._sweep_interval = sweep_interval if sweep_interval is not None else min(1.0, lease / 4)
        self._external_redis = redis
        self._embedded: Any = None
        self.broker: Broker | None = None
        self._batcher: EnqueueBatcher | None = None
        self.listener: Listener | None = None
        self.scheduler: Scheduler | None = None
        self.pool: WorkerPool | None = None
        self._started = False
        self._valid_queues: set[str] = set()
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
            self.broker = Broker(redis, self._broker_settings)
            self._batcher = EnqueueBatcher(self.broker)
            await self.broker.ping()
            await self.broker.register_queues(self.queues)
        except (RedisError, OSError) as exc:
            await self._close_connection()
            raise RedisUnavailable(
                f"cannot reach Redis at {mask_text(url or '(client)')}: {mask_text(str(exc))}"
            ) from None
        except BaseException:
            await self._close_connection()
            raise
        self.listener = Listener(self.broker.redis)
        if self._run_scheduler:
            self.scheduler = Scheduler(self.broker, self.listener, sweep_interval=self._sweep_interval)
            for queue in self.queues:
                self.scheduler.add_queue(queue)
        if self.workers > 0:
            self.pool = WorkerPool(
                self.broker,
                self.registry,
                self.queues,
                self.listener,
                settings=self._pool_settings,
                worker_id=self.worker_id,
                home=self.home,
                stats_source=self._stats_dicts,
            )
        if self.scheduler is not None and self.pool is not None:
            self.scheduler.pool = self.pool
        if self.pool:
            await self.pool.start()  # registers its wake and control channels
        self.listener.start()
        if self.scheduler or self.pool:
            # Be subscribed before returning and before the first promote: a wake, cancel or
            # scale message published before the subscription would be lost, and only the
            # slow fallbacks (idle re-check, lease heartbeat) would pick it up.
            try:
                await asyncio.wait_for(self.listener.connected.wait(), 5.0)
            except TimeoutError:
                log.warning("pub/sub is not connected yet; wake-ups and commands may be slow until it is")
        if self.scheduler:
            self.scheduler.start()
        self._started = True
        return self

    async def stop(self, *, graceful: bool = True, grace_period: float | None = None) -> None:
        """Graceful: running jobs finish within the grace period, the rest go back to ready."""
        if not self._started:
            await self._close_connection()
            return
        self._started = False
        # The scheduler first: it hands freshly leased jobs to the pool, which must still take them.
        if self.scheduler:
            await self.scheduler.stop()
        if self.pool:
            if graceful:
                await self.pool.stop(grace_period)
            else:
                await self.pool.kill()
        if self.listener:
            await self.listener.stop()
        await self._close_connection()

    async def _close_connection(self) -> None:
        if self.broker is not None and self._external_redis is None:
            try:
                await self.broker.close()
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
        if self.broker is None:
            raise RuntimeError("Tickr is not started: use `async with Tickr(...)` or `await tickr.start()`")
        return self.broker

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
            if not (0 <= req.delay <= MAX_DELAY_S):
                raise InvalidRequest(f"delay must be between 0 and {MAX_DELAY_S} seconds")
            delay_ms = round(req.delay * 1000)
        if req.run_at is not None:
            when = req.run_at.timestamp() if isinstance(req.run_at, datetime) else float(req.run_at)
            if not (0 <= when <= MAX_RUN_AT_S):
                raise InvalidRequest("run_at is out of range: epoch seconds from 0 to 9999-12-31T23:59:59Z")
            run_at_ms = round(when * 1000)
        max_attempts = job_type.max_attempts if req.max_attempts is None else req.max_attempts
        if not (1 <= max_attempts <= 1000):
            raise InvalidRequest("max_attempts must be between 1 and 1000")
        key = req.idempotency_key or ""
        if len(key) > 200:
            raise InvalidRequest("idempotency key is longer than 200 characters")
        queue = req.queue or job_type.queue
        if queue not in self._valid_queues:
            _check_queue_name(queue)
            if len(self._valid_queues) < 10_000:
                self._valid_queues.add(queue)
        fingerprint = ""
        if key:
            fingerprint = request_fingerprint(job_type.name, payload_json, queue, max_attempts, req.delay, req.run_at)
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
        job_id, created = await self._batcher.enqueue(queue_name, spec)
        if created:
            return _fresh_job(queue_name, spec, now_ms)
        if created is None:
            raise _conflict(spec.idempotency_key, job_id)
        existing = await _redis_call(broker.get(job_id, queue_name))
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
                results = await _redis_call(broker.enqueue(queue, [specs[i][1] for i in chunk]))
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
            existing = await broker.get(job_id, queue)
            if existing is None:
                raise JobNotFound(f"the job for this idempotency key ({job_id}) no longer exists")
            out[i] = existing
        return [j for j in out if j is not None]

    # -- reading ---------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        return await _redis_call(self._require().get(job_id))

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Wait until the job is finished (succeeded, dead or cancelled), without polling:
        it follows the queue's event stream."""
        broker = self._require()
        queue = await _redis_call(broker.find_queue(job_id))
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
                except RedisError:
                    # Redis restarting: keep waiting (the caller's timeout still bounds it).
                    await asyncio.sleep(backoff.next_delay())

        return await asyncio.wait_for(follow(), timeout)

    async def stats(self) -> dict[str, QueueStats]:
        """Counts per queue, as a ``dict`` (a ``StatsReport``: one table in a notebook)."""
        broker = self._require()
        names = sorted(set(await broker.queues()) | set(self.queues))
        return StatsReport({q: await broker.queue_stats(q) for q in names})

    async def _stats_dicts(self) -> dict[str, dict[str, Any]]:
        return {name: s.to_dict() for name, s in (await self.stats()).items()}

    async def list_jobs(
        self, queue: str = DEFAULT_QUEUE, status: ListableStatus = "ready", limit: int = 50, *, job_type: str | None = None
    ) -> list[Job]:
        """Jobs in one status, in dashboard order; with ``job_type``, only that type's (among the
        first 10,000 jobs of that status)."""
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
        if self.pool is not None and queue in self.queues:
            return True
        now = time.monotonic()
        if self._served is None or now - self._served[0] > SERVED_CACHE_S:
            # Concurrent submits share one read of the registry.
            if self._served_read is None or self._served_read.done():
                self._served_read = asyncio.ensure_future(self._read_served())
            self._served = (now, await asyncio.shield(self._served_read))
        return queue in self._served[1]

    async def _read_served(self) -> frozenset[str]:
        workers = await _redis_call(self._require().workers())
        return frozenset(q for w in workers for q in w.queues)

    async def worker_processes(self) -> list[WorkerInfo]:
        return WorkerList(await self._require().workers())

    # -- commands --------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> str:
        return await self._require().cancel(job_id)

    async def retry(self, job_id: str) -> str:
        return await self._require().retry(job_id)

    async def retry_dead(self, queue: str = DEFAULT_QUEUE) -> int:
        return await self._require().retry_dead(queue)

    async def delete(self, job_id: str) -> str:
        return await self._require().delete(job_id)

    async def delete_dead(self, queue: str = DEFAULT_QUEUE) -> int:
        """Delete every dead job of a queue, atomically; returns how many went."""
        return await _redis_call(self._require().delete_dead(queue))

    async def forget_queue(self, queue: str) -> None:
        """Forget a queue that holds no jobs and that no live worker serves (a typo, a fuzzer's
        queue): it leaves ``stats()``, the API and the TUI. Raises ``QueueNotFound`` for a name
        nobody knows and ``QueueNotEmpty`` (409 over HTTP) when it still holds ready, waiting,
        active or dead jobs or a live worker process serves it."""
        broker = self._require()
        if queue not in await _redis_call(broker.queues()):
            raise QueueNotFound(f"no queue named {queue[:100]!r}")
        servers = [w.id for w in await _redis_call(broker.workers()) if queue in w.queues]
        if servers:
            raise QueueNotEmpty(
                f"queue {queue[:100]!r} is served by {len(servers)} live worker process(es); stop them first",
                details={"workers": servers[:20]},
            )
        left = await _redis_call(broker.forget_queue(queue))
        if left is not None:
            held = ", ".join(f"{n} {status}" for status, n in left.items() if n)
            raise QueueNotEmpty(f"queue {queue[:100]!r} still holds jobs ({held}); delete them first", details=left)
        self._valid_queues.discard(queue)

    async def pause_queue(self, queue: str = DEFAULT_QUEUE) -> None:
        await self._require().pause(queue)

    async def resume_queue(self, queue: str = DEFAULT_QUEUE) -> None:
        await self._require().resume(queue)

    async def command_worker(self, worker_id: str, *, concurrency: int | None = None, paused: bool | None = None) -> None:
        """Scale or pause any live worker process; this process's own pool reacts at once."""
        if concurrency is not None and not (0 <= concurrency <= 10_000):
            raise InvalidRequest("concurrency must be between 0 and 10000")
        if self.pool is not None and worker_id == self.worker_id:
            if concurrency is not None:
                self.pool.scale(concurrency)
            if paused is not None:
                self.pool.pause() if paused else self.pool.resume()
            return
        await self._require().command_worker(worker_id, concurrency=concurrency, paused=paused)


def new_job_id() -> str:
    """A random (version 4) UUID string, built without uuid.UUID's per-call overhead."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def request_fingerprint(
    job_type: str, payload_json: str, queue: str, max_attempts: int, delay: float | None, run_at: Any
) -> str:
    """A digest of what a submit asked for, to tell a repeat (same digest) from a different
    request reusing an idempotency key. Key order in the payload does not matter."""
    if isinstance(run_at, datetime):
        run_at = run_at.timestamp()
    canonical = orjson.dumps(
        [job_type, orjson.loads(payload_json), queue, max_attempts, delay, run_at], option=orjson.OPT_SORT_KEYS
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


_QUEUE_NAME_MAX = 100


def _check_queue_name(queue: str) -> None:
    if not queue or len(queue) > _QUEUE_NAME_MAX or any(c in queue for c in "{}:, \t\r\n"):
        raise InvalidRequest(
            f"invalid queue name {queue[:120]!r}: 1-{_QUEUE_NAME_MAX} characters, no spaces, commas, colons or braces"
        )


async def _redis_call(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (RedisError, OSError) as exc:
        raise RedisUnavailable(f"Redis is unavailable: {mask_text(str(exc))}") from None
