"""Fires schedules: one loop per queue, run by every process that runs a scheduler.

Each loop sleeps until the earliest schedule is due (on the Redis clock, the same way the
promote loop sleeps for delayed jobs, with the same last-2-ms spin), woken early over pub/sub
when any process upserts or resumes a schedule that becomes the earliest. While it sleeps it
prepares the plan for that slot, so firing costs one script call; the script refuses a plan
that is early, stale (another process fired the slot first) or too late for its misfire
policy, and reports the schedule's real state for a fresh plan instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from .backoff import Reconnect
from .broker import Broker
from .notify import Listener
from .precise_sleep import IDLE_RECHECK_S, sleep_until_woken
from .schedules import DueEntry, PlanCall, ScheduleStore
from .slots import Plan, next_after, plan_due

if TYPE_CHECKING:
    from .pool import WorkerPool

log = logging.getLogger("tickr.schedules")


class ScheduleRunner:
    def __init__(
        self, broker: Broker, listener: Listener, pool: Callable[[], WorkerPool | None] = lambda: None
    ) -> None:
        self.store = ScheduleStore(broker)
        self.listener = listener
        self._pool = pool
        """This process's pool, if any (read at each call: the engine attaches it after start)."""
        self._queues: set[str] = set()
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self.fired = 0
        """Jobs this process created for schedule slots."""

    def add_queue(self, queue: str) -> None:
        if queue in self._queues:
            return
        self._queues.add(queue)
        event = asyncio.Event()
        self._wake[queue] = event
        self.listener.on(self.store.broker.keys(queue).schedule_wake_channel, lambda _msg, e=event: e.set())
        if self._running:
            self._tasks.append(asyncio.create_task(self._loop(queue), name=f"tickr-schedules-{queue}"))

    def start(self) -> None:
        self._running = True
        self.listener.on_reconnect(self._wake_all)
        for queue in sorted(self._queues):
            self._tasks.append(asyncio.create_task(self._loop(queue), name=f"tickr-schedules-{queue}"))

    async def stop(self) -> None:
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _wake_all(self) -> None:
        for event in self._wake.values():
            event.set()

    async def _loop(self, queue: str) -> None:
        wake = self._wake[queue]
        backoff = Reconnect()
        plans: list[PlanCall] = []
        while self._running:  # not `while True`: see Scheduler._promote_loop
            wake.clear()
            started = time.monotonic()
            pool = self._pool()
            reserved = pool.reserve_for_promote(queue) if pool is not None and plans else 0
            call = asyncio.ensure_future(
                self.store.tick(
                    queue,
                    plans,
                    lease_n=reserved,
                    worker_id=pool.worker_id if pool is not None else "",
                    lease_ms=pool.settings.lease_ms if pool is not None else 0,
                )
            )
            try:
                result = await asyncio.shield(call)
            except asyncio.CancelledError:
                # Jobs the script may have leased to us must reach the pool, not wait for
                # their lease to expire (as in the promote loop).
                try:  # as long as a lease (see Fetcher): a late reply still counts
                    leased = (await asyncio.wait_for(call, pool.settings.lease_ms / 1000 if pool else 2.0)).leased
                except BaseException:
                    leased = []
                if pool is not None:
                    pool.accept_leased(leased, reserved)
                raise
            except RedisError as exc:
                # The plans may or may not have run: either way re-planning from the state the
                # next call reports is safe (compare-and-set, deterministic job ids).
                if pool is not None:
                    pool.accept_leased([], reserved)
                log.warning("schedule tick on queue %s failed (%s); retrying", queue, exc)
                plans = []
                await asyncio.sleep(backoff.next_delay())
                continue
            if pool is not None:
                pool.accept_leased(result.leased, reserved)
            backoff.reset()
            self.fired += result.created
            now_ms = result.redis_now_us // 1000
            plans = []
            upcoming: DueEntry | None = None
            for entry in result.entries:
                if entry.next_ms <= now_ms:
                    plans.append(_plan_now(entry, now_ms))
                else:
                    upcoming = entry
            if plans:
                continue
            if upcoming is None:
                timeout = IDLE_RECHECK_S
            else:
                # Relative to the Redis clock, read about halfway through the call (as the
                # promote loop does); a plan sent a hair early is refused and costs one call.
                timeout = (upcoming.next_ms * 1000 - result.redis_now_us) / 1e6 - (time.monotonic() - started) / 2
                if timeout <= IDLE_RECHECK_S:
                    plans = [_plan_on_time(upcoming)]
                    if timeout <= 0:
                        continue
                else:
                    timeout = IDLE_RECHECK_S
            await sleep_until_woken(wake, timeout)


def _plan_now(entry: DueEntry, now_ms: int) -> PlanCall:
    plan = plan_due(
        entry.timing,
        entry.next_ms,
        now_ms,
        misfire=entry.misfire,
        grace_ms=entry.grace_ms,
        max_catchup=entry.max_catchup,
    )
    return PlanCall(entry.id, entry.next_ms, entry.rev, plan)


def _plan_on_time(entry: DueEntry) -> PlanCall:
    """The plan for firing ``entry``'s next slot on time: fire it, move to the slot after it.
    Valid only while that slot is within its grace (later, the misfire policy decides); if the
    slot after it is due too by then, it stays due and the next call fires it."""
    following = next_after(entry.timing, entry.next_ms)
    plan = Plan((entry.next_ms,), 0, -1 if following is None else following)
    return PlanCall(entry.id, entry.next_ms, entry.rev, plan, valid_until=entry.next_ms + entry.grace_ms + 1)
