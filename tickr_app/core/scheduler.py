"""Promotes delayed jobs the moment they are due, and takes back expired leases.

The promote loop of each queue sleeps exactly until the earliest due time that Redis reports,
and is woken early by a pub/sub message when another process adds an earlier job. Due times
are compared on the Redis clock inside the promote script, so a job never runs early even when
this host's clock is off; the local clock is only used for the length of a sleep.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError

from .backoff import Reconnect
from .broker import Broker
from .notify import Listener
from .pool import WorkerPool
from .precise_sleep import IDLE_RECHECK_S, sleep_until_woken
from .schedule_runner import ScheduleRunner

log = logging.getLogger("tickr.scheduler")

PROMOTE_BATCH = 1000
TRIM_EVERY_S = 60.0


class Scheduler:
    def __init__(
        self, broker: Broker, listener: Listener, *, sweep_interval: float = 1.0, pool: WorkerPool | None = None
    ) -> None:
        self.broker = broker
        self.pool = pool
        """This process's pool, if any: due jobs are leased to it in the promote call itself."""
        self.listener = listener
        self.sweep_interval = sweep_interval
        self._queues: set[str] = set()
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self.promoted = 0
        self.recovered = 0
        self.schedules = ScheduleRunner(broker, listener, lambda: self.pool)
        """Fires cron and interval schedules of the same queues (core/schedules.py)."""

    def add_queue(self, queue: str) -> None:
        self.schedules.add_queue(queue)
        if queue in self._queues:
            return
        self._queues.add(queue)
        event = asyncio.Event()
        self._wake[queue] = event
        # 'ready' (a prioritised job became ready) is for fetchers only: nothing came due.
        self.listener.on(self.broker.keys(queue).wake_channel, lambda msg, e=event: msg == "ready" or e.set())
        if self._running:
            self._tasks.append(asyncio.create_task(self._promote_loop(queue), name=f"tickr-promote-{queue}"))

    def start(self) -> None:
        self._running = True
        self.listener.on_reconnect(self._wake_all)
        for queue in sorted(self._queues):
            self._tasks.append(asyncio.create_task(self._promote_loop(queue), name=f"tickr-promote-{queue}"))
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="tickr-sweep"))
        self.schedules.start()

    async def stop(self) -> None:
        self._running = False
        await self.schedules.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _wake_all(self) -> None:
        for event in self._wake.values():
            event.set()

    async def _promote_loop(self, queue: str) -> None:
        wake = self._wake[queue]
        backoff = Reconnect()
        # Not `while True`: on Python 3.11, asyncio.wait_for can swallow our cancel when the wake
        # event fires at the same moment (CPython gh-86296), and stop() would then wait forever.
        while self._running:
            wake.clear()
            started = time.monotonic()
            pool = self.pool
            reserved = pool.reserve_for_promote(queue) if pool is not None else 0
            call = asyncio.ensure_future(
                self.broker.promote_and_lease(
                    queue, PROMOTE_BATCH, reserved, pool.worker_id if pool else "", pool.settings.lease_ms if pool else 0
                )
            )
            try:
                promoted, next_due, redis_now_us, leased = await asyncio.shield(call)
            except asyncio.CancelledError:
                # Jobs the script may already have leased to us must reach the pool, not wait
                # for lease expiry.
                try:  # as long as a lease (see WorkerPool._fetch_loop): a late reply still counts
                    leased = (await asyncio.wait_for(call, pool.settings.lease_ms / 1000 if pool else 2.0))[3]
                except BaseException:
                    leased = []
                if pool is not None:
                    pool.accept_leased(leased, reserved)
                raise
            except RedisError as exc:
                if pool is not None:
                    pool.accept_leased([], reserved)
                log.warning("promote on queue %s failed (%s); retrying", queue, exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            if pool is not None:
                pool.accept_leased(leased, reserved)
            backoff.reset()
            self.promoted += promoted
            if promoted >= PROMOTE_BATCH:
                continue
            if next_due < 0:
                timeout = IDLE_RECHECK_S
            else:
                # Sleep relative to the Redis clock, read about halfway through the call: waking
                # earlier only costs a promote that finds nothing due yet.
                timeout = (next_due * 1000 - redis_now_us) / 1e6 - (time.monotonic() - started) / 2
                if timeout <= 0:
                    continue
                # Re-check now and then even for far-off jobs, in case a wake was lost.
                timeout = min(timeout, IDLE_RECHECK_S)
            await sleep_until_woken(wake, timeout)

    async def _sweep_loop(self) -> None:
        backoff = Reconnect()
        last_trim = 0.0
        # Not `while True`, for the same reason as the promote loop: a cancel swallowed by an
        # asyncio.wait_for inside a Redis call (redis-py wraps commands in one when a socket
        # timeout is set) must not keep this loop, and so stop(), running for ever.
        while self._running:
            try:
                for queue in sorted(self._queues):
                    self.recovered += await self.broker.recover(queue)
                if time.monotonic() - last_trim > TRIM_EVERY_S:
                    for queue in sorted(self._queues):
                        await self.broker.trim_finished(queue)
                    last_trim = time.monotonic()
                backoff.reset()
                await asyncio.sleep(self.sweep_interval)
            except RedisError as exc:
                log.warning("lease sweep failed (%s); retrying", exc)
                await asyncio.sleep(backoff.next_delay())
