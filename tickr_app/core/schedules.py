"""Schedules in Redis: definitions, state, and the script calls that change them.

Layout, all under the queue's hash tag: ``schedule:<id>`` is one hash per schedule (definition
fields plus state: ``next`` due ms, ``rev``, ``last_job``, counters), ``schedules`` the set of
ids and ``schedule_due`` the ids by next due ms (paused and ended schedules are not in it).
``<prefix>:schedule_queues`` maps each id to its queue, so ids are unique across queues.

Each slot becomes a job whose id is derived from (queue, schedule, slot): the tick script
(lua/schedule_tick-8.lua) creates it only once, and advances the schedule only from the next
slot the caller planned from (compare-and-set), so any number of schedulers can race.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


from .broker import Broker, LeasedJob
from .errors import ScheduleNotFound, ScheduleQueueConflict
from .ids import slot_job_id
from .keys import SCHEDULE_ID_PATTERN, is_schedule_id
from .records import Schedule
from .registry import Registry
from .scripts import DueSchedule, TickPlan
# Schedule, SCHEDULE_ID_PATTERN, is_schedule_id, slot_job_id and MAX_CATCHUP_LIMIT live in
# records / keys / ids / slots (so the API and TUI need not import this engine part); they are
# re-exported here for older imports.
from .slots import (
    DEFAULT_GRACE_MS,
    DEFAULT_MAX_CATCHUP,
    MAX_CATCHUP_LIMIT,
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
    Misfire,
    Overlap,
    Plan,
    Timing,
    field_error,
    interval_ms,
    make_timing,
    next_after,
    to_ms,
)

__all__ = [
    "MAX_CATCHUP_LIMIT",
    "SCHEDULE_ID_PATTERN",
    "DueEntry",
    "PlanCall",
    "Schedule",
    "ScheduleDef",
    "ScheduleStore",
    "TickResult",
    "build_definition",
    "is_schedule_id",
    "slot_job_id",
]

@dataclass(frozen=True, slots=True)
class ScheduleDef:
    """A validated schedule definition, ready to store."""

    id: str
    queue: str
    type: str
    payload_json: str
    timing: Timing
    misfire: Misfire
    grace_ms: int
    max_catchup: int
    overlap: Overlap
    max_attempts: int
    timeout_ms: int
    backoff_base_ms: int
    backoff_cap_ms: int
    priority: int = 0
    """The job type's default priority: every job the schedule fires gets it."""

    def fields(self) -> list[str]:
        t = self.timing
        pairs = {
            "id": self.id,
            "queue": self.queue,
            "type": self.type,
            "payload": self.payload_json,
            "cron": t.cron or "",
            "every_ms": "" if t.every_ms is None else str(t.every_ms),
            "tz": t.tz,
            "start_ms": "" if t.start_ms is None else str(t.start_ms),
            "end_ms": "" if t.end_ms is None else str(t.end_ms),
            "misfire": self.misfire,
            "grace_ms": str(self.grace_ms),
            "max_catchup": str(self.max_catchup),
            "overlap": self.overlap,
            "max_attempts": str(self.max_attempts),
            "timeout_ms": str(self.timeout_ms),
            "backoff_base_ms": str(self.backoff_base_ms),
            "backoff_cap_ms": str(self.backoff_cap_ms),
            "priority": str(self.priority),
        }
        return [x for kv in pairs.items() for x in kv]

    def digest(self) -> str:
        return hashlib.sha1("\x00".join(self.fields()).encode()).hexdigest()


