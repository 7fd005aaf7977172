"""All of Tickr's Redis access. Every job state change is one Lua script call (see lua/)."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .errors import InvalidRequest, JobNotFound, WrongState
from .job import STATUSES, Job
from .keys import DEFAULT_PREFIX, GlobalKeys, QueueKeys, queue_keys
from .scripts import Scripts

HOUR_MS = 3_600_000
REREGISTER_S = 10.0
"""A process adds a queue it enqueues to back to the queue set at least this often, so a queue
forgotten elsewhere (``forget_queue``) that gets jobs again is listed again within seconds."""


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    prefix: str = DEFAULT_PREFIX
    retention_ms: int = 24 * HOUR_MS
    """How long succeeded and cancelled job records are kept."""
    idempotency_ttl_ms: int = 24 * HOUR_MS
    dead_cap: int = 10_000
    """Dead jobs kept per queue; the oldest are dropped beyond this."""
    events_maxlen: int = 10_000
    """Approximate length of each queue's event stream."""


@dataclass(slots=True)
class EnqueueSpec:
    """One job to enqueue, already validated and encoded."""

    id: str
    type: str
    payload_json: str
    max_attempts: int
    timeout_ms: int
    backoff_base_ms: int
    backoff_cap_ms: int
    delay_ms: int = -1
    run_at_ms: int = -1
    idempotency_key: str = ""
    request_fingerprint: str = ""
    """With an idempotency key: a digest of what was asked (type, payload, options), so a reuse
    of the key for a different request is told apart from a repeat."""


@dataclass(slots=True)
class LeasedJob:
    """A job this process holds a lease on; ``token`` fences it against a late ack."""

    queue: str
    id: str
    token: str
    attempt: int
    type: str
    payload_json: str
    max_attempts: int
    timeout_ms: int
    backoff_base_ms: int
    backoff_cap_ms: int
    created_at: int
    due_at: int


@dataclass(slots=True)
class QueueStats:
    name: str
    ready: int = 0
    waiting: int = 0
    active: int = 0
    dead: int = 0
    paused: bool = False
    enqueued: int = 0
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ready": self.ready,
            "waiting": self.waiting,
            "active": self.active,
            "dead": self.dead,
            "paused": self.paused,
            "enqueued": self.enqueued,
            "processed": self.processed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "retried": self.retried,
            "cancelled": self.cancelled,
            "by_type": self.by_type,
        }

    # Notebook displays (see reprs.py).
    def _repr_html_(self) -> str:
        from .reprs import queue_stats_html

        return queue_stats_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import queue_stats_text

        p.text("QueueStats(...)" if cycle else queue_stats_text(self))


@dataclass(slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    busy: int
    paused: bool
    started_at: int
    heartbeat_at: int
    jobs: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "busy": self.busy,
            "paused": self.paused,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "jobs": self.jobs,
        }

    # Notebook displays (see reprs.py).
    def _repr_html_(self) -> str:
        from .reprs import worker_html

        return worker_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import worker_text

        p.text("WorkerInfo(...)" if cycle else worker_text(self))


ListableStatus = Literal["waiting", "ready", "active", "succeeded", "dead", "cancelled"]
_FETCH_FIELDS = 11
MAX_FETCH = 1000
"""Lua's unpack() limit is about 8,000 values; a fetch batch stays far below it."""
_CREATED: dict[int, bool | None] = {1: True, 0: False, 2: None}
_STAT_FIELDS = ("enqueued", "processed", "succeeded", "failed", "retried", "cancelled")


