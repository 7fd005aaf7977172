"""Schedules against the real Redis: exactly one job per slot whatever runs, upserts, misfire
and overlap policies, never early, wake-ups across processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from helpers import Gate, eventually
from timing import deadline

from tickr_app import JobContext, Registry, Tickr
from tickr_app.core.errors import InvalidPayload, InvalidRequest, ScheduleNotFound, UnknownJobType
from tickr_app.core.schedules import PlanCall, ScheduleStore, slot_job_id
from tickr_app.core.slots import Plan

Q = "default"


def jobs_of(tickr: Tickr) -> Any:
    return tickr._broker.redis  # type: ignore[union-attr]


async def slot_jobs(tickr: Tickr, schedule_id: str, first: int, last: int, step: int) -> dict[int, dict[str, str]]:
    """The job hash of every slot in [first, last] that has one, by slot."""
    broker = tickr._broker
    assert broker is not None
    slots = list(range(first, last + 1, step))
    pipe = broker.redis.pipeline(transaction=False)
    for slot in slots:
        pipe.hgetall(broker.keys(Q).job(slot_job_id(Q, schedule_id, slot)))
    return {slot: h for slot, h in zip(slots, await pipe.execute()) if h}


async def set_next(tickr: Tickr, schedule_id: str, next_ms: int) -> None:
    """Simulate an outage: the schedule's next slot lies in the past (as if nobody ran)."""
    broker = tickr._broker
    assert broker is not None
    k = broker.keys(Q)
    await broker.redis.hset(k.schedule(schedule_id), "next", next_ms)
    if await broker.redis.hget(k.schedule(schedule_id), "paused") != "1":
        await broker.redis.zadd(k.schedule_due, {schedule_id: next_ms})


def register_tick(registry: Registry, ran: list[str]) -> None:
    @registry.job("tick")
    async def tick(payload: dict, ctx: JobContext) -> None:
        ran.append(ctx.id)


async def test_three_schedulers_fire_exactly_one_job_per_slot_across_a_kill_and_restart(
    make_tickr, registry: Registry
) -> None:
    ran: list[str] = []
    register_tick(registry, ran)
    # 250 ms slots and 1 s leases on a quiet machine, scaled: a slow host must neither fall a
    # misfire grace behind the slots nor lose leases to a slow loop (what is under test is
    # exactly-once across engines, not how many slots a second they keep up with).
    step = round(deadline(0.25) * 1000)
    lease = deadline(1.0)
    engines = [await make_tickr(workers=2, lease=lease) for _ in range(3)]
    created = await engines[0].schedule("beat", "tick", {"n": 1}, every=timedelta(milliseconds=step))
    first = created.next_run_at
    assert first is not None

    async def fired() -> int:
        return (await engines[-1].get_schedule("beat")).fired

    await eventually(lambda: _at_least(fired, 6), 10, message="six slots fired by three schedulers")
    await engines[0].stop(graceful=False)  # killed mid-way: its runner may be inside a tick
    await eventually(lambda: _at_least(fired, 12), 10, message="the other two keep firing")
    engines.append(await make_tickr(workers=2, lease=lease))  # and a replacement joins
    await eventually(lambda: _at_least(fired, 20), 10, message="firing goes on after the restart")
    await engines[1].pause_schedule("beat")
    final = await engines[1].get_schedule("beat")
    assert final.last_slot is not None

    jobs = await slot_jobs(engines[1], "beat", first, final.last_slot, step)
    expected = list(range(first, final.last_slot + 1, step))
    assert sorted(jobs) == expected, f"slots without a job: {sorted(set(expected) - set(jobs))}"
    assert final.fired == len(expected) and final.skipped == 0  # one job per slot, none skipped
    for slot, h in jobs.items():
        assert int(h["created_at"]) >= slot, f"slot {slot} fired {slot - int(h['created_at'])} ms early (Redis clock)"
        assert h["schedule"] == "beat" and int(h["slot"]) == slot
    ids = {h["id"] for h in jobs.values()}
    await eventually(lambda: ids <= set(ran), 15, message="every fired job ran")


async def _at_least(count: Any, n: int) -> bool:
    return (await count()) >= n