def build_definition(
    registry: Registry,
    schedule_id: str,
    type: str,
    payload: Any = None,
    *,
    cron: str | None = None,
    every: timedelta | float | None = None,
    tz: str | None = None,
    start: datetime | float | None = None,
    end: datetime | float | None = None,
    misfire: str = "skip",
    misfire_grace: timedelta | float | None = None,
    max_catchup: int = DEFAULT_MAX_CATCHUP,
    overlap: str = "allow",
    max_attempts: int | None = None,
    queue: str | None = None,
    check_queue: Any = None,
) -> ScheduleDef:
    """Validate everything a schedule needs; InvalidRequest/InvalidPayload/UnknownJobType name
    the field at fault."""
    if not isinstance(schedule_id, str) or not is_schedule_id(schedule_id):
        raise field_error("id", "1-200 characters: letters, digits and . _ : @ + - (starting with a letter or digit)")
    job_type = registry.get(type)
    model = job_type.validate(payload if payload is not None else {})
    timing = make_timing(
        cron=cron, every_ms=interval_ms(every), tz=tz, start_ms=to_ms(start, "start"), end_ms=to_ms(end, "end")
    )
    if misfire not in MISFIRE_POLICIES:
        raise field_error("misfire", f"must be one of {', '.join(MISFIRE_POLICIES)}")
    if overlap not in OVERLAP_POLICIES:
        raise field_error("overlap", f"must be one of {', '.join(OVERLAP_POLICIES)}")
    grace = DEFAULT_GRACE_MS if misfire_grace is None else interval_ms(misfire_grace, "misfire_grace")
    if grace is None or not (1000 <= grace <= 7 * 86_400_000):
        raise field_error("misfire_grace", "must be between 1 s and 7 days (a slot a few ms late is not missed)")
    if isinstance(max_catchup, bool) or not isinstance(max_catchup, int) or not (1 <= max_catchup <= MAX_CATCHUP_LIMIT):
        raise field_error("max_catchup", f"must be an integer between 1 and {MAX_CATCHUP_LIMIT}")
    attempts = job_type.max_attempts if max_attempts is None else max_attempts
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not (1 <= attempts <= 1000):
        raise field_error("max_attempts", "must be between 1 and 1000")
    queue_name = queue or job_type.queue
    if check_queue is not None:
        check_queue(queue_name)
    return ScheduleDef(
        id=schedule_id,
        queue=queue_name,
        type=job_type.name,
        payload_json=model.model_dump_json(),
        timing=timing,
        misfire=misfire,  # type: ignore[arg-type]
        grace_ms=grace,
        max_catchup=max_catchup,
        overlap=overlap,  # type: ignore[arg-type]
        max_attempts=attempts,
        timeout_ms=int((job_type.timeout or 0) * 1000),
        backoff_base_ms=int(job_type.backoff_base * 1000),
        backoff_cap_ms=int(job_type.backoff_cap * 1000),
        priority=job_type.priority,
    )


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


@dataclass(frozen=True, slots=True)
class DueEntry:
    """A schedule as the tick script reports it: its next slot and how to plan from it."""

    id: str
    next_ms: int
    rev: str
    timing: Timing
    misfire: Misfire
    grace_ms: int
    max_catchup: int


@dataclass(frozen=True, slots=True)
class PlanCall:
    """One plan for the tick script: valid only from (next_ms, rev), until ``valid_until``."""

    id: str
    expected_next: int
    rev: str
    plan: Plan
    valid_until: int = -1


@dataclass(slots=True)
class TickResult:
    redis_now_us: int
    carried: int
    created: int
    entries: list[DueEntry] = field(default_factory=list)
    leased: list[LeasedJob] = field(default_factory=list)


def _queue_conflict(field_name: str, message: str) -> ScheduleQueueConflict:
    error = field_error(field_name, message)
    return ScheduleQueueConflict(error.message, error.details)


