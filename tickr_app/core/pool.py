"""The worker pool: runs leased jobs on long-lived slot tasks, composed of narrow parts.

- ``Fetcher`` and ``Slots`` (fetcher.py): one lease loop fills exactly the free slots, shared
  over the queues by weight or in strict order; slots loop over a local inbox; concurrency and
  weights change live.
- ``AckBatcher`` (acks.py): successes go to Redis in batches.
- ``HeldLeases`` (leases.py): a job is held (its lease extended) until Redis has its outcome;
  if this process dies, the lease runs out and any Tickr process takes the job back.
- ``Presence`` (presence.py): heartbeat, worker registry record, remote commands.

The pool itself owns the lifecycle (start, graceful stop, kill), the local controls, and what
happens to one job in a slot: validate, call the handler under its timeout, record the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback as tb
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from redis.exceptions import RedisError

from . import defaults
from .acks import AckBatcher
from .backoff import Reconnect, full_jitter_ms
from .broker import Broker
from .context import JobContext, StatsSource
from .errors import InvalidPayload, PermanentError, RateLimited
from .fetcher import CancelReason, Fetcher, Slot, Slots
from .leases import HeldLeases
from .loop_monitor import LoopMonitor
from .notify import Listener
from .presence import Presence
from .queue_policy import normalise_queues
from .records import LagStats, LeasedJob, RunningJob
from .registry import Registry
from .runners import Runners
from .workflow_store import is_node_job_id, node_inputs

__all__ = ["CancelReason", "PermanentError", "PoolCounters", "PoolSettings", "RunningJob", "WorkerPool"]

log = logging.getLogger("tickr.pool")


@dataclass(slots=True)
class PoolSettings:
    concurrency: int = 5
    lease_ms: int = int(defaults.LEASE_S * 1000)
    grace_period: float = defaults.GRACE_PERIOD_S
    fetch_block_s: float = 1.0
    registry_interval: float = 1.0
    """How often the process refreshes its record in the worker registry."""
    lag_threshold: float = defaults.LAG_THRESHOLD_S
    """Event-loop stalls at least this long are logged, naming the job that held the loop."""
    process_nice: int = defaults.PROCESS_NICE
    """CPU niceness of ``run_in="process"`` job processes (0: as this process)."""


@dataclass(slots=True)
class PoolCounters:
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0
    rate_limited: int = 0
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
        queues: Mapping[str, int] | Iterable[str],
        listener: Listener,
        *,
        strict: bool = False,
        settings: PoolSettings | None = None,
        worker_id: str,
        home: Path,
        stats_source: StatsSource,
    ) -> None:
        self.broker = broker
        self.registry = registry
        weights = normalise_queues(queues)
        self.queues = sorted(weights)
        self.listener = listener
        self.settings = settings or PoolSettings()
        self.worker_id = worker_id
        self.home = home
        self._stats_source = stats_source
        self._concurrency = self.settings.concurrency
        self._locally_paused = False
        self._stopping = False
        self._capacity = asyncio.Event()
        """Set whenever slots may have freed up (fetch loops and a stopping pool wait on it)."""
        self.counters = PoolCounters()
        self.on_change: Callable[[], None] | None = None
        """Called after scale/pause changes (the TUI refreshes on it)."""
        self.observers: list[Callable[[LeasedJob, float, float], None]] = []
        """Called after every attempt with (job, seconds from due to start, seconds run), e.g.
        by the API's Prometheus histograms. Must be quick and must not raise."""
        lease_ms = self.settings.lease_ms
        self._held = HeldLeases(broker, lease_ms)
        self._slots = Slots(
            self._run, observers=self.observers, on_slot_free=self._capacity.set, on_retired=self._changed_quietly
        )
        self._acks = AckBatcher(broker, on_settled=self._settled, on_flushed=self._capacity.set)
        self._fetcher = Fetcher(
            broker,
            weights,
            strict=strict,
            worker_id=worker_id,
            lease_ms=lease_ms,
            block_s=self.settings.fetch_block_s,
            slots=self._slots,
            held=self._held,
            vacancies=self._vacancies,
            capacity=self._capacity,
            give_back=self._give_back,
        )
        self._presence = Presence(
            broker,
            self,
            worker_id=worker_id,
            queues=self._fetcher.policy,
            lease_ms=lease_ms,
            registry_interval=self.settings.registry_interval,
            extend_leases=self._extend_leases,
        )
        self._upkeep: list[asyncio.Task[None]] = []
        """The ack loop and the heartbeat, while the pool runs."""
        self.runners = Runners(lambda: self._concurrency, process_nice=self.settings.process_nice)
        """Where handlers run: on the loop, on a bounded thread pool, or in job processes."""
        self.loop_monitor: LoopMonitor | None = None

    # -- public state ----------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        return self._concurrency

    @property
    def busy(self) -> int:
        return self._slots.busy

    @property
    def paused(self) -> bool:
        return self._locally_paused

    @property
    def weights(self) -> dict[str, int]:
        """Queue -> weight, in the order given (strict mode's order)."""
        return dict(self._fetcher.policy.weights)

    @property
    def strict(self) -> bool:
        return self._fetcher.policy.strict

    @property
    def in_flight(self) -> int:
        """Jobs this process still holds a lease on (running, queued locally, or being acked)."""
        return len(self._held)

    def running(self) -> list[RunningJob]:
        return self._slots.running()

    def loop_snapshot(self) -> LagStats | None:
        """This loop's lag since the last snapshot (the registry record's heartbeat takes it)."""
        return self.loop_monitor.snapshot() if self.loop_monitor is not None else None

    @property
    def _fetchers(self) -> list[asyncio.Task[None]]:
        return self._fetcher.tasks

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.loop_monitor = self.runners.monitor = LoopMonitor.for_loop(
            self.settings.lag_threshold, self.settings.lease_ms / 1000
        )
        await self._presence.start(self.listener)
        await self.broker.register_queues(self.queues)
        for queue in self.queues:
            self.listener.on(self.broker.keys(queue).wake_channel, partial(self._fetcher.on_wake, queue))
            self.listener.on(self.broker.keys(queue).limits_channel, partial(self._fetcher.on_wake, queue))
        self._slots.resize(self._concurrency)
        self._fetcher.start()
        self._upkeep.append(asyncio.create_task(self._acks.run(), name="tickr-acks"))
        self._upkeep.append(asyncio.create_task(self._presence.run(), name="tickr-heartbeat"))
        await self._presence.publish()

    async def stop(self, grace_period: float | None = None, on_progress: Callable[[int], None] | None = None) -> None:
        """Stop fetching, let running jobs finish within the grace period, then cancel the rest
        and give them back to the ready queue without counting the attempt."""
        if self._stopping:
            return
        self._stopping = True
        grace = self.settings.grace_period if grace_period is None else grace_period
        await self._fetcher.stop()
        # Leased but not started: give back at once.
        for job in self._slots.take_undelivered():
            await self._give_back(job)
        deadline = time.monotonic() + grace
        while self.busy and time.monotonic() < deadline:
            if on_progress:
                on_progress(self.busy)
            await self._wait_change(min(0.1, max(0.0, deadline - time.monotonic())))
        await self._slots.shut_down()
        await self._close_runners()  # job processes end, idle threads go
        try:
            await asyncio.wait_for(self._drain_outcomes(), timeout=10.0)
        except TimeoutError:
            log.warning("could not flush %d acks to Redis; their leases will bring them back", len(self._held))
        self._end_upkeep()
        await asyncio.gather(*self._upkeep, return_exceptions=True)
        self._upkeep.clear()
        await self._presence.unregister()
        if on_progress:
            on_progress(0)

    async def kill(self) -> None:
        """Stop at once (second signal): leases bring the held jobs back later."""
        self._stopping = True
        self._end_upkeep()
        tasks = [*self._fetcher.kill(), *self._slots.tasks()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._upkeep, return_exceptions=True)
        await self._close_runners()

    async def _close_runners(self) -> None:
        await self.runners.close()
        if self.loop_monitor is not None:
            self.loop_monitor.release()
            self.loop_monitor = None

    def _end_upkeep(self) -> None:
        self._acks.end()
        self._presence.end()
        for task in self._upkeep:
            task.cancel()

    async def _drain_outcomes(self) -> None:
        """Flush queued acks and wait for the ack call already in flight in the ack loop (the
        loop is cancelled next: cancelling it mid-call would lose a finished job's outcome)."""
        await self._acks.flush()
        while self._held:
            await self._wait_change(0.05)
            await self._acks.flush()

    async def _wait_change(self, timeout: float) -> None:
        self._capacity.clear()
        try:
            await asyncio.wait_for(self._capacity.wait(), timeout)
        except TimeoutError:
            pass

    # -- control ---------------------------------------------------------------------------

    def scale(self, concurrency: int) -> None:
        """Change concurrency live; extra busy slots finish their job before they go."""
        if concurrency < 0:
            raise ValueError("concurrency must be >= 0")
        self._concurrency = concurrency
        if not self._stopping:
            self._slots.resize(concurrency)
        self._changed()

    def set_weights(self, weights: Mapping[str, int], strict: bool | None = None) -> None:
        """Change the queues' weights (and strict mode) live; ValueError for a queue this pool
        does not serve or a weight out of range."""
        self._fetcher.set_weights(weights, strict)
        self._changed()

    def pause(self) -> None:
        """Pause this pool only: running jobs finish, nothing new starts."""
        self._locally_paused = True
        self._changed()

    def resume(self) -> None:
        self._locally_paused = False
        self._changed()

    def cancel_job(self, job_id: str, reason: CancelReason = "job") -> bool:
        return self._slots.cancel(job_id, reason)

    def _changed(self) -> None:
        self._capacity.set()
        if self.on_change:
            self.on_change()
        if self._upkeep:
            self._presence.publish_soon()

    def _changed_quietly(self) -> None:
        self._capacity.set()
        if self.on_change:
            self.on_change()

    # -- the scheduler's hand-off ----------------------------------------------------------

    def reserve_for_promote(self, queue: str) -> int:
        """Idle slots the scheduler may fill straight from its promote call (0 if none or
        this pool does not serve the queue); settle with ``accept_leased``."""
        return self._fetcher.reserve_for_promote(queue)

    def accept_leased(self, jobs: list[LeasedJob], reserved: int) -> None:
        """Take jobs leased to this process by the scheduler's promote call."""
        self._fetcher.accept_leased(jobs, reserved)

    def _vacancies(self) -> int:
        if self._locally_paused or self._stopping:
            return 0
        return self._concurrency - self._slots.busy - self._slots.queued

    # -- leases and outcomes ---------------------------------------------------------------

    async def _give_back(self, job: LeasedJob) -> None:
        try:
            if await self.broker.release(job):
                self.counters.released += 1
        except RedisError as exc:
            log.warning("could not release job %s (%s); its lease will bring it back", job.id, exc)
        self._held.drop(job.id)

    def _settled(self, jobs: list[LeasedJob], applied: list[bool]) -> None:
        """Redis answered an ack call."""
        self._held.drop_all(jobs)
        rejected = applied.count(False)
        self.counters.succeeded += len(applied) - rejected
        if rejected:
            self.counters.rejected_acks += rejected
            for job, ok in zip(jobs, applied):
                if not ok:
                    log.warning("late ack for job %s rejected: its lease had expired", job.id)

    async def _extend_leases(self) -> None:
        await self._held.extend(
            settling=self._acks.is_settling, on_lost=self._stop_lost, on_cancel_requested=self.cancel_job
        )

    def _stop_lost(self, job_id: str) -> None:
        if not self.cancel_job(job_id, "lost"):
            self._held.drop(job_id)

    # -- running one job -------------------------------------------------------------------

    async def _run(self, slot: Slot, job: LeasedJob) -> None:
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
        if is_node_job_id(job.id) and not await self._load_workflow_inputs(job, ctx):
            return
        slot.ctx = ctx
        timeout = job.timeout_ms / 1000 if job.timeout_ms > 0 else None
        started = time.perf_counter()
        task = slot.task
        # One timer handle instead of asyncio.timeout(): the deadline cancels the slot task
        # with reason "timeout", through the same path as a user's cancel.
        deadline = (
            self._loop.call_later(timeout, self._slots.time_out, slot, job.id) if timeout is not None and task else None
        )
        try:
            slot.in_handler = True
            try:
                # The handler runs on the loop, a thread or a job process; a cancel of this await
                # (timeout, job cancel, shutdown) returns at once in every case.
                result = await self.runners.call(job_type, payload, ctx)
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
        except RateLimited as exc:
            await self._record_rate_limited(job, exc.retry_after, whole_queue=exc.scope == "queue")
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
        self._acks.add(job, result_json)

    async def _load_workflow_inputs(self, job: LeasedJob, ctx: JobContext) -> bool:
        """Give a workflow node's context its parents' results; False (attempt failed) if
        Redis could not be read."""
        try:
            node = await node_inputs(self.broker, job)
        except RedisError as exc:
            await self._record_failure(job, f"could not read the workflow inputs: {exc}", "", retryable=True)
            return False
        if node is not None:
            ctx.workflow_id, ctx.node, ctx.parent_results = node
        return True

    async def _handle_cancel(self, job: LeasedJob, reason: CancelReason) -> None:
        if reason == "lost":
            self._held.drop(job.id)
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
        self._held.drop(job.id)

    async def _record_rate_limited(self, job: LeasedJob, retry_after: float, *, whole_queue: bool) -> None:
        """Give the job back uncounted and pause its type (or queue) everywhere (RateLimited)."""
        backoff = Reconnect()
        while True:
            try:
                if await self.broker.rate_limited(job, round(retry_after * 1000), whole_queue=whole_queue):
                    self.counters.rate_limited += 1
                break
            except RedisError as exc:
                if self._stopping:
                    log.warning("could not give back rate-limited job %s (%s); its lease will bring it back", job.id, exc)
                    break
                await asyncio.sleep(backoff.next_delay())
        self._held.drop(job.id)

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
                    self._held.drop(job.id)
                    return
                await asyncio.sleep(backoff.next_delay())
        if outcome == "rejected":
            self.counters.rejected_acks += 1
        else:
            self.counters.failed += 1
        self._held.drop(job.id)

    async def _report_progress(self, ctx: JobContext, percent: float, message: str) -> bool:
        try:
            return await self.broker.progress(ctx.queue, ctx.id, ctx.token, percent, message)
        except RedisError as exc:
            log.warning("progress of %s not recorded (%s)", ctx.id, exc)
            return False


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
