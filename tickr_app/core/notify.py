"""One pub/sub connection per process, fanning channel messages out to callbacks.

Pub/sub only speeds things up (a scheduler woken early, a worker told to scale at once); every
consumer also re-checks on a timer, so a message lost during a reconnect costs latency only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .backoff import Reconnect
from .connection import mask_text, pubsub_client

log = logging.getLogger("tickr.notify")

Callback = Callable[[str], None]

CONFIRM_TIMEOUT_S = 10.0


class Listener:
    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._stopping = False
        """Ends the loops even if a Redis call swallowed stop()'s cancel (asyncio.wait_for on
        Python 3.11, CPython gh-86296, which redis-py uses when a socket timeout is set)."""
        self.connected = asyncio.Event()
        """Set while subscribed to every registered channel (confirmed by the server)."""

    def on(self, channel: str, callback: Callback) -> None:
        self._callbacks[channel].append(callback)
        self._changed.set()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._reconnect_callbacks.append(callback)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="tickr-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._changed.set()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        backoff = Reconnect()
        first = True
        while not self._stopping:
            # A cluster client has no pub/sub of its own: this is then a plain connection to
            # one node (PUBLISH is broadcast cluster-wide), a different node after a failure.
            client, owned = pubsub_client(self._redis)
            pubsub = client.pubsub(ignore_subscribe_messages=False)  # _confirm reads the confirmations
            try:
                subscribed: set[str] = set()
                while not self._stopping:
                    wanted = set(self._callbacks)
                    if wanted - subscribed:
                        await pubsub.subscribe(*(wanted - subscribed))
                        await self._confirm(pubsub, wanted - subscribed)
                        subscribed |= wanted
                        self._changed.clear()
                        if not self.connected.is_set():
                            self.connected.set()
                            backoff.reset()
                            if not first:
                                log.info("pub/sub connection re-established")
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
                await _close(pubsub, client if owned else None)
                raise
            except (RedisError, OSError) as exc:
                if self.connected.is_set():
                    log.warning("pub/sub connection lost (%s); reconnecting", mask_text(str(exc)))
                self.connected.clear()
                await _close(pubsub, client if owned else None)
                await asyncio.sleep(backoff.next_delay())
                continue
            await _close(pubsub, client if owned else None)  # stopping, the cancel swallowed

    async def _confirm(self, pubsub: Any, channels: set[str]) -> None:
        """Wait until the server has confirmed every SUBSCRIBE (redis-py only sends them). Only
        then is ``connected`` true, so a message published after it is never missed. (A PING
        after the SUBSCRIBEs was used first; redis-py 6+ swallows or misparses its PONG.)"""
        pending = set(channels)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONFIRM_TIMEOUT_S
        while pending and (remaining := deadline - loop.time()) > 0:
            message = await pubsub.get_message(timeout=min(0.5, remaining))
            if not message:
                continue
            kind = message.get("type")
            if kind == "subscribe":
                channel = message.get("channel")
                pending.discard(channel.decode() if isinstance(channel, bytes) else channel)
            elif kind == "message":
                self._dispatch(message["channel"], message["data"])
        if pending:
            raise RedisTimeoutError(f"SUBSCRIBE not confirmed within {CONFIRM_TIMEOUT_S:g} s")

    def _dispatch(self, channel: str, data: str) -> None:
        for cb in self._callbacks.get(channel, ()):
            try:
                cb(data)
            except Exception:  # a bad callback must not kill the listener
                log.exception("pub/sub callback for %s failed", channel)


async def _close(pubsub: Any, client: Any = None) -> None:
    """Best effort: the connection is usually broken already."""
    with contextlib.suppress(Exception):
        await pubsub.aclose()
    if client is not None:
        with contextlib.suppress(Exception):
            await client.aclose()