async def test_racing_upserts_leave_one_schedule(make_tickr, registry: Registry) -> None:
    register_tick(registry, [])
    producers = [await make_tickr(workers=0) for _ in range(3)]
    await asyncio.gather(
        *(
            t.schedule("race", "tick", {"n": i}, every=60 + (i % 2), tz="Europe/Berlin")
            for i in range(15)
            for t in producers
        )
    )
    listed = await producers[0].list_schedules()
    assert [s.id for s in listed] == ["race"]
    redis = jobs_of(producers[0])
    k = producers[0]._broker.keys(Q)  # type: ignore[union-attr]
    assert await redis.scard(k.schedules) == 1
    assert await redis.zcard(k.schedule_due) == 1
    assert int(await redis.zscore(k.schedule_due, "race")) == listed[0].next_run_at


async def test_upsert_keeps_the_next_slot_unless_the_timing_changes(make_tickr, registry: Registry) -> None:
    register_tick(registry, [])
    tickr = await make_tickr(workers=0)
    a = await tickr.schedule("digest", "tick", {"n": 1}, cron="0 9 * * MON-FRI", tz="Europe/Berlin")
    b = await tickr.schedule("digest", "tick", {"n": 2}, cron="0 9 * * MON-FRI", tz="Europe/Berlin")
    assert b.payload == {"n": 2} and b.next_run_at == a.next_run_at and b.revision == a.revision + 1
    same = await tickr.schedule("digest", "tick", {"n": 2}, cron="0 9 * * MON-FRI", tz="Europe/Berlin")
    assert same.revision == b.revision  # an identical upsert is a no-op
    c = await tickr.schedule("digest", "tick", {"n": 2}, cron="0 9 * * MON-FRI", tz="America/New_York")
    assert c.next_run_at != a.next_run_at
    with pytest.raises(InvalidRequest) as info:
        await tickr.schedule("digest", "tick", {}, cron="0 9 * * *", queue="elsewhere")
    assert info.value.details[0]["field"] == "queue"
    with pytest.raises(InvalidRequest) as info:
        await tickr.schedule("bad", "tick", {}, cron="0 25 * * *")
    assert info.value.details[0]["field"] == "cron"
    with pytest.raises(UnknownJobType):
        await tickr.schedule("bad", "nope", {}, cron="* * * * *")
    with pytest.raises(InvalidRequest):
        await tickr.schedule("bad id/slash", "tick", {}, cron="* * * * *")
    with pytest.raises(InvalidRequest) as info:
        await tickr.schedule("bad", "tick", {}, every=1, misfire_grace=0.001)
    assert info.value.details[0]["field"] == "misfire_grace"
    for grace in ("60", float("inf"), True):  # not a duration at all: still misfire_grace's fault
        with pytest.raises(InvalidRequest) as info:
            await tickr.schedule("bad", "tick", {}, every=1, misfire_grace=grace)
        assert [d["field"] for d in info.value.details] == ["misfire_grace"], grace


async def test_payload_is_validated_against_the_job_type(make_tickr, registry: Registry) -> None:
    from pydantic import BaseModel

    class Digest(BaseModel):
        to: str

    @registry.job("digest", payload_model=Digest)
    async def digest(payload: Digest) -> None:
        return None

    tickr = await make_tickr(workers=0)
    with pytest.raises(InvalidPayload):
        await tickr.schedule("d", "digest", {"too": 1}, every=60)


async def test_pause_resume_trigger_and_unschedule(make_tickr, registry: Registry) -> None:
    ran: list[str] = []
    register_tick(registry, ran)
    tickr = await make_tickr(workers=1)
    s = await tickr.schedule("later", "tick", {}, cron="0 0 1 1 *", paused=True)
    assert s.paused and s.next_run_at is not None
    k = tickr._broker.keys(Q)  # type: ignore[union-attr]
    assert await jobs_of(tickr).zscore(k.schedule_due, "later") is None
    s = await tickr.schedule("later", "tick", {"n": 1}, cron="0 0 1 1 *")  # paused=None keeps it paused
    assert s.paused
    assert not (await tickr.resume_schedule("later")).paused
    assert await jobs_of(tickr).zscore(k.schedule_due, "later") == s.next_run_at
    job_id = await tickr.trigger("later")
    assert (await tickr.wait(job_id, timeout=deadline(5))).status == "succeeded"
    after = await tickr.get_schedule("later")
    assert after.last_job_id == job_id and after.last_status == "succeeded" and after.triggered == 1
    assert after.next_run_at == s.next_run_at  # a manual run leaves the slots alone
    await tickr.unschedule("later")
    for call in (tickr.get_schedule, tickr.unschedule, tickr.trigger, tickr.pause_schedule):
        with pytest.raises(ScheduleNotFound):
            await call("later")
    assert await tickr.list_schedules() == []