class ScheduleStore:
    """Every schedule operation on Redis, one script call each."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._timings: dict[DueSchedule, DueEntry] = {}

    # -- definitions -----------------------------------------------------------------------

    async def _claim_queue(self, schedule_id: str, queue: str) -> None:
        """Bind the id to its queue once (HSETNX: of two racing first upserts naming different
        queues, one wins and the other is refused). Moving a schedule to another queue is
        refused too: it cannot be atomic across hash tags, and a slot could fire on both."""
        index = self.broker.global_keys.schedule_queues
        redis = self.broker.redis
        for _ in range(3):
            if await redis.hsetnx(index, schedule_id, queue):
                return
            current = await redis.hget(index, schedule_id)
            if current == queue:
                return
            if current is not None:
                raise _queue_conflict(
                    "queue", f"schedule {schedule_id!r} runs on queue {current!r}; unschedule it first to move it"
                )
        raise _queue_conflict("id", f"schedule {schedule_id!r} is being created and removed concurrently; try again")

    async def upsert(self, definition: ScheduleDef, paused: bool | None = None) -> tuple[str, Schedule]:
        """Create or update; returns ('created' | 'updated' | 'unchanged', the schedule)."""
        broker = self.broker
        await self._claim_queue(definition.id, definition.queue)
        await broker.register_queues([definition.queue])
        k = broker.keys(definition.queue)
        now = await broker.time_ms()
        first = next_after(definition.timing, now)
        upserted = await broker.scripts.schedule_upsert(
            k,
            definition.id,
            definition.digest(),
            definition.timing.signature,
            -1 if first is None else first,
            paused,
            definition.fields(),
        )
        outcome = {1: "created", 2: "updated"}.get(upserted.outcome, "unchanged")
        schedule = await self.get(definition.id)
        return outcome, schedule

    async def queue_of(self, schedule_id: str) -> str:
        queue = None
        if isinstance(schedule_id, str) and is_schedule_id(schedule_id):
            queue = await self.broker.redis.hget(self.broker.global_keys.schedule_queues, schedule_id)
        if queue is None:
            raise ScheduleNotFound(f"no schedule with id {str(schedule_id)[:200]!r}")
        return queue

    async def get(self, schedule_id: str) -> Schedule:
        queue = await self.queue_of(schedule_id)
        h = await self.broker.redis.hgetall(self.broker.keys(queue).schedule(schedule_id))
        if not h:
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
        status = None
        if h.get("last_job"):
            status = await self.broker.redis.hget(self.broker.keys(queue).job(h["last_job"]), "status")
        return Schedule.from_hash(h, status or ("expired" if h.get("last_job") else None))

    async def list(self) -> list[Schedule]:
        broker = self.broker
        index: dict[str, str] = await broker.redis.hgetall(broker.global_keys.schedule_queues)
        if not index:
            return []
        ids = sorted(index)
        pipe = broker.redis.pipeline(transaction=False)
        for schedule_id in ids:
            pipe.hgetall(broker.keys(index[schedule_id]).schedule(schedule_id))
        hashes = [h for h in await pipe.execute() if h]
        pipe = broker.redis.pipeline(transaction=False)
        for h in hashes:
            if h.get("last_job"):
                pipe.hget(broker.keys(h["queue"]).job(h["last_job"]), "status")
        statuses = iter(await pipe.execute())
        out = []
        for h in hashes:
            status = (next(statuses) or "expired") if h.get("last_job") else None
            out.append(Schedule.from_hash(h, status))
        return out

    async def delete(self, schedule_id: str) -> None:
        """The schedule first, its index entry after: a failure in between leaves at worst an
        index entry naming no schedule (unscheduling the id again clears it), never a schedule
        that fires on while no id lookup can find it to delete it."""
        queue = await self.queue_of(schedule_id)
        k = self.broker.keys(queue)
        existed = await self.broker.scripts.schedule_delete(k, schedule_id)
        await self.broker.redis.hdel(self.broker.global_keys.schedule_queues, schedule_id)
        if not existed:
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")

    async def set_paused(self, schedule_id: str, paused: bool) -> Schedule:
        queue = await self.queue_of(schedule_id)
        k = self.broker.keys(queue)
        if not await self.broker.scripts.schedule_pause(k, schedule_id, paused):
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
        return await self.get(schedule_id)

    async def trigger(self, schedule_id: str, job_id: str) -> str:
        queue = await self.queue_of(schedule_id)
        k = self.broker.keys(queue)
        if not await self.broker.scripts.schedule_trigger(k, schedule_id, job_id):
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
        return job_id

    # -- firing ----------------------------------------------------------------------------

    async def tick(
        self,
        queue: str,
        plans: Sequence[PlanCall],
        report_limit: int = 100,
        *,
        lease_n: int = 0,
        worker_id: str = "",
        lease_ms: int = 0,
    ) -> TickResult:
        """Carry out plans and read what is due (see lua/schedule_tick-8.lua); with
        ``lease_n`` > 0, jobs it creates are leased to the calling worker at once."""
        k = self.broker.keys(queue)
        ticked = await self.broker.scripts.schedule_tick(
            k,
            [
                TickPlan(
                    call.id,
                    call.expected_next,
                    call.rev,
                    call.valid_until,
                    call.plan.next_ms,
                    call.plan.skipped,
                    [(slot, slot_job_id(queue, call.id, slot)) for slot in call.plan.fire],
                )
                for call in plans
            ],
            report_limit,
            lease_n,
            worker_id,
            lease_ms,
        )
        result = TickResult(ticked.now_us, ticked.carried, ticked.created, leased=ticked.leased)
        for due in ticked.due:
            entry = self._entry(due)
            if entry is not None:
                result.entries.append(entry)
        return result

    def _entry(self, due: DueSchedule) -> DueEntry | None:
        schedule_id, nxt, rev = due.id, due.next_ms, due.rev
        key = due._replace(next_ms=0)  # id, revision and definition: what the timing depends on
        cached = self._timings.get(key)
        if cached is None:
            try:
                timing = make_timing(
                    cron=due.cron or None,
                    every_ms=_int(due.every_ms),
                    tz=due.tz or None,
                    start_ms=_int(due.start_ms),
                    end_ms=_int(due.end_ms),
                )
            except Exception:  # a definition this version cannot read: leave it alone
                return None
            if len(self._timings) > 10_000:
                self._timings.clear()
            cached = DueEntry(
                schedule_id,
                0,
                rev,
                timing,
                due.misfire or "skip",
                _int(due.grace_ms) or 0,
                _int(due.max_catchup) or DEFAULT_MAX_CATCHUP,
            )
            self._timings[key] = cached
        return DueEntry(schedule_id, nxt, rev, cached.timing, cached.misfire, cached.grace_ms, cached.max_catchup)
