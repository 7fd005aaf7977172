"""The schedule methods of ``Tickr`` (a mixin, so the engine module stays about the engine)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import TickrError
from .ids import new_job_id
from .keys import check_queue_name
from .records import Schedule
from .schedules import ScheduleStore, build_definition

log = logging.getLogger("tickr.schedules")

_R = TypeVar("_R")

if TYPE_CHECKING:
    from .broker import Broker
    from .registry import Registry


class ScheduleMethods:
    """``schedule`` (upsert), ``unschedule``, ``get_schedule``, ``list_schedules``,
    ``pause_schedule``, ``resume_schedule`` and ``trigger``."""

    registry: Registry

    if TYPE_CHECKING:

        def _require(self) -> Broker: ...

        async def _redis(self, awaitable: Awaitable[_R]) -> _R:
            """The engine's one mapping of a Redis failure to ``RedisUnavailable`` (masked URL)."""
            ...

    def _schedule_store(self) -> ScheduleStore:
        broker = self._require()
        store: ScheduleStore | None = getattr(self, "_schedules_store", None)
        if store is None or store.broker is not broker:
            store = ScheduleStore(broker)
            self._schedules_store = store
        return store

    async def schedule(
        self,
        id: str,
        type: str,
        payload: Any = None,
        *,
        cron: str | None = None,
        every: timedelta | float | None = None,
        tz: str | None = None,
        start: datetime | float | None = None,
        end: datetime | float | None = None,
        paused: bool | None = None,
        misfire: str = "skip",
        misfire_grace: timedelta | float | None = None,
        max_catchup: int = 100,
        overlap: str = "allow",
        max_attempts: int | None = None,
        queue: str | None = None,
    ) -> Schedule:
        """Create or update the schedule ``id`` atomically: calling it again with other options
        or payload updates the one schedule. Its next slot is kept unless the timing (cron,
        every, tz, start, end) changed. ``paused=None`` keeps the current state (new: running).
        ``misfire``: what to do with slots missed for longer than ``misfire_grace`` (default
        60 s) while no scheduler ran: "skip" (default), "once" or "all" (the ``max_catchup``
        latest). ``overlap="skip"`` skips a slot while the previous run is unfinished."""
        definition = build_definition(
            self.registry,
            id,
            type,
            payload,
            cron=cron,
            every=every,
            tz=tz,
            start=start,
            end=end,
            misfire=misfire,
            misfire_grace=misfire_grace,
            max_catchup=max_catchup,
            overlap=overlap,
            max_attempts=max_attempts,
            queue=queue,
            check_queue=check_queue_name,
        )
        _outcome, schedule = await self._redis(self._schedule_store().upsert(definition, paused))
        return schedule

    async def unschedule(self, id: str) -> None:
        """Remove a schedule (jobs it already fired are left alone); ScheduleNotFound if none."""
        await self._redis(self._schedule_store().delete(id))

    async def get_schedule(self, id: str) -> Schedule:
        return await self._redis(self._schedule_store().get(id))

    async def list_schedules(self) -> list[Schedule]:
        return await self._redis(self._schedule_store().list())

    async def pause_schedule(self, id: str) -> Schedule:
        return await self._redis(self._schedule_store().set_paused(id, True))

    async def resume_schedule(self, id: str) -> Schedule:
        """Resume; a slot that passed while paused counts as missed (the misfire policy)."""
        return await self._redis(self._schedule_store().set_paused(id, False))

    async def trigger(self, id: str) -> str:
        """Run the schedule's job once now (its slots are unaffected); returns the job id."""
        return await self._redis(self._schedule_store().trigger(id, new_job_id()))

    async def _upsert_declared_schedules(self) -> None:
        """Schedules declared with ``@job(..., cron=|every=)``: upserted at every start; an
        unchanged declaration is a no-op, so restarts neither repeat nor skip a slot."""
        for job_type in list(self.registry):
            declared = job_type.schedule
            if declared is None:
                continue
            try:
                await self._declare(job_type.name, declared)
            except TickrError as exc:  # a bad declaration must not stop the engine
                log.error("schedule declared on job type %r not applied: %s", job_type.name, exc.message)

    async def _declare(self, name: str, declared: Any) -> None:
        await self.schedule(
            name,
            name,
            declared.payload,
            cron=declared.cron,
            every=declared.every,
            tz=declared.tz,
            misfire=declared.misfire,
            overlap=declared.overlap,
        )