async def test_a_lost_reply_or_a_second_scheduler_cannot_fire_a_slot_twice(make_tickr, registry: Registry) -> None:
    register_tick(registry, [])
    tickr = await make_tickr(workers=0)
    s = await tickr.schedule("once", "tick", {}, every=3600)
    now = await tickr._broker.time_ms()  # type: ignore[union-attr]
    slot = now - now % 1000 - 1000
    await set_next(tickr, "once", slot)
    store = ScheduleStore(tickr._broker)  # type: ignore[arg-type]
    call = PlanCall("once", slot, str(s.revision), Plan((slot,), 0, slot + 3_600_000))
    first = await store.tick(Q, [call])
    again = await store.tick(Q, [call])  # the same call re-sent (its reply was lost)
    assert (first.carried, first.created) == (1, 1)
    assert (again.carried, again.created) == (0, 0)  # compare-and-set: the slot has moved on
    await set_next(tickr, "once", slot)  # even if the schedule were put back on that slot ...
    third = await store.tick(Q, [call])
    assert (third.carried, third.created) == (1, 0)  # ... its job exists: not created again
    stale = PlanCall("once", slot, "999", Plan((slot,), 0, slot + 1))
    await set_next(tickr, "once", slot)
    assert (await store.tick(Q, [stale])).carried == 0  # planned from another revision
    early = PlanCall("once", slot, str(s.revision), Plan((now + 60_000,), 0, now + 120_000))
    assert (await store.tick(Q, [early])).carried == 0  # never a slot after Redis' now


@pytest.mark.parametrize(("policy", "missed_fired"), [("skip", 0), ("once", 1), ("all", 4)])
async def test_misfire_policies_after_an_outage(make_tickr, registry: Registry, policy: str, missed_fired: int) -> None:
    register_tick(registry, [])
    producer = await make_tickr(workers=0)  # no scheduler: schedules only stored
    await producer.schedule("m", "tick", {}, every=1, misfire=policy, misfire_grace=2, max_catchup=4, paused=True)
    now = await producer._broker.time_ms()  # type: ignore[union-attr]
    outage_start = now - now % 1000 - 30_000
    await set_next(producer, "m", outage_start)  # the last slot anyone saw was 30 s ago
    await producer.resume_schedule("m")
    worker = await make_tickr(workers=1)

    async def caught_up() -> Any:
        s = await worker.get_schedule("m")
        return s if s.next_run_at is not None and s.next_run_at > now + 1000 else None

    s = await eventually(caught_up, 10, message="the schedule caught up")
    await worker.pause_schedule("m")
    s = await worker.get_schedule("m")
    jobs = await slot_jobs(worker, "m", outage_start, s.last_slot or outage_start, 1000)
    late_by = {slot: int(h["created_at"]) - slot for slot, h in jobs.items()}
    missed = [slot for slot, late in late_by.items() if late > 2000]
    assert len(missed) == missed_fired, f"{policy}: fired {len(missed)} missed slots: {late_by}"
    total = (s.last_slot - outage_start) // 1000 + 1  # type: ignore[operator]
    assert s.fired + s.skipped == total and s.fired == len(jobs)  # every slot fired or counted skipped
    if policy == "all":
        assert missed == sorted(missed) and missed[-1] - missed[0] == 3000  # the latest four, in order


