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

log = logging.getLogger("tickr.scheduler")

PROMOTE_BATCH = 1000
IDLE_RECHECK_S = 5.0
"""With nothing waiting, re-check this often anyway, in case a wake message was lost."""
TRIM_EVERY_S = 60.0


class Scheduler:
    def __init__(self, broker: Broker, listener: Listener, *, sweep_interval: float = 1.0) -> None:
        self.broker = broker
        self.listener = listener
        self.sweep_interval = sweep_interval
        self._queues: set[str] = set()
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self.promoted = 0
        self.recovered = 0

    def add_queue(self, queue: str) -> None:
        if queue in self._queues:
            return
        self._queues.add(queue)
        event = asyncio.Event()
        self._wake[queue] = event
        self.listener.on(self.broker.keys(queue).wake_channel, lambda _msg, e=event: e.set())
        if self._running:
            self._tasks.append(asyncio.create_task(self._promote_loop(queue), name=f"tickr-promote-{queue}"))

    def start(self) -> None:
        self._running = True
        self.listener.on_reconnect(self._wake_all)
        for queue in sorted(self._queues):
            self._tasks.append(asyncio.create_task(self._promote_loop(queue), name=f"tickr-promote-{queue}"))
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="tickr-sweep"))

    async def stop(self) -> None:
        self._running = False
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
            try:
                promoted, next_due, redis_now = await self.broker.promote(queue, PROMOTE_BATCH)
            except RedisError as exc:
                log.warning("promote on queue %s failed (%s); retrying", queue, exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self.promoted += promoted
            if promoted >= PROMOTE_BATCH:
                continue
            if next_due < 0:
                timeout = IDLE_RECHECK_S
            else:
                # Sleep relative to the Redis clock, read about halfway through the call: waking
                # earlier only costs a promote that finds nothing due yet.
                timeout = (next_due - redis_now) / 1000 - (time.monotonic() - started) / 2
                if timeout <= 0:
                    continue
                # Re-check now and then even for far-off jobs, in case a wake was lost.
                timeout = min(timeout, IDLE_RECHECK_S)
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _sweep_loop(self) -> None:
        backoff = Reconnect()
        last_trim = 0.0
        while True:
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
