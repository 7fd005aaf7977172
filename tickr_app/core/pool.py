"""The worker pool: leases jobs in batches for idle slots and runs them on long-lived tasks.

One fetcher per queue leases exactly as many jobs as there are free slots (so nothing waits
leased but idle), blocks on Redis when the queue is empty, and hands jobs to slot tasks that
loop instead of one task per job. Acks are batched: while one ack call is in flight the next
batch gathers. A job is held (and its lease extended) until Redis has its outcome; if this
process dies, the lease runs out and any Tickr process takes the job back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import traceback as tb
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel
from redis.exceptions import RedisError

from .backoff import Reconnect, full_jitter_ms
from .broker import Broker, LeasedJob, WorkerInfo
from .context import JobContext, StatsSource
from .errors import InvalidPayload
from .notify import Listener
from .registry import Registry

log = logging.getLogger("tickr.pool")

CancelReason = Literal["job", "shutdown", "lost", "timeout"]


class PermanentError(Exception):
    """Raise from a handler to send the job to the dead letter queue without more retries."""


@dataclass(slots=True)
class PoolSettings:
    concurrency: int = 5
    lease_ms: int = 30_000
    grace_period: float = 30.0
    fetch_block_s: float = 1.0
    registry_interval: float = 1.0
    """How often the process refreshes its record in the worker registry."""


@dataclass(eq=False, slots=True)
class _Slot:
    index: int
    task: asyncio.Task[None] | None = None
    job: LeasedJob | None = None
    ctx: JobContext | None = None
    started: float = 0.0
    cancel_reason: CancelReason | None = None
    retiring: bool = False
    in_handler: bool = False
    """True only while the handler runs: a cancel must never hit the slot while it records
    the job's outcome (that would kill the slot task and leave the job leased forever)."""


@dataclass(slots=True)
class RunningJob:
    """What a dashboard shows of a busy slot."""

    slot: int
    job_id: str
    type: str
    queue: str
    attempt: int
    elapsed: float


@dataclass(slots=True)
class PoolCounters:
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0
    rejected_acks: int = 0
    durations: list[float] = field(default_factory=list)


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


