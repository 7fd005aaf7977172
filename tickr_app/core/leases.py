"""``HeldLeases``: the jobs this process holds a lease on, and the heartbeat that keeps them.

A job is held from the moment a fetch (or a promote) leases it until Redis has its outcome:
running, waiting in the local inbox, or waiting for its ack. The fetcher adds jobs; whatever
records the outcome drops them; the heartbeat extends the leases of all of them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from .broker import Broker
from .records import LeasedJob
from .scripts import LEASE_CANCEL_REQUESTED, LEASE_LOST

log = logging.getLogger("tickr.pool")


class HeldLeases:
    """Job id -> the ``LeasedJob`` this process holds (its token fences a late outcome)."""

    def __init__(self, broker: Broker, lease_ms: int) -> None:
        self._broker = broker
        self._lease_ms = lease_ms
        self._jobs: dict[str, LeasedJob] = {}

    def add(self, job: LeasedJob) -> None:
        self._jobs[job.id] = job

    def add_all(self, jobs: Iterable[LeasedJob]) -> None:
        held = self._jobs
        for job in jobs:
            held[job.id] = job

    def drop(self, job_id: str) -> None:
        """Redis has the job's outcome (or the lease is gone): stop extending it."""
        self._jobs.pop(job_id, None)

    def drop_all(self, jobs: Iterable[LeasedJob]) -> None:
        pop = self._jobs.pop
        for job in jobs:
            pop(job.id, None)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __getitem__(self, job_id: str) -> LeasedJob:
        return self._jobs[job_id]

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._jobs)

    async def extend(
        self,
        *,
        settling: Callable[[str], bool],
        on_lost: Callable[[str], object],
        on_cancel_requested: Callable[[str], object],
    ) -> None:
        """Extend every held lease, one script call per queue.

        ``settling(id)`` tells whether a job's success is on its way to Redis (its ack clears
        the lease, so a lost lease there is no loss). ``on_lost`` gets jobs whose lease was
        taken back (still held: the caller stops its copy); ``on_cancel_requested`` jobs a
        cancel was asked for from another process.
        """
        by_queue: dict[str, list[LeasedJob]] = defaultdict(list)
        for job in list(self._jobs.values()):
            by_queue[job.queue].append(job)
        for queue, jobs in by_queue.items():
            for job, state in zip(jobs, await self._broker.heartbeat(queue, jobs, self._lease_ms)):
                if state == LEASE_LOST and (job.id not in self._jobs or settling(job.id)):
                    continue  # finished meanwhile: its ack cleared the lease, nothing was lost
                if state == LEASE_LOST:
                    log.warning("lease on job %s was lost; stopping it here", job.id)
                    on_lost(job.id)
                elif state == LEASE_CANCEL_REQUESTED:
                    on_cancel_requested(job.id)
