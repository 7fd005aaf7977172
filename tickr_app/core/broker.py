"""All of Tickr's Redis access. Every job state change is one Lua script call (see lua/)."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from . import defaults
from .errors import InvalidRequest, JobNotFound, WrongState
from .job import STATUSES, Job
from .keys import DEFAULT_PREFIX, GlobalKeys, QueueKeys, queue_keys
from .limits import LimitState, QueueLimits, Rate, limited_types, scope_config
from .priority import priority_of_score
from .queue_policy import format_weights, parse_weights
from .records import (  # noqa: F401  (re-exported: older imports from the broker keep working)
    EnqueueSpec,
    LagStats,
    LeasedJob,
    ListableStatus,
    QueueStats,
    WorkerInfo,
    event_count,
    event_job_ids,
)
from .scripts import Enqueued, FailOutcome, Fetched, LeaseState, Promoted, Scripts

HOUR_MS = 3_600_000
REREGISTER_S = 10.0
"""A process adds a queue it enqueues to back to the queue set at least this often, so a queue
forgotten elsewhere (``forget_queue``) that gets jobs again is listed again within seconds."""


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    prefix: str = DEFAULT_PREFIX
    retention_ms: int = int(defaults.RETENTION_S * 1000)
    """How long succeeded and cancelled job records are kept."""
    idempotency_ttl_ms: int = int(defaults.RETENTION_S * 1000)
    dead_cap: int = defaults.DEAD_CAP
    """Dead jobs kept per queue; the oldest are dropped beyond this."""
    events_maxlen: int = defaults.EVENTS_MAXLEN
    """Approximate length of each queue's event stream."""


_STAT_FIELDS = (
    "enqueued",
    "processed",
    "succeeded",
    "failed",
    "retried",
    "cancelled",
    "limited",
    "rate_limited",
    "throttled_ms",
)


