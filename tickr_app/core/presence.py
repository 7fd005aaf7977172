"""``Presence``: how a worker process is seen and steered from outside.

Its heartbeat keeps the leases of held jobs alive and refreshes this process's record in the
worker registry (which dashboards list; it expires when the process dies). Commands from other
processes (scale, pause, weights, cancel a job) arrive on the process's control channel at once, and are
also stored on its record and collected at the next heartbeat, so none is lost while the
subscription reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import orjson
from redis.exceptions import RedisError

from .backoff import Reconnect
from .broker import Broker
from .fetcher import CancelReason
from .notify import Listener
from .queue_policy import QueuePolicy, normalise_queues, parse_weights
from .records import LagStats, RunningJob, WorkerInfo

log = logging.getLogger("tickr.pool")

REGISTRY_TTL_BEATS = 30
"""A worker record expires after this many missed heartbeats (30 s at the default 1 s): a busy
process that misses a few must not vanish from the dashboards and come back (it was 5)."""

MAX_LISTED_JOBS = 100
"""Running job ids a registry record lists."""


class Steerable(Protocol):
    """What presence reads of a pool and what remote commands do to it."""

    @property
    def concurrency(self) -> int: ...

    @property
    def busy(self) -> int: ...

    @property
    def paused(self) -> bool: ...

    def running(self) -> Sequence[RunningJob]: ...

    def loop_snapshot(self) -> LagStats | None: ...

    def scale(self, concurrency: int) -> None: ...

    def set_weights(self, weights: Mapping[str, int], strict: bool | None = None) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel_job(self, job_id: str, reason: CancelReason = "job") -> bool: ...


class Presence:
    def __init__(
        self,
        broker: Broker,
        pool: Steerable,
        *,
        worker_id: str,
        queues: QueuePolicy | list[str],
        lease_ms: int,
        registry_interval: float,
        extend_leases: Callable[[], Awaitable[None]],
    ) -> None:
        self._broker = broker
        self._pool = pool
        self._worker_id = worker_id
        self._queues = queues if isinstance(queues, QueuePolicy) else QueuePolicy(normalise_queues(queues))
        """The pool's live policy: the record shows its queues and weights as they are now."""
        self._lease_ms = lease_ms
        self._registry_interval = registry_interval
        self._extend_leases = extend_leases
        self._host = socket.gethostname()
        self._started_at = 0
        self._ending = False
        """Set just before the heartbeat task is cancelled: it ends on it even if a Redis call
        swallowed the cancel (asyncio.wait_for on Python 3.11, CPython gh-86296)."""
        self._background: set[asyncio.Task[None]] = set()

    async def start(self, listener: Listener) -> None:
        """Note the start time and listen on this process's control channel."""
        self._started_at = await self._broker.time_ms()
        listener.on(self._broker.global_keys.control_prefix + self._worker_id, self.on_control)

    # -- the heartbeat -----------------------------------------------------------------------

    async def run(self) -> None:
        """Extend leases every third of the lease time, publish state every registry interval."""
        lease_every = self._lease_ms / 3000
        tick = min(self._registry_interval, lease_every)
        last_lease = time.monotonic()
        backoff = Reconnect()
        while not self._ending:
            await asyncio.sleep(tick)
            try:
                if time.monotonic() - last_lease >= lease_every - tick / 2:
                    await self._extend_leases()
                    last_lease = time.monotonic()
                await self.publish()
                backoff.reset()
            except RedisError as exc:
                log.warning("heartbeat failed (%s); retrying", exc)
                await asyncio.sleep(backoff.next_delay())

    def end(self) -> None:
        """Make the heartbeat loop end (call before cancelling its task)."""
        self._ending = True

    # -- the registry ------------------------------------------------------------------------

    async def publish(self) -> None:
        """Write this process's record now and apply the commands stored for it."""
        pool = self._pool
        now = await self._broker.time_ms()
        info = WorkerInfo(
            id=self._worker_id,
            host=self._host,
            pid=os.getpid(),
            queues=self._queues.queues,
            concurrency=pool.concurrency,
            busy=pool.busy,
            paused=pool.paused,
            started_at=self._started_at,
            heartbeat_at=now,
            jobs=[r.job_id for r in pool.running()][:MAX_LISTED_JOBS],
            loop=pool.loop_snapshot(),
            weights=dict(self._queues.weights),
            strict=self._queues.strict,
        )
        ttl = int(max(1.0, self._registry_interval) * REGISTRY_TTL_BEATS * 1000)
        commands = await self._broker.register_worker(info, ttl)
        if commands:
            self._apply(commands)

    def publish_soon(self) -> None:
        """Publish in the background (after a local change), ignoring a Redis failure: the
        next heartbeat publishes again."""
        task = asyncio.get_running_loop().create_task(self._publish_quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def unregister(self) -> None:
        try:
            await self._broker.unregister_worker(self._worker_id)
        except RedisError:
            pass

    async def _publish_quietly(self) -> None:
        try:
            await self.publish()
        except RedisError:
            pass

    # -- remote commands ---------------------------------------------------------------------

    def on_control(self, message: str) -> None:
        """A message on the control channel: ``cancel <job id>`` or a JSON command object."""
        if message.startswith("cancel "):
            self._pool.cancel_job(message.split(" ", 1)[1])
            return
        try:
            command = orjson.loads(message)
        except orjson.JSONDecodeError:
            log.warning("ignoring malformed control message %r", message[:200])
            return
        self._apply({k.removeprefix("cmd_"): str(v) for k, v in command.items()})

    def _apply(self, commands: dict[str, str]) -> None:
        if "concurrency" in commands:
            try:
                self._pool.scale(max(0, int(commands["concurrency"])))
            except ValueError:
                log.warning("ignoring bad concurrency command %r", commands["concurrency"])
        if "weights" in commands or "strict" in commands:
            try:
                weights = parse_weights(commands.get("weights", ""))
                strict = commands["strict"] in ("1", "true", "True") if "strict" in commands else None
                self._pool.set_weights(weights, strict)
            except ValueError as exc:
                log.warning("ignoring bad weights command %r: %s", commands.get("weights"), exc)
        if "paused" in commands:
            if commands["paused"] in ("1", "true", "True"):
                self._pool.pause()
            else:
                self._pool.resume()