class WorkerPool:
    def __init__(
        self,
        broker: Broker,
        registry: Registry,
        queues: Iterable[str],
        listener: Listener,
        *,
        settings: PoolSettings | None = None,
        worker_id: str,
        home: Path,
        stats_source: StatsSource,
    ) -> None:
        self.broker = broker
        self.registry = registry
        self.queues = sorted(set(queues))
        self.listener = listener
        self.settings = settings or PoolSettings()
        self.worker_id = worker_id
        self.home = home
        self._stats_source = stats_source
        self._concurrency = self.settings.concurrency
        self._slots: list[_Slot] = []
        self._inbox: asyncio.Queue[LeasedJob] = asyncio.Queue()
        self._held: dict[str, LeasedJob] = {}
        self._reserved = 0
        self._capacity = asyncio.Event()
        self._locally_paused = False
        self._queue_resumed: dict[str, asyncio.Event] = {q: asyncio.Event() for q in self.queues}
        self._fetchers: list[asyncio.Task[None]] = []
        self._upkeep: list[asyncio.Task[None]] = []
        self._acks: dict[str, list[tuple[LeasedJob, str]]] = defaultdict(list)
        self._acks_pending = asyncio.Event()
        self._acking: set[str] = set()
        """Jobs whose success is waiting for or inside an ack call (their lease may be gone)."""
        self._acks_flushed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._upkeep_ending = False
        """Set just before the ack and heartbeat loops are cancelled: they end on it even if a
        Redis call swallowed the cancel (asyncio.wait_for on Python 3.11, CPython gh-86296)."""
        self._started_at = 0
        self.counters = PoolCounters()
        self.on_change: Callable[[], None] | None = None
        """Called after scale/pause changes (the TUI refreshes on it)."""
        self.observers: list[Callable[[LeasedJob, float, float], None]] = []
        """Called after every attempt with (job, seconds from due to start, seconds run), e.g.
        by the API's Prometheus histograms. Must be quick and must not raise."""
        self._host = socket.gethostname()

    # -- public state ----------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        return self._concurrency

    @property
    def busy(self) -> int:
        return sum(1 for s in self._slots if s.job is not None)

    @property
    def paused(self) -> bool:
        return self._locally_paused

    @property
    def in_flight(self) -> int:
        """Jobs this process still holds a lease on (running, queued locally, or being acked)."""
        return len(self._held)

    def running(self) -> list[RunningJob]:
        now = time.monotonic()
        return [
            RunningJob(s.index, s.job.id, s.job.type, s.job.queue, s.job.attempt, now - s.started)
            for s in self._slots
            if s.job is not None
        ]

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._started_at = await self.broker.time_ms()
        await self.broker.register_queues(self.queues)
        for queue in self.queues:
            self.listener.on(self.broker.keys(queue).wake_channel, lambda msg, q=queue: self._on_wake(q, msg))
        self.listener.on(self.broker.global_keys.control_prefix + self.worker_id, self._on_control)
        self._resize(self._concurrency)
        for queue in self.queues:
            self._fetchers.append(asyncio.create_task(self._fetch_loop(queue), name=f"tickr-fetch-{queue}"))
        self._upkeep.append(asyncio.create_task(self._ack_loop(), name="tickr-acks"))
        self._upkeep.append(asyncio.create_task(self._heartbeat_loop(), name="tickr-heartbeat"))
        await self._publish_state()

    async def stop(self, grace_period: float | None = None, on_progress: Callable[[int], None] | None = None) -> None:
        """Stop fetching, let running jobs finish within the grace period, then cancel the rest
        and give them back to the ready queue without counting the attempt."""
        if self._stopping:
            return
        self._stopping = True
        grace = self.settings.grace_period if grace_period is None else grace_period
        for task in self._fetchers:
            task.cancel()
        await asyncio.gather(*self._fetchers, return_exceptions=True)
        self._fetchers.clear()
        # Leased but not started: give back at once.
        while not self._inbox.empty():
            job = self._inbox.get_nowait()
            await self._give_back(job)
        deadline = time.monotonic() + grace
        while self.busy and time.monotonic() < deadline:
            if on_progress:
                on_progress(self.busy)
            await self._wait_change(min(0.1, max(0.0, deadline - time.monotonic())))
        for slot in self._slots:
            if slot.job is not None and slot.task is not None and slot.in_handler:
                slot.cancel_reason = "shutdown"
                slot.task.cancel()
            elif slot.job is not None:
                slot.retiring = True  # recording its outcome: let it finish, then end
            elif slot.task is not None:
                slot.task.cancel()
        await asyncio.gather(*(s.task for s in self._slots if s.task), return_exceptions=True)
        self._slots.clear()
        try:
            await asyncio.wait_for(self._drain_outcomes(), timeout=10.0)
        except TimeoutError:
            log.warning("could not flush %d acks to Redis; their leases will bring them back", len(self._held))
        self._end_upkeep()
        await asyncio.gather(*self._upkeep, return_exceptions=True)
        self._upkeep.clear()
        try:
            await self.broker.unregister_worker(self.worker_id)
        except RedisError:
            pass
        if on_progress:
            on_progress(0)

    async def kill(self) -> None:
        """Stop at once (second signal): leases bring the held jobs back later."""
        self._stopping = True
        self._end_upkeep()
        tasks = [*self._fetchers, *(s.task for s in self._slots if s.task)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._upkeep, return_exceptions=True)

    def _end_upkeep(self) -> None:
        self._upkeep_ending = True
        self._acks_pending.set()  # an ack loop that swallowed its cancel must not wait for acks
        for task in self._upkeep:
            task.cancel()

    # -- control ---------------------------------------------------------------------------

    def scale(self, concurrency: int) -> None:
        """Change concurrency live; extra busy slots finish their job before they go."""
        if concurrency < 0:
            raise ValueError("concurrency must be >= 0")
        self._concurrency = concurrency
        if not self._stopping:
            self._resize(concurrency)
        self._changed()

    def pause(self) -> None:
        """Pause this pool only: running jobs finish, nothing new starts."""
        self._locally_paused = True
        self._changed()

    def resume(self) -> None:
        self._locally_paused = False
        self._changed()

    def cancel_job(self, job_id: str, reason: CancelReason = "job") -> bool:
        for slot in self._slots:
            if slot.job is not None and slot.job.id == job_id and slot.task is not None:
                if slot.ctx is not None:
                    slot.ctx.cancelled.set()
                if slot.cancel_reason is None and slot.in_handler:
                    slot.cancel_reason = reason
                    slot.task.cancel()
                return True
        return False

    def _changed(self) -> None:
        self._capacity.set()
        if self.on_change:
            self.on_change()
        if self._upkeep:
            task = asyncio.get_running_loop().create_task(self._publish_state_quietly())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _resize(self, n: int) -> None:
        live = [s for s in self._slots if not s.retiring]
        if n > len(live):
            used = {s.index for s in self._slots}
            index = 0
            for _ in range(n - len(live)):
                while index in used:
                    index += 1
                slot = _Slot(index)
                used.add(index)
                slot.task = asyncio.create_task(self._slot_loop(slot), name=f"tickr-slot-{index}")
                self._slots.append(slot)
        elif n < len(live):
            excess = len(live) - n
            # Idle slots go at once; busy ones retire after their job.
            for slot in sorted(live, key=lambda s: (s.job is not None, -s.index)):
                if excess == 0:
                    break
                slot.retiring = True
                if slot.job is None and slot.task is not None:
                    slot.task.cancel()
                    self._slots.remove(slot)
                excess -= 1

    def _on_wake(self, queue: str, message: str) -> None:
        if message == "resume":
            self._queue_resumed[queue].set()

    def _on_control(self, message: str) -> None:
        if message.startswith("cancel "):
            self.cancel_job(message.split(" ", 1)[1])
            return
        try:
            command = orjson.loads(message)
        except orjson.JSONDecodeError:
            log.warning("ignoring malformed control message %r", message[:200])
            return
        self._apply_commands({k.removeprefix("cmd_"): str(v) for k, v in command.items()})

    def _apply_commands(self, commands: dict[str, str]) -> None:
        if "concurrency" in commands:
            try:
                self.scale(max(0, int(commands["concurrency"])))
            except ValueError:
                log.warning("ignoring bad concurrency command %r", commands["concurrency"])
        if "paused" in commands:
            if commands["paused"] in ("1", "true", "True"):
                self.pause()
            else:
                self.resume()

    # -- fetching --------------------------------------------------------------------------

    def reserve_for_promote(self, queue: str) -> int:
        """Idle slots the scheduler may fill straight from its promote call (0 if none or
        this pool does not serve the queue); settle with ``accept_leased``."""
        if queue not in self.queues:
            return 0
        free = self._free()
        if free <= 0:
            return 0
        self._reserved += free
        return free

    def accept_leased(self, jobs: list[LeasedJob], reserved: int) -> None:
        """Take jobs leased to this process by the scheduler's promote call."""
        self._reserved -= reserved
        for job in jobs:
            self._held[job.id] = job
            if self._stopping:
                task = asyncio.get_running_loop().create_task(self._give_back(job))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            else:
                self._inbox.put_nowait(job)
        if len(jobs) < reserved:
            self._capacity.set()

    def _free(self) -> int:
        if self._locally_paused or self._stopping:
            return 0
        return self._concurrency - self.busy - self._inbox.qsize() - self._reserved

    async def _fetch_loop(self, queue: str) -> None:
        backoff = Reconnect()
        # Not `while True`: on Python 3.11 the wait_for below can swallow the cancel from stop()
        # (CPython gh-86296); the loop must still end, not block on capacity forever.
        while not self._stopping:
            free = self._free()
            if free <= 0:
                self._capacity.clear()
                await self._capacity.wait()
                continue
            self._reserved += free
            fetch = asyncio.ensure_future(self.broker.fetch(queue, free, self.worker_id, self.settings.lease_ms))
            try:
                jobs = await asyncio.shield(fetch)
            except asyncio.CancelledError:
                # The script may already have leased jobs to us: hold them so stop() gives
                # them back at once, instead of leaving them to lease expiry as a lost attempt.
                self._reserved -= free
                try:
                    # As long as a lease, not a fixed 2 s: on a starved host the reply can be
                    # late, and jobs dropped here would come back only by lease expiry, as a
                    # lost attempt (a job on its last attempt would go dead without running).
                    leased = await asyncio.wait_for(fetch, self.settings.lease_ms / 1000)
                except BaseException:
                    leased = None
                for job in leased or ():
                    self._held[job.id] = job
                    self._inbox.put_nowait(job)
                raise
            except RedisError as exc:
                self._reserved -= free
                self._capacity.set()
                log.warning("fetch from queue %s failed (%s); retrying", queue, exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            except BaseException:
                self._reserved -= free
                raise
            self._reserved -= free
            if jobs is None or len(jobs) < free:
                # Unused reservation: fetchers of other queues that saw no free slot re-check.
                self._capacity.set()
            backoff.reset()
            if jobs is None:  # queue paused for every process
                resumed = self._queue_resumed[queue]
                resumed.clear()
                try:
                    await asyncio.wait_for(resumed.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            if not jobs:
                try:
                    await self.broker.wait_for_ready(queue, self.settings.fetch_block_s)
                except RedisError as exc:
                    log.warning("waiting on queue %s failed (%s); retrying", queue, exc)
                    await asyncio.sleep(backoff.next_delay())
                continue
            for job in jobs:
                self._held[job.id] = job
                self._inbox.put_nowait(job)

    async def _give_back(self, job: LeasedJob) -> None:
        try:
            if await self.broker.release(job):
                self.counters.released += 1
        except RedisError as exc:
            log.warning("could not release job %s (%s); its lease will bring it back", job.id, exc)
        self._held.pop(job.id, None)

    # -- running ---------------------------------------------------------------------------

    async def _slot_loop(self, slot: _Slot) -> None:
        while not slot.retiring:
            job = await self._inbox.get()
            slot.job = job
            slot.started = time.monotonic()
            waited = max(0.0, time.time() - job.due_at / 1000)
            try:
                await self._run(slot, job)
            finally:
                if self.observers:
                    self._observe(job, waited, time.monotonic() - slot.started)
                slot.job = None
                slot.ctx = None
                slot.cancel_reason = None
                self._capacity.set()
        if slot in self._slots:
            self._slots.remove(slot)
        self._changed_quietly()

    def _observe(self, job: LeasedJob, waited: float, ran: float) -> None:
        for observer in list(self.observers):
            try:
                observer(job, waited, ran)
            except Exception:
                log.exception("job observer %r failed", observer)

    def _time_out(self, slot: _Slot, job_id: str) -> None:
        if slot.job is not None and slot.job.id == job_id and slot.in_handler and slot.cancel_reason is None:
            if slot.ctx is not None:
                slot.ctx.cancelled.set()
            slot.cancel_reason = "timeout"
            if slot.task is not None:
                slot.task.cancel()

    def _changed_quietly(self) -> None:
        self._capacity.set()
        if self.on_change:
            self.on_change()

    async def _run(self, slot: _Slot, job: LeasedJob) -> None:
        job_type = self.registry.types.get(job.type)
        if job_type is None:
            await self._record_failure(
                job, f"no handler for job type {job.type!r} in worker {self.worker_id}", "", retryable=True
            )
            return
        try:
            payload: Any = job_type.validate(job.payload_json)
        except InvalidPayload as exc:
            await self._record_failure(job, f"{exc.message}: {exc.details}", "", retryable=False)
            return
        if job_type.wants_dict:
            payload = payload.model_dump()
        ctx = JobContext(
            job.id,
            job.type,
            job.queue,
            job.attempt,
            job.max_attempts,
            job.token,
            self.home,
            self._report_progress,
            self._stats_source,
        )
        slot.ctx = ctx
        timeout = job.timeout_ms / 1000 if job.timeout_ms > 0 else None
        started = time.perf_counter()
        task = slot.task
        # One timer handle instead of asyncio.timeout(): the deadline cancels the slot task
        # with reason "timeout", through the same path as a user's cancel.
        deadline = (
            self._loop.call_later(timeout, self._time_out, slot, job.id) if timeout is not None and task else None
        )
        try:
            slot.in_handler = True
            try:
                result = await (job_type.handler(payload, ctx) if job_type.takes_context else job_type.handler(payload))
            finally:
                slot.in_handler = False
                if deadline is not None:
                    deadline.cancel()
        except asyncio.CancelledError:
            reason = slot.cancel_reason
            if reason is None or task is None:
                raise
            task.uncancel()
            slot.cancel_reason = None
            if reason == "timeout":
                await self._record_failure(job, f"timed out after {timeout:g} s", tb.format_exc(), retryable=True)
                return
            await self._handle_cancel(job, reason)
            if reason == "shutdown":
                raise
            return
        except PermanentError as exc:
            await self._record_failure(job, _describe(exc), tb.format_exc(), retryable=False)
            return
        except Exception as exc:
            await self._record_failure(job, _describe(exc), tb.format_exc(), retryable=True)
            return
        if slot.cancel_reason is not None and task is not None and task.cancelling():
            task.uncancel()  # the handler swallowed our cancel and finished: keep its result
        self.counters.durations.append(time.perf_counter() - started)
        if len(self.counters.durations) > 4096:
            del self.counters.durations[:2048]
        try:
            result_json = orjson.dumps(result, default=_default).decode()
        except TypeError as exc:
            await self._record_failure(job, f"result is not JSON serializable: {exc}", "", retryable=False)
            return
        self._acks[job.queue].append((job, result_json))
        self._acking.add(job.id)
        self._acks_pending.set()

    async def _handle_cancel(self, job: LeasedJob, reason: CancelReason) -> None:
        if reason == "lost":
            self._held.pop(job.id, None)
            return
        if reason == "shutdown":
            await self._give_back(job)
            return
        for attempt in range(5):
            try:
                if await self.broker.finish_cancel(job):
                    self.counters.cancelled += 1
                break
            except RedisError:
                await asyncio.sleep(0.1 * (attempt + 1))
        self._held.pop(job.id, None)

    async def _record_failure(self, job: LeasedJob, error: str, trace: str, *, retryable: bool) -> None:
        delay = full_jitter_ms(job.backoff_base_ms, job.backoff_cap_ms, job.attempt)
        backoff = Reconnect()
        while True:
            try:
                outcome = await self.broker.fail(job, error[:4000], trace[-20000:], delay, retryable=retryable)
                break
            except RedisError as exc:
                if self._stopping:
                    log.warning("could not record failure of %s (%s); its lease will bring it back", job.id, exc)
                    self._held.pop(job.id, None)
                    return
                await asyncio.sleep(backoff.next_delay())
        if outcome == "rejected":
            self.counters.rejected_acks += 1
        else:
            self.counters.failed += 1
        self._held.pop(job.id, None)

    async def _report_progress(self, ctx: JobContext, percent: float, message: str) -> bool:
        try:
            return await self.broker.progress(ctx.queue, ctx.id, ctx.token, percent, message)
        except RedisError as exc:
            log.warning("progress of %s not recorded (%s)", ctx.id, exc)
            return False

    # -- acks ------------------------------------------------------------------------------

    async def _ack_loop(self) -> None:
        while not self._upkeep_ending:
            await self._acks_pending.wait()
            await self._flush_acks_now()

    async def _drain_outcomes(self) -> None:
        """Flush queued acks and wait for the ack call already in flight in the ack loop (the
        loop is cancelled next: cancelling it mid-call would lose a finished job's outcome)."""
        await self._flush_acks_now()
        while self._held:
            await self._wait_change(0.05)
            await self._flush_acks_now()

    async def _flush_acks_now(self) -> None:
        backoff = Reconnect()
        while self._acks:
            self._acks_pending.clear()
            batches, self._acks = self._acks, defaultdict(list)
            for queue, items in batches.items():
                for start in range(0, len(items), 500):
                    chunk = items[start : start + 500]
                    try:
                        flags = await self.broker.ack(queue, chunk)
                    except RedisError as exc:
                        log.warning("ack failed (%s); retrying", exc)
                        self._acks[queue].extend(chunk)
                        await asyncio.sleep(backoff.next_delay())
                        continue
                    for (job, _), ok in zip(chunk, flags):
                        self._held.pop(job.id, None)
                        self._acking.discard(job.id)
                        if ok:
                            self.counters.succeeded += 1
                        else:
                            self.counters.rejected_acks += 1
                            log.warning("late ack for job %s rejected: its lease had expired", job.id)
            self._capacity.set()

    # -- heartbeat -------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        lease_every = self.settings.lease_ms / 3000
        tick = min(self.settings.registry_interval, lease_every)
        last_lease = time.monotonic()
        backoff = Reconnect()
        while not self._upkeep_ending:
            await asyncio.sleep(tick)
            try:
                if time.monotonic() - last_lease >= lease_every - tick / 2:
                    await self._extend_leases()
                    last_lease = time.monotonic()
                await self._publish_state()
                backoff.reset()
            except RedisError as exc:
                log.warning("heartbeat failed (%s); retrying", exc)
                await asyncio.sleep(backoff.next_delay())

    async def _extend_leases(self) -> None:
        by_queue: dict[str, list[LeasedJob]] = defaultdict(list)
        for job in list(self._held.values()):
            by_queue[job.queue].append(job)
        for queue, jobs in by_queue.items():
            for job, flag in zip(jobs, await self.broker.heartbeat(queue, jobs, self.settings.lease_ms)):
                if flag == 0 and (job.id not in self._held or job.id in self._acking):
                    continue  # finished meanwhile: its ack cleared the lease, nothing was lost
                if flag == 0:
                    log.warning("lease on job %s was lost; stopping it here", job.id)
                    if not self.cancel_job(job.id, "lost"):
                        self._held.pop(job.id, None)
                elif flag == 2:
                    self.cancel_job(job.id, "job")

    async def _publish_state(self) -> None:
        now = await self.broker.time_ms()
        info = WorkerInfo(
            id=self.worker_id,
            host=self._host,
            pid=os.getpid(),
            queues=self.queues,
            concurrency=self._concurrency,
            busy=self.busy,
            paused=self._locally_paused,
            started_at=self._started_at,
            heartbeat_at=now,
            jobs=[s.job.id for s in self._slots if s.job is not None][:100],
        )
        ttl = int(max(5.0, self.settings.registry_interval * 5) * 1000)
        commands = await self.broker.register_worker(info, ttl)
        if commands:
            self._apply_commands(commands)

    async def _publish_state_quietly(self) -> None:
        try:
            await self._publish_state()
        except RedisError:
            pass

    async def _wait_change(self, timeout: float) -> None:
        self._capacity.clear()
        try:
            await asyncio.wait_for(self._capacity.wait(), timeout)
        except TimeoutError:
            pass


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