class Broker:
    """One Redis client and its scripts; the only place that knows the key layout."""

    def __init__(self, redis: Any, settings: BrokerSettings | None = None) -> None:
        self.redis = redis
        self.settings = settings or BrokerSettings()
        s = self.settings
        self.scripts: Scripts[LeasedJob] = Scripts(
            redis,
            leased_job=LeasedJob,
            events_maxlen=s.events_maxlen,
            retention_ms=s.retention_ms,
            idempotency_ttl_ms=s.idempotency_ttl_ms,
            dead_cap=s.dead_cap,
        )
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
        pipe.exists(k.limits, k.held)
        pipe.zcard(k.ready_prio)
        pipe.zrange(k.ready_prio, 0, 0, withscores=True)
        ready, waiting, active, dead, paused, counters, limited, prioritised, top = await pipe.execute()
        stats = QueueStats(queue, ready + prioritised, waiting, active, dead, bool(paused))
        stats.prioritised = prioritised
        stats.top_priority = priority_of_score(top[0][1]) if top else None
        if limited:
            stats.limits = await self.limits(queue)
        for name, value in counters.items():
            if "|" in name:
                what, jtype = name.split("|", 1)
                stats.by_type.setdefault(jtype, {})[what] = int(value)
            elif name in _STAT_FIELDS:
                setattr(stats, name, int(value))
        return stats

    # -- limits ----------------------------------------------------------------------------

    async def set_limits(
        self,
        queue: str,
        job_type: str | None,
        *,
        rate: Rate | None = None,
        concurrency: int | None = None,
        clear_rate: bool = False,
        clear_concurrency: bool = False,
        declared: bool = False,
    ) -> bool:
        """Set or clear one scope's limits (``declared``: the @job defaults, which do not list the
        type's queue in the queue set: a worker start must not conjure up queues); True if changed."""
        if not declared:
            await self.register_queues([queue])
        return await self.scripts.limits_set(
            self.keys(queue),
            job_type or "",
            declared=declared,
            rate="-" if clear_rate else (str(rate.count) if rate else ""),
            per_ms=rate.per_ms if rate else 0,
            concurrency="-" if clear_concurrency else (str(concurrency) if concurrency else ""),
        )

    async def limits(self, queue: str) -> QueueLimits:
        """The queue's limits and what they hold back now (read without a script: a snapshot)."""
        k = self.keys(queue)
        now = await self.time_ms()  # not in the pipeline: a cluster pipeline refuses keyless TIME
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(k.limits)
        pipe.zrange(k.held, 0, -1)
        cfg, held = await pipe.execute()
        out = QueueLimits(queue, scope_config(cfg, ""))
        types = sorted(limited_types(cfg) | set(held))
        for jtype in types:
            out.types[jtype] = scope_config(cfg, "|" + jtype)
        pipe = self.redis.pipeline(transaction=False)
        scopes: list[tuple[LimitState, str | None]] = [(out.limits, None)] + [(out.types[t], t) for t in types]
        for state, jtype in scopes:
            rate = _rate_of(cfg, "" if jtype is None else "|" + jtype)
            pipe.zcount(k.rate_log(jtype), f"({now - rate.per_ms}" if rate else "+inf", "+inf")
            pipe.zcount(k.active if jtype is None else k.running(jtype), f"({now}", "+inf")
            if jtype is None:
                pipe.zcard(k.held)
            else:
                pipe.zcard(k.held_jobs(jtype))
        replies = await pipe.execute()
        for i, (state, jtype) in enumerate(scopes):
            started, running, held_n = replies[i * 3 : i * 3 + 3]
            rate = _rate_of(cfg, "" if jtype is None else "|" + jtype)
            state.running = int(running)
            if rate:
                state.started = int(started)
                state.current_rate = round(int(started) * 1000 / rate.per_ms, 3)
            if jtype is None:
                state.paused_ms = max(0, int(cfg.get("pause", 0)) - now)
                state.throttled = bool(
                    state.paused_ms
                    or (rate and state.started is not None and state.started >= rate.count)
                    or (state.concurrency and state.running >= state.concurrency)
                )
                continue
            state.held = int(held_n)
            pause = int(cfg.get("pause|" + jtype, 0))
            state.paused_ms = max(0, pause - now)
            state.throttled = bool(
                state.paused_ms
                or (rate and state.started is not None and state.started >= rate.count)
                or (state.concurrency and state.running >= state.concurrency)
            )
        out.limits.held = sum(t.held for t in out.types.values())
        return out

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(self, queue: str, specs: Sequence[EnqueueSpec]) -> list[Enqueued]:
        """Enqueue in one atomic script call; returns (job id, created) per spec: created is
        True for a new job, False when an idempotency key returned the job an identical earlier
        request made, and None when the key belongs to a different request (nothing enqueued)."""
        await self.register_queues([queue])
        return await self.scripts.enqueue(self.keys(queue), specs)

    # -- leasing ---------------------------------------------------------------------------

    async def fetch(self, queue: str, n: int, worker_id: str, lease_ms: int) -> list[LeasedJob] | None:
        """Lease up to n jobs (at most 1,000 per call); None when the queue is paused for every process."""
        return (await self.scripts.fetch(self.keys(queue), n, worker_id, lease_ms)).jobs

    async def fetch_limited(self, queue: str, n: int, worker_id: str, lease_ms: int) -> Fetched[LeasedJob]:
        """``fetch`` that also says whether the queue's limits throttled it and for how long."""
        return await self.scripts.fetch(self.keys(queue), n, worker_id, lease_ms)

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
        return await self.scripts.ack(self.keys(queue), items)

    async def fail(
        self, job: LeasedJob, error: str, traceback: str, retry_delay_ms: int, *, retryable: bool = True
    ) -> FailOutcome:
        """Record a failed attempt; returns 'retry', 'dead', 'cancelled' (a cancel was requested
        while it ran) or 'rejected' (lease lost)."""
        return await self.scripts.fail(self.keys(job.queue), job, error, traceback, retry_delay_ms, retryable=retryable)

    async def heartbeat(self, queue: str, jobs: Sequence[LeasedJob], lease_ms: int) -> list[LeaseState]:
        """Extend leases; per job 0 lost, 1 extended, 2 extended and cancel requested."""
        if not jobs:
            return []
        return await self.scripts.heartbeat(self.keys(queue), jobs, lease_ms)

    async def release(self, job: LeasedJob) -> bool:
        return await self.scripts.release(self.keys(job.queue), job)

    async def rate_limited(self, job: LeasedJob, retry_after_ms: int, *, whole_queue: bool = False) -> bool:
        """The handler raised RateLimited: give the job back uncounted and pause its type (or
        its whole queue)."""
        return await self.scripts.rate_limited(self.keys(job.queue), job, retry_after_ms, whole_queue=whole_queue)

    async def finish_cancel(self, job: LeasedJob) -> bool:
        return await self.scripts.finish_cancel(self.keys(job.queue), job)

    async def progress(self, queue: str, job_id: str, token: str, percent: float, message: str) -> bool:
        return await self.scripts.progress(self.keys(queue), job_id, token, percent, message)

    # -- scheduling ------------------------------------------------------------------------

    async def promote(self, queue: str, batch: int = 1000) -> tuple[int, int, int]:
        """Move due jobs to ready; returns (promoted, next due ms or -1, Redis now µs)."""
        promoted, next_due, now_us, _ = await self.promote_and_lease(queue, batch)
        return promoted, next_due, now_us

    async def promote_and_lease(
        self, queue: str, batch: int = 1000, lease_n: int = 0, worker_id: str = "", lease_ms: int = 0
    ) -> Promoted[LeasedJob]:
        """Promote due jobs and, if any were promoted, lease up to ``lease_n`` ready jobs to the
        calling process in the same script (one round trip less for a delayed job)."""
        return await self.scripts.promote(self.keys(queue), batch, lease_n, worker_id, lease_ms)

    async def recover(self, queue: str, batch: int = 500) -> int:
        """Take back jobs whose lease expired; returns how many."""
        return await self.scripts.recover(self.keys(queue), batch, random.random())

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
            return await self._ready_ids(k, limit, offset)
        if status == "waiting":
            return await self.redis.zrange(k.waiting, offset, stop)
        if status == "active":
            return await self.redis.zrange(k.active, offset, stop)
        key = {"dead": k.dead, "succeeded": k.succeeded, "cancelled": k.cancelled}[status]
        return await self.redis.zrevrange(key, offset, stop)

    async def _ready_ids(self, k: QueueKeys, limit: int, offset: int) -> list[str]:
        """Ready ids in fetch order: positive priorities (highest first), the list of priority
        0, then negative priorities."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcount(k.ready_prio, "-inf", "(0")
        pipe.llen(k.ready)
        high, plain = await pipe.execute()
        ids: list[str] = []
        if offset < high:
            ids += await self.redis.zrange(k.ready_prio, offset, min(high, offset + limit) - 1)
        start = max(0, offset - high)
        if len(ids) < limit and start < plain:
            stop = start + (limit - len(ids)) - 1
            # The tail of the list is the head of the queue (workers RPOP).
            ids += reversed(await self.redis.lrange(k.ready, -(stop + 1), -(start + 1)))
        start = max(0, offset - high - plain)
        if len(ids) < limit:
            ids += await self.redis.zrange(k.ready_prio, high + start, high + start + (limit - len(ids)) - 1)
        return ids

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
        r = await self.scripts.cancel(self.keys(queue), job_id, self.global_keys.control_prefix)
        return _checked(r, job_id, ("cancelled", "requested"), "cancel")

    async def retry(self, job_id: str) -> str:
        queue = await self._queue_of(job_id)
        r = await self.scripts.retry(self.keys(queue), job_id)
        return _checked(r, job_id, ("ready",), "retry")

    async def retry_dead(self, queue: str, limit: int = 10_000) -> int:
        return await self.scripts.retry_dead(self.keys(queue), limit)

    async def delete_dead(self, queue: str) -> int:
        """Delete every dead job of ``queue`` in one script call; returns how many."""
        return await self.scripts.delete_dead(self.keys(queue))

    async def forget_queue(self, queue: str) -> dict[str, int] | None:
        """Forget a queue that holds no ready, waiting, active or dead job and no schedule: its
        finished records, counters, events and pause flag go, and its name leaves the queue set.
        Returns None when forgotten, else the counts that stopped it (nothing changed)."""
        k = self.keys(queue)
        held = await self.scripts.forget_queue(k)
        if held is not None:
            return held._asdict()
        # The queue set has no hash tag, so it cannot be in the script (Cluster): remove the name
        # after, then put it back if a job slipped in meanwhile.
        await self.redis.srem(self.global_keys.queues, queue)
        self._known_queues.discard(queue)
        self._registered.pop(queue, None)
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(k.ready)
        pipe.zcard(k.ready_prio)
        pipe.zcard(k.waiting)
        if any(await pipe.execute()):
            await self.register_queues([queue])
        return None

    async def set_priority(self, job_id: str, priority: int) -> str:
        """Change a waiting or ready job's priority; returns its status."""
        queue = await self._queue_of(job_id)
        r = await self.scripts.set_priority(self.keys(queue), job_id, priority)
        return _checked(r, job_id, ("waiting", "ready"), "change the priority of")

    async def delete(self, job_id: str) -> str:
        queue = await self._queue_of(job_id)
        r = await self.scripts.delete(self.keys(queue), job_id)
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
                "weights": format_weights(info.weights),
                "strict": int(info.strict),
                **({"loop": orjson.dumps(asdict(info.loop)).decode()} if info.loop is not None else {}),
            },
        )
        pipe.pexpire(key, ttl_ms)
        pipe.zadd(g.workers, {info.id: info.heartbeat_at})
        await pipe.execute()
        stored = await self.scripts.take_commands(key)
        commands: dict[str, str] = {}
        if stored.concurrency is not None:
            commands["concurrency"] = stored.concurrency
        if stored.paused is not None:
            commands["paused"] = stored.paused
        if stored.weights is not None:
            commands["weights"] = stored.weights
        if stored.strict is not None:
            commands["strict"] = stored.strict
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
                    loop=_lag_stats(h.get("loop")),
                    weights=_weights(h),
                    strict=h.get("strict") == "1",
                )
            )
        if gone:
            await self.redis.zrem(g.workers, *gone)
        return out

    async def command_worker(
        self,
        worker_id: str,
        *,
        concurrency: int | None = None,
        paused: bool | None = None,
        weights: Mapping[str, int] | None = None,
        strict: bool | None = None,
    ) -> None:
        """Tell a worker process (any host) to scale, pause or reweigh its queues: stored for
        its next heartbeat and published for an immediate reaction."""
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
        if weights:
            mapping["cmd_weights"] = format_weights(weights)
        if strict is not None:
            mapping["cmd_strict"] = int(strict)
        if not mapping:
            return
        await self.redis.hset(key, mapping=mapping)
        await self.redis.publish(g.control_prefix + worker_id, orjson.dumps(mapping).decode())




def _rate_of(cfg: dict[str, str], scope: str) -> Rate | None:
    """The rate in force for a scope of the limits hash (live, else declared)."""
    for pre in ("", "d"):
        count, per = cfg.get(pre + "rate" + scope), cfg.get(pre + "per" + scope)
        if count and per:
            return Rate(int(count), int(per))
    return None


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


def _weights(record: Mapping[str, str]) -> dict[str, int]:
    """A worker record's queue weights; each queue weighs 1 in a record from an older version."""
    queues = [q for q in record.get("queues", "").split(",") if q]
    try:
        weights = parse_weights(record.get("weights", ""))
    except ValueError:
        weights = {}
    return weights or dict.fromkeys(queues, 1)


def _lag_stats(text: str | None) -> LagStats | None:
    """A worker record's loop-lag field, tolerating records from older or newer versions."""
    if not text:
        return None
    try:
        data = orjson.loads(text)
        return LagStats(**{k: data[k] for k in LagStats.__dataclass_fields__})
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
