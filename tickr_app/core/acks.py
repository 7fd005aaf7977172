"""``AckBatcher``: successes go to Redis in batches, one ack script call per queue and chunk.

While one ack call is in flight the next batch gathers, so a busy pool pays one round trip for
hundreds of jobs and an idle one acks a lone job at once. A job stays held (its lease extended)
until its ack returns; a failed call is retried with backoff, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from redis.exceptions import RedisError

from .backoff import Reconnect
from .broker import Broker
from .records import LeasedJob

log = logging.getLogger("tickr.pool")

ACK_CHUNK = 500
"""Jobs per ack call (the script's KEYS and ARGV grow with it)."""


class AckBatcher:
    def __init__(
        self,
        broker: Broker,
        *,
        on_settled: Callable[[list[LeasedJob], list[bool]], None],
        on_flushed: Callable[[], None],
    ) -> None:
        """``on_settled(jobs, applied)`` runs per ack call once Redis answered, with a flag per
        job (False: the lease had expired and the late ack was rejected); ``on_flushed`` after
        every batch."""
        self._broker = broker
        self._on_settled = on_settled
        self._on_flushed = on_flushed
        self._queued: dict[str, list[tuple[LeasedJob, str]]] = defaultdict(list)
        self._pending = asyncio.Event()
        self._settling: set[str] = set()
        """Jobs whose success is waiting for or inside an ack call (their lease may be gone)."""
        self._ending = False
        """Set just before the loop is cancelled: it ends on it even if a Redis call swallowed
        the cancel (asyncio.wait_for on Python 3.11, CPython gh-86296)."""

    def add(self, job: LeasedJob, result_json: str) -> None:
        """Queue a success for the next ack call."""
        self._queued[job.queue].append((job, result_json))
        self._settling.add(job.id)
        self._pending.set()

    def is_settling(self, job_id: str) -> bool:
        """True while the job's success is queued or in an ack call."""
        return job_id in self._settling

    async def run(self) -> None:
        """The ack loop: flush whenever successes are queued, until ``end()``."""
        while not self._ending:
            await self._pending.wait()
            await self.flush()

    def end(self) -> None:
        """Make the loop end (call before cancelling its task)."""
        self._ending = True
        self._pending.set()  # a loop that swallowed its cancel must not wait for acks

    async def flush(self) -> None:
        """Send every queued success now, retrying until Redis answers."""
        backoff = Reconnect()
        while self._queued:
            self._pending.clear()
            batches, self._queued = self._queued, defaultdict(list)
            for queue, items in batches.items():
                for start in range(0, len(items), ACK_CHUNK):
                    chunk = items[start : start + ACK_CHUNK]
                    try:
                        flags = await self._broker.ack(queue, chunk)
                    except RedisError as exc:
                        log.warning("ack failed (%s); retrying", exc)
                        self._queued[queue].extend(chunk)
                        await asyncio.sleep(backoff.next_delay())
                        continue
                    jobs = [job for job, _ in chunk]
                    self._settling.difference_update([job.id for job in jobs])
                    self._on_settled(jobs, flags)
            self._on_flushed()