class Broker:
    """One Redis client and its scripts; the only place that knows the key layout."""

    def __init__(self, redis: Any, settings: BrokerSettings | None = None) -> None:
        self.redis = redis
        self.settings = settings or BrokerSettings()
        self.scripts = Scripts(redis)
        self.global_keys = GlobalKeys(self.settings.prefix)
        self._known_queues: set[str] = set()
        self._registered: dict[str, float] = {}

    def keys(self, queue: str) -> QueueKeys:
        return queue_keys(self.settings.prefix, queue)

    # -- connection ------------------------------------------------------------------------

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def time_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def close(self) -> None:
        await self.redis.aclose()

    # -- queues ----------------------------------------------------------------------------

    async def register_queues(self, queues: Iterable[str]) -> None:
        now = time.monotonic()
        new = {q for q in queues if (last := self._registered.get(q)) is None or now - last >= REREGISTER_S}
        if new:
            await self.redis.sadd(self.global_keys.queues, *new)
            self._known_queues |= new
            self._registered.update(dict.fromkeys(new, now))

    async def queues(self) -> list[str]:
        names = await self.redis.smembers(self.global_keys.queues)
        self._known_queues |= set(names)
        return sorted(names)

    async def pause(self, queue: str) -> None:
        await self.register_queues([queue])
        await self.redis.set(self.keys(queue).paused, "1")

    async def resume(self, queue: str) -> None:
        k = self.keys(queue)
        await self.redis.delete(k.paused)
        await self.redis.publish(k.wake_channel, "resume")

    async def is_paused(self, queue: str) -> bool:
        return bool(await self.redis.exists(self.keys(queue).paused))

    async def queue_stats(self, queue: str) -> QueueStats:
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(k.ready)
        pipe.zcard(k.waiting)
        pipe.zcard(k.active)
        pipe.zcard(k.dead)
        pipe.exists(k.paused)
        pipe.hgetall(k.stats)
        ready, waiting, active, dead, paused, counters = await pipe.execute()
        stats = QueueStats(queue, ready, waiting, active, dead, bool(paused))
        for name, value in counters.items():
            if "|" in name:
                what, jtype = name.split("|", 1)
                stats.by_type.setdefault(jtype, {})[what] = int(value)
            elif name in _STAT_FIELDS:
                setattr(stats, name, int(value))
        return stats

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(self, queue: str, specs: Sequence[EnqueueSpec]) -> list[tuple[str, bool | None]]:
        """Enqueue in one atomic script call; returns (job id, created) per spec: created is
        True for a new job, False when an idempotency key returned the job an identical earlier
        request made, and None when the key belongs to a different request (nothing enqueued)."""
        k = self.keys(queue)
        await self.register_queues([queue])
        keys = [k.ready, k.waiting, k.events, k.stats]
        args: list[Any] = [
            k.wake_channel,
            self.settings.events_maxlen,
            self.settings.idempotency_ttl_ms,
            queue,
            len(specs),
        ]
        for s in specs:
            job_key = k.job(s.id)
            keys.append(job_key)
            keys.append(k.idempotency(s.idempotency_key) if s.idempotency_key else job_key)
            args += [
                s.id,
                s.type,
                s.payload_json,
                s.delay_ms,
                s.run_at_ms,
                s.max_attempts,
                s.timeout_ms,
                s.backoff_base_ms,
                s.backoff_cap_ms,
                s.idempotency_key,
                s.request_fingerprint,
            ]
        flat = await self.scripts.enqueue(keys, args)
        return [(flat[i], _CREATED[flat[i + 1]]) for i in range(0, len(flat), 2)]

    # -- leasing ---------------------------------------------------------------------------

    async def fetch(self, queue: str, n: int, worker_id: str, lease_ms: int) -> list[LeasedJob] | None:
        """Lease up to n jobs (at most 1,000 per call); None when the queue is paused for every process."""
        n = min(n, MAX_FETCH)
        k = self.keys(queue)
        flat = await self.scripts.fetch(
            [k.ready, k.active, k.events, k.paused, k.job_prefix],
            [n, worker_id, lease_ms, self.settings.events_maxlen],
        )
        if flat and flat[0] == "paused":
            return None
        return _leased_jobs(queue, flat, 0)

    async def wait_for_ready(self, queue: str, timeout_s: float) -> bool:
        """Block until the ready list is non-empty, without taking anything from it.

        BLMOVE from the list's tail to its tail is a no-op move that blocks like BLPOP, so an
        idle pool costs Redis nothing and wakes the moment a job is pushed.
        """
        k = self.keys(queue)
        moved = await self.redis.blmove(k.ready, k.ready, timeout_s, "RIGHT", "RIGHT")
        return moved is not None

    async def ack(self, queue: str, items: Sequence[tuple[LeasedJob, str]]) -> list[bool]:
        """Mark jobs succeeded with their JSON results, in one script call."""
        k = self.keys(queue)
        keys = [k.active, k.succeeded, k.events, k.stats]
        args: list[Any] = [self.settings.retention_ms, self.settings.events_maxlen, len(items)]
        for job, result_json in items:
            keys.append(k.job(job.id))
            args += [job.id, job.token, result_json, job.type]
        flags = await self.scripts.ack(keys, args)
        return [f == 1 for f in flags]

    async def fail(
        self, job: LeasedJob, error: str, traceback: str, retry_delay_ms: int, *, retryable: bool = True
    ) -> str:
        """Record a failed attempt; returns 'retry', 'dead', 'cancelled' (a cancel was requested
        while it ran) or 'rejected' (lease lost)."""
        k = self.keys(job.queue)
        return await self.scripts.fail(
            [k.active, k.waiting, k.dead, k.events, k.stats, k.job(job.id), k.job_prefix, k.cancelled],
            [
                job.id,
                job.token,
                error,
                traceback,
                max(0, retry_delay_ms),
                self.settings.dead_cap,
                self.settings.events_maxlen,
                k.wake_channel,
                "0" if retryable else "1",
                self.settings.retention_ms,
            ],
        )

    async def heartbeat(self, queue: str, jobs: Sequence[LeasedJob], lease_ms: int) -> list[int]:
        """Extend leases; per job 0 lost, 1 extended, 2 extended and cancel requested."""
        if not jobs:
            return []
        k = self.keys(queue)
        keys = [k.active] + [k.job(j.id) for j in jobs]
        args: list[Any] = [lease_ms]
        for j in jobs:
            args += [j.id, j.token]
        return [int(x) for x in await self.scripts.heartbeat(keys, args)]

    async def release(self, job: LeasedJob) -> bool:
        k = self.keys(job.queue)
        r = await self.scripts.release(
            [k.active, k.ready, k.events, k.job(job.id)], [job.id, job.token, self.settings.events_maxlen]
        )
        return r == "released"

    async def finish_cancel(self, job: LeasedJob) -> bool:
        k = self.keys(job.queue)
        r = await self.scripts.finish_cancel(
            [k.active, k.cancelled, k.events, k.stats, k.job(job.id)],
            [job.id, job.token, self.settings.retention_ms, self.settings.events_maxlen],
        )
        return r == "cancelled"

    async def progress(self, queue: str, job_id: str, token: str, percent: float, message: str) -> bool:
        k = self.keys(queue)
        r = await self.scripts.progress(
            [k.job(job_id), k.events], [job_id, token, percent, message, self.settings.events_maxlen]
        )
        return r == 1

    # -- scheduling ------------------------------------------------------------------------

    async def promote(self, queue: str, batch: int = 1000) -> tuple[int, int, int]:
        """Move due jobs to ready; returns (promoted, next due ms or -1, Redis now µs)."""
        promoted, next_due, now_us, _ = await self.promote_and_lease(queue, batch)
        return promoted, next_due, now_us

    async def promote_and_lease(
        self, queue: str, batch: int = 1000, lease_n: int = 0, worker_id: str = "", lease_ms: int = 0
    ) -> tuple[int, int, int, list[LeasedJob]]:
        """Promote due jobs and, if any were promoted, lease up to ``lease_n`` ready jobs to the
        calling process in the same script (one round trip less for a delayed job). Returns
        (promoted, next due ms or -1, Redis now µs, leased jobs)."""
        k = self.keys(queue)
        flat = await self.scripts.promote(
            [k.waiting, k.ready, k.events, k.job_prefix, k.active, k.paused],
            [batch, self.settings.events_maxlen, min(lease_n, MAX_FETCH), worker_id, lease_ms],
        )
        return int(flat[0]), int(flat[1]), int(flat[2]), _leased_jobs(queue, flat, 3)

    async def recover(self, queue: str, batch: int = 500) -> int:
        """Take back jobs whose lease expired; returns how many."""
        k = self.keys(queue)
        return int(
            await self.scripts.recover(
                [k.active, k.waiting, k.dead, k.events, k.stats, k.job_prefix],
                [batch, random.random(), self.settings.dead_cap, self.settings.events_maxlen, k.wake_channel],
            )
        )

    async def trim_finished(self, queue: str) -> None:
        """Drop index entries of finished jobs whose records have expired."""
        k = self.keys(queue)
        cutoff = await self.time_ms() - self.settings.retention_ms
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(k.succeeded, "-inf", cutoff)
        pipe.zremrangebyscore(k.cancelled, "-inf", cutoff)
        await pipe.execute()

    # -- lookups ---------------------------------------------------------------------------

    async def find_queue(self, job_id: str) -> str | None:
        queues = sorted(self._known_queues) or await self.queues()
        for attempt in range(2):
            pipe = self.redis.pipeline(transaction=False)
            for q in queues:
                pipe.exists(self.keys(q).job(job_id))
            for q, found in zip(queues, await pipe.execute()):
                if found:
                    return q
            if attempt == 0:
                fresh = await self.queues()
                if fresh == queues:
                    break
                queues = fresh
        return None

    async def get(self, job_id: str, queue: str | None = None) -> Job | None:
        queue = queue or await self.find_queue(job_id)
        if queue is None:
            return None
        h = await self.redis.hgetall(self.keys(queue).job(job_id))
        return Job.from_hash(h) if h else None

    async def get_many(self, queue: str, ids: Sequence[str]) -> list[Job]:
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.keys(queue).job(job_id))
        return [Job.from_hash(h) for h in await pipe.execute() if h]

    async def list_ids(self, queue: str, status: ListableStatus, limit: int = 50, offset: int = 0) -> list[str]:
        """Job ids in one status, in the order a dashboard shows them."""
        if status not in STATUSES:
            raise InvalidRequest(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        k = self.keys(queue)
        stop = offset + limit - 1
        if status == "ready":
            # The tail of the list is the head of the queue (workers RPOP).
            ids = await self.redis.lrange(k.ready, -(stop + 1), -(offset + 1) if offset else -1)
            return list(reversed(ids))
        if status == "waiting":
            return await self.redis.zrange(k.waiting, offset, stop)
        if status == "active":
            return await self.redis.zrange(k.active, offset, stop)
        key = {"dead": k.dead, "succeeded": k.succeeded, "cancelled": k.cancelled}[status]
        return await self.redis.zrevrange(key, offset, stop)

    async def list_jobs(self, queue: str, status: ListableStatus, limit: int = 50, offset: int = 0) -> list[Job]:
        return await self.get_many(queue, await self.list_ids(queue, status, limit, offset))

    # -- commands on one job ---------------------------------------------------------------

    async def _queue_of(self, job_id: str) -> str:
        queue = await self.find_queue(job_id)
        if queue is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return queue

    async def cancel(self, job_id: str) -> str:
        """'cancelled' (was waiting/ready) or 'requested' (was active)."""
        queue = await self._queue_of(job_id)
        k = self.keys(queue)
        r = await self.scripts.cancel(
            [k.ready, k.waiting, k.active, k.cancelled, k.events, k.stats, k.job(job_id)],
            [job_id, self.settings.retention_ms, self.settings.events_maxlen, self.global_keys.control_prefix],
        )
        return _checked(r, job_id, ("cancelled", "requested"), "cancel")

    async def retry(self, job_id: str) -> str:
        queue = await self._queue_of(job_id)
        k = self.keys(queue)
        r = await self.scripts.retry(
            [k.ready, k.dead, k.cancelled, k.events, k.stats, k.job(job_id)], [job_id, self.settings.events_maxlen]
        )
        return _checked(r, job_id, ("ready",), "retry")

    async def retry_dead(self, queue: str, limit: int = 10_000) -> int:
        k = self.keys(queue)
        return int(
            await self.scripts.retry_dead(
                [k.ready, k.dead, k.events, k.stats, k.job_prefix], [limit, self.settings.events_maxlen]
            )
        )

    async def delete_dead(self, queue: str) -> int:
        """Delete every dead job of ``queue`` in one script call; returns how many."""
        k = self.keys(queue)
        return int(await self.scripts.delete_dead([k.dead, k.events, k.job_prefix], [self.settings.events_maxlen]))

    async def forget_queue(self, queue: str) -> dict[str, int] | None:
        """Forget a queue that holds no ready, waiting, active or dead job: its finished records,
        counters, events and pause flag go, and its name leaves the queue set. Returns None when
        forgotten, else the counts that stopped it (nothing changed)."""
        k = self.keys(queue)
        keys = [k.ready, k.waiting, k.active, k.dead, k.succeeded, k.cancelled, k.events, k.stats, k.paused]
        reply = await self.scripts.forget_queue([*keys, k.job_prefix], [])
        if int(reply[0]) == 0:
            return dict(zip(("ready", "waiting", "active", "dead"), (int(x) for x in reply[1:])))
        # The queue set has no hash tag, so it cannot be in the script (Cluster): remove the name
        # after, then put it back if a job slipped in meanwhile.
        await self.redis.srem(self.global_keys.queues, queue)
        self._known_queues.discard(queue)
        self._registered.pop(queue, None)
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(k.ready)
        pipe.zcard(k.waiting)
        if any(await pipe.execute()):
            await self.register_queues([queue])
        return None

    async def delete(self, job_id: str) -> str:
        queue = await self._queue_of(job_id)
        k = self.keys(queue)
        r = await self.scripts.delete(
            [k.ready, k.waiting, k.active, k.dead, k.succeeded, k.cancelled, k.events, k.job(job_id)],
            [job_id, self.settings.events_maxlen],
        )
        return _checked(r, job_id, ("deleted",), "delete")

    # -- events ----------------------------------------------------------------------------

    async def last_event_id(self, queue: str) -> str:
        entries = await self.redis.xrevrange(self.keys(queue).events, count=1)
        return entries[0][0] if entries else "0-0"

    async def read_events(
        self, queue: str, after: str, block_ms: int | None = None, count: int = 1000
    ) -> list[tuple[str, dict[str, str]]]:
        """Events after an id: [(event id, {'e': name, 'id': job ids, 'n': count?})].

        Batch operations (enqueue, fetch, ack, promote) write one event per batch: ``id`` is
        then the comma-joined ids and ``n`` their count; use ``event_job_ids``/``event_count``.
        """
        reply = await self.redis.xread({self.keys(queue).events: after}, count=count, block=block_ms)
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3
            return [tuple(e) for batch in reply.values() for e in batch[0]]  # type: ignore[misc]
        return [(eid, fields) for _stream, entries in reply for eid, fields in entries]

    # -- worker registry -------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo, ttl_ms: int) -> dict[str, str]:
        """Publish this process's state; returns (and clears) commands sent to it meanwhile."""
        g = self.global_keys
        key = g.worker(info.id)
        # Worker keys live in different cluster slots: no MULTI, and no atomicity needed here.
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(
            key,
            mapping={
                "id": info.id,
                "host": info.host,
                "pid": info.pid,
                "queues": ",".join(info.queues),
                "concurrency": info.concurrency,
                "busy": info.busy,
                "paused": int(info.paused),
                "started_at": info.started_at,
                "heartbeat_at": info.heartbeat_at,
                "jobs": ",".join(info.jobs),
            },
        )
        pipe.pexpire(key, ttl_ms)
        pipe.zadd(g.workers, {info.id: info.heartbeat_at})
        await pipe.execute()
        concurrency, paused = await self.scripts.take_commands([key], [])
        commands: dict[str, str] = {}
        if concurrency is not None:
            commands["concurrency"] = concurrency
        if paused is not None:
            commands["paused"] = paused
        return commands

    async def unregister_worker(self, worker_id: str) -> None:
        g = self.global_keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(g.worker(worker_id))
        pipe.zrem(g.workers, worker_id)
        await pipe.execute()

    async def workers(self) -> list[WorkerInfo]:
        """Live worker processes (records expire when heartbeats stop)."""
        g = self.global_keys
        ids = await self.redis.zrange(g.workers, 0, -1)
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hgetall(g.worker(wid))
        out: list[WorkerInfo] = []
        gone: list[str] = []
        for wid, h in zip(ids, await pipe.execute()):
            if not h or "host" not in h:
                gone.append(wid)
                continue
            out.append(
                WorkerInfo(
                    id=wid,
                    host=h["host"],
                    pid=int(h["pid"]),
                    queues=[q for q in h.get("queues", "").split(",") if q],
                    concurrency=int(h["concurrency"]),
                    busy=int(h["busy"]),
                    paused=h.get("paused") == "1",
                    started_at=int(h["started_at"]),
                    heartbeat_at=int(h["heartbeat_at"]),
                    jobs=[j for j in h.get("jobs", "").split(",") if j],
                )
            )
        if gone:
            await self.redis.zrem(g.workers, *gone)
        return out

    async def command_worker(self, worker_id: str, *, concurrency: int | None = None, paused: bool | None = None) -> None:
        """Tell a worker process (any host) to scale or pause: stored for its next heartbeat and
        published for an immediate reaction."""
        from .errors import WorkerNotFound

        g = self.global_keys
        key = g.worker(worker_id)
        if not await self.redis.exists(key):
            raise WorkerNotFound(f"no live worker process with id {worker_id!r}")
        mapping: dict[str, Any] = {}
        if concurrency is not None:
            mapping["cmd_concurrency"] = concurrency
        if paused is not None:
            mapping["cmd_paused"] = int(paused)
        if not mapping:
            return
        await self.redis.hset(key, mapping=mapping)
        await self.redis.publish(g.control_prefix + worker_id, orjson.dumps(mapping).decode())


def _leased_jobs(queue: str, flat: list[Any], start: int) -> list[LeasedJob]:
    """LeasedJobs from a script reply: 11 fields per job from ``start`` on."""
    jobs = []
    for i in range(start, len(flat), _FETCH_FIELDS):
        f = flat[i : i + _FETCH_FIELDS]
        jobs.append(
            LeasedJob(
                queue, f[0], f[1], int(f[2]), f[3], f[4], int(f[5]), int(f[6]), int(f[7]), int(f[8]), int(f[9]), int(f[10])
            )
        )
    return jobs


def event_job_ids(fields: dict[str, str]) -> list[str]:
    ids = fields.get("id", "")
    return ids.split(",") if ids else []


def event_count(fields: dict[str, str]) -> int:
    """How many jobs an event covers (1 unless it is a batch event)."""
    try:
        return int(fields.get("n", 1))
    except ValueError:
        return 1


def _checked(result: str, job_id: str, ok: tuple[str, ...], action: str) -> str:
    if result in ok:
        return result
    if result == "missing":
        raise JobNotFound(f"no job with id {job_id!r}")
    raise WrongState(f"cannot {action} job {job_id} while it is {result}", details={"status": result})


def default_worker_id() -> str:
    import os
    import uuid

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
