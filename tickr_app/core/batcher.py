"""Coalescing concurrent single submits into one enqueue script call.

With one submit at a time, a call goes straight to Redis. While that call is in flight, other
submits to the same queue (an HTTP server's concurrent requests, say) wait for the next call
and go together, in one round trip and one script run, the way acks are batched. Each job is
still enqueued atomically, and every caller gets its own result or error.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from redis.exceptions import RedisError

from .broker import Broker, EnqueueSpec
from .connection import mask_text
from .errors import RedisUnavailable

MAX_BATCH = 1000

_Waiter = tuple[EnqueueSpec, "asyncio.Future[tuple[str, bool | None]]"]


class EnqueueBatcher:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._busy: set[str] = set()
        self._waiting: dict[str, list[_Waiter]] = defaultdict(list)
        self._flushes: set[asyncio.Task[None]] = set()

    async def enqueue(self, queue: str, spec: EnqueueSpec) -> tuple[str, bool | None]:
        """(job id, created) for one job, as Broker.enqueue gives per job (None: an idempotency conflict)."""
        if queue in self._busy:
            future: asyncio.Future[tuple[str, bool | None]] = asyncio.get_running_loop().create_future()
            self._waiting[queue].append((spec, future))
            return await future
        self._busy.add(queue)
        try:
            [result] = await self.broker.enqueue(queue, [spec])
        except RedisError as exc:
            raise RedisUnavailable(f"Redis is unavailable: {mask_text(str(exc))}") from None
        finally:
            self._hand_over(queue)
        return result

    def _hand_over(self, queue: str) -> None:
        if self._waiting.get(queue):
            task = asyncio.get_running_loop().create_task(self._flush(queue))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        else:
            self._busy.discard(queue)

    async def _flush(self, queue: str) -> None:
        waiting = self._waiting[queue]
        try:
            while waiting:
                batch = waiting[:MAX_BATCH]
                del waiting[:MAX_BATCH]
                try:
                    results = await self.broker.enqueue(queue, [spec for spec, _ in batch])
                except RedisError as exc:
                    error = RedisUnavailable(f"Redis is unavailable: {mask_text(str(exc))}")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc if isinstance(exc, Exception) else RedisUnavailable("submit interrupted"))
                    raise
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._busy.discard(queue)
            if waiting:  # interrupted: do not strand the rest
                self._busy.add(queue)
                self._hand_over(queue)
