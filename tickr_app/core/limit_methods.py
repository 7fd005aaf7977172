"""The flow-control methods of ``Tickr`` (a mixin, like the schedule methods): cluster-wide rate
and concurrency limits per queue and per job type, set and read live.

A limit is stored under its queue's hash tag and enforced by the fetch script, so every process
serving the queue respects it together. A per-type limit is scoped to one queue. A value set
here (live) beats the default a job type declares with ``@job(rate_limit=, concurrency=)``,
which every worker process writes when it starts; ``clear_limits`` removes the live value and
the declared default applies again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from .errors import InvalidRequest, TickrError
from .keys import DEFAULT_QUEUE, check_queue_name
from .limits import QueueLimits, Rate, check_concurrency, check_job_type_name, parse_rate

log = logging.getLogger("tickr.limits")

_R = TypeVar("_R")

if TYPE_CHECKING:
    from .broker import Broker
    from .registry import Registry


class LimitMethods:
    """``set_limits``, ``clear_limits``, ``get_limits`` and the declared defaults."""

    registry: Registry

    if TYPE_CHECKING:

        def _require(self) -> Broker: ...

        async def _redis(self, awaitable: Awaitable[_R]) -> _R: ...

    async def set_limits(
        self,
        queue: str = DEFAULT_QUEUE,
        job_type: str | None = None,
        *,
        rate: str | int | Rate | None = None,
        per: float | None = None,
        concurrency: int | None = None,
    ) -> QueueLimits:
        """Limit a queue (or one job type in it) live, for every process: ``rate`` "100/s",
        "10/min", "5/30s" (or a count with ``per`` seconds) is at most that many jobs started
        per period; ``concurrency`` at most that many running at once. What is not given stays
        as it is. Takes effect at the next fetch of every process, without restarts."""
        check_queue_name(queue)
        check_job_type_name(job_type)
        if rate is None and concurrency is None:
            raise InvalidRequest("give a rate, a concurrency, or both")
        parsed = parse_rate(rate, per) if rate is not None else None
        conc = check_concurrency(concurrency) if concurrency is not None else None
        broker = self._require()
        await self._redis(broker.set_limits(queue, job_type, rate=parsed, concurrency=conc))
        return await self._redis(broker.limits(queue))

    async def clear_limits(
        self, queue: str = DEFAULT_QUEUE, job_type: str | None = None, *, rate: bool = True, concurrency: bool = True
    ) -> QueueLimits:
        """Remove the live rate and/or concurrency limit of a queue or job type (a default the
        type declares on ``@job`` applies again). Removing both of a type's also lifts a pause
        its handler asked for with ``RateLimited``."""
        check_queue_name(queue)
        check_job_type_name(job_type)
        broker = self._require()
        await self._redis(broker.set_limits(queue, job_type, clear_rate=rate, clear_concurrency=concurrency))
        return await self._redis(broker.limits(queue))

    async def get_limits(self, queue: str = DEFAULT_QUEUE) -> QueueLimits:
        """The queue's limits (its own and each limited type's) and what they hold back now:
        starts in the current window, running jobs, held jobs, pauses, throttled or not."""
        check_queue_name(queue)
        return await self._redis(self._require().limits(queue))

    async def _apply_declared_limits(self) -> None:
        """Write every registered type's ``@job(rate_limit=, concurrency=)`` defaults (and drop
        defaults a type no longer declares); run when a worker pool starts."""
        broker = self._require()
        for job_type in list(self.registry):
            try:
                await broker.set_limits(
                    job_type.queue,
                    job_type.name,
                    declared=True,
                    rate=job_type.rate_limit,
                    clear_rate=job_type.rate_limit is None,
                    concurrency=job_type.concurrency,
                    clear_concurrency=job_type.concurrency is None,
                )
            except TickrError as exc:
                log.error("limits declared on job type %r not applied: %s", job_type.name, exc.message)