async def test_overlap_skip_skips_slots_while_the_previous_run_is_active(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("slow")
    async def slow(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=4)
    await tickr.schedule("solo", "slow", {}, every=0.1, overlap="skip")

    async def skipped(n: int) -> bool:
        return (await tickr.get_schedule("solo")).skipped >= n

    await eventually(lambda: gate.inside == 1, 5)
    await eventually(lambda: skipped(3), 5, message="slots skipped while the first run is active")
    s = await tickr.get_schedule("solo")
    assert s.fired == 1 and gate.max_inside == 1
    gate.open.set()
    await eventually(lambda: len(gate.entered) >= 2, 5, message="the next slot fires once the run is done")
    await tickr.pause_schedule("solo")
    assert gate.max_inside == 1


async def test_an_upsert_from_another_process_wakes_a_sleeping_scheduler(
    make_tickr, registry: Registry, no_idle_recheck: None
) -> None:
    register_tick(registry, [])
    worker = await make_tickr(workers=1)  # nothing scheduled: its runner sleeps (an hour: no re-check)
    await asyncio.sleep(deadline(0.2))  # let it reach that sleep (a sleep, not a synchronisation)
    producer = await make_tickr(workers=0)
    s = await producer.schedule("soon", "tick", {}, every=0.5)
    assert s.next_run_at is not None
    job_id = slot_job_id(Q, "soon", s.next_run_at)
    job = await eventually(lambda: worker.get(job_id), 3, message="the first slot fired")
    # it fired at all, so it was woken (no idle re-check); and on time, give or take a slow host
    assert 0 <= job.created_at - s.next_run_at < deadline(1) * 1000


async def test_declared_schedules_are_upserted_at_start_and_restarts_change_nothing(
    make_tickr, registry: Registry
) -> None:
    @registry.job("beat", every=timedelta(hours=1), schedule_payload={"from": "code"})
    async def beat(payload: dict) -> None:
        return None

    a = await make_tickr(workers=1)
    s = await a.get_schedule("beat")
    assert s.payload == {"from": "code"} and s.every_ms == 3_600_000 and s.revision == 1
    b = await make_tickr(workers=1)
    again = await b.get_schedule("beat")
    assert again.revision == 1 and again.next_run_at == s.next_run_at
    producer = await make_tickr(workers=0)  # no scheduler: does not upsert
    assert (await producer.get_schedule("beat")).revision == 1


def test_a_bad_declaration_fails_at_import_time(registry: Registry) -> None:
    with pytest.raises(InvalidRequest):

        @registry.job("x", cron="99 * * * *")
        async def x(payload: dict) -> None:
            return None


async def test_racing_first_upserts_on_different_queues_create_one_schedule(make_tickr, registry: Registry) -> None:
    register_tick(registry, [])
    producer = await make_tickr(workers=0)
    queues = [f"q{i}" for i in range(6)]
    results = await asyncio.gather(
        *(producer.schedule("contested", "tick", {}, every=60, queue=q) for q in queues), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len({s.queue for s in won}) == 1  # one queue won (the same upsert may repeat on it)
    assert all(isinstance(e, InvalidRequest) and e.details[0]["field"] == "queue" for e in lost) and lost
    redis = jobs_of(producer)
    hashes = [await redis.exists(producer._broker.keys(q).schedule("contested")) for q in queues]  # type: ignore[union-attr]
    assert sum(hashes) == 1


async def test_a_host_clock_an_hour_ahead_fires_nothing_early(
    make_tickr, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slots are judged on the Redis clock only: a host whose wall clock runs ahead (or
    behind) neither fires the coming hour's slots now nor skips any."""
    import time as time_module

    register_tick(registry, [])
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 3600)
    tickr = await make_tickr(workers=1)
    s = await tickr.schedule("skewed", "tick", {}, every=0.2)
    first = s.next_run_at
    assert first is not None

    async def fired() -> bool:
        return (await tickr.get_schedule("skewed")).fired >= 5

    await eventually(fired, 10)
    await tickr.pause_schedule("skewed")
    final = await tickr.get_schedule("skewed")
    assert final.last_slot is not None
    jobs = await slot_jobs(tickr, "skewed", first, final.last_slot, 200)
    assert sorted(jobs) == list(range(first, final.last_slot + 1, 200)) and final.fired == len(jobs)
    assert all(int(h["created_at"]) >= slot for slot, h in jobs.items())
    assert final.last_slot < int(await tickr._broker.time_ms()) + 1000  # type: ignore[union-attr]
