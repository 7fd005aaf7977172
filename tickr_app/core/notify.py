"""One pub/sub connection per process, fanning channel messages out to callbacks.

Pub/sub only speeds things up (a scheduler woken early, a worker told to scale at once); every
consumer also re-checks on a timer, so a message lost during a reconnect costs latency only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from .backoff import Reconnect

log = logging.getLogger("tickr.notify")

Callback = Callable[[str], None]


class Listener:
    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.connected = asyncio.Event()

    def on(self, channel: str, callback: Callback) -> None:
        self._callbacks[channel].append(callback)
        self._changed.set()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._reconnect_callbacks.append(callback)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tickr-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        backoff = Reconnect()
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                subscribed: set[str] = set()
                while True:
                    wanted = set(self._callbacks)
                    if wanted - subscribed:
                        await pubsub.subscribe(*(wanted - subscribed))
                        subscribed |= wanted
                        self._changed.clear()
                        if not self.connected.is_set():
                            self.connected.set()
                            backoff.reset()
                            if not first:
                                for cb in self._reconnect_callbacks:
                                    cb()
                            first = False
                    if not subscribed:
                        await self._changed.wait()
                        continue
                    message = await pubsub.get_message(timeout=0.5)
                    if message and message.get("type") == "message":
                        self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                await _close(pubsub)
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("pub/sub connection lost (%s); reconnecting", exc)
                await _close(pubsub)
                await asyncio.sleep(backoff.next_delay())

    def _dispatch(self, channel: str, data: str) -> None:
        for cb in self._callbacks.get(channel, ()):
            try:
                cb(data)
            except Exception:  # a bad callback must not kill the listener
                log.exception("pub/sub callback for %s failed", channel)


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:
        pass
