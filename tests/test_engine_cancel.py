"""Cancelling jobs: waiting, ready, active (the handler is stopped), and the refusals."""

from __future__ import annotations

import asyncio

import pytest
from helpers import Gate, eventually, never, status_is
from timing import deadline

from tickr_app import JobContext, Registry
from tickr_app.core.errors import JobNotFound, WrongState


async def test_cancel_a_waiting_job(make_tickr, registry: Registry) -> None:
    ran: list[str] = []

    @registry.job("later")
    async def later(payload: dict, ctx: JobContext) -> None:
        ran.append(ctx.id)

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("later", {}, delay=deadline(0.3))  # still waiting when cancel arrives
    assert await tickr.cancel(j.id) == "cancelled"
    job = await tickr.get(j.id)
    assert job.status == "cancelled" and job.finished_at is not None
    stats = (await tickr.stats())["default"]
    assert (stats.waiting, stats.cancelled) == (0, 1)
    assert [x.id for x in await tickr.list_jobs("default", "cancelled")] == [j.id]
    # well past its due time it has still not run (never() scales like the delay)
    await never(lambda: ran, 0.5, message="the cancelled delayed job ran")
    assert (await tickr.get(j.id)).status == "cancelled"
    assert (await tickr.wait(j.id, timeout=deadline(1))).status == "cancelled"


async def test_cancel_a_ready_job(make_tickr, registry: Registry) -> None:
    ran: list[str] = []

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        ran.append(ctx.id)

    tickr = await make_tickr(workers=1)
    await tickr.pause_queue("default")  # so the job stays ready
    keep = await tickr.submit("work", {})
    j = await tickr.submit("work", {})
    assert (await tickr.get(j.id)).status == "ready"
    assert await tickr.cancel(j.id) == "cancelled"
    assert (await tickr.get(j.id)).status == "cancelled"
    assert (await tickr.stats())["default"].ready == 1
    assert [x.id for x in await tickr.list_jobs("default", "ready")] == [keep.id]

    await tickr.resume_queue("default")
    assert (await tickr.wait(keep.id, timeout=deadline(5))).status == "succeeded"
    assert ran == [keep.id]
    assert (await tickr.get(j.id)).status == "cancelled"


async def test_cancel_an_active_job_stops_its_handler(make_tickr, registry: Registry) -> None:
    gate = Gate()
    contexts: dict[str, JobContext] = {}
    cleaned_up: list[bool] = []

    @registry.job("long")
    async def long(payload: dict, ctx: JobContext) -> str:
        contexts[ctx.id] = ctx
        try:
            await gate.hold(ctx.id)
        finally:
            cleaned_up.append(ctx.cancelled.is_set())
        return "finished"

    tickr = await make_tickr(workers=2)
    j = await tickr.submit("long", {})
    await status_is(tickr, j.id, "active")
    await eventually(lambda: j.id in gate.entered)

    assert await tickr.cancel(j.id) == "requested"
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "cancelled"
    assert done.result is None
    assert gate.cancelled == [j.id]  # the handler got CancelledError
    assert contexts[j.id].cancelled.is_set()
    assert cleaned_up == [True]  # cleanup code saw ctx.cancelled
    assert tickr._pool.counters.cancelled == 1
    assert tickr._pool.busy == 0
    assert (await tickr.stats())["default"].active == 0
    # the slot is free again: the pool still runs jobs
    gate.open.set()
    nxt = await tickr.submit("long", {})
    assert (await tickr.wait(nxt.id, timeout=deadline(5))).result == "finished"


async def test_cancel_an_active_job_from_another_engine(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("long")
    async def long(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    worker = await make_tickr(workers=1)
    client = await make_tickr(workers=0)
    j = await client.submit("long", {})
    await eventually(lambda: j.id in gate.entered)
    assert await client.cancel(j.id) == "requested"
    assert (await client.get(j.id)).cancel_requested
    assert (await client.wait(j.id, timeout=deadline(5))).status == "cancelled"
    assert gate.cancelled == [j.id]
    assert worker._pool.busy == 0


async def test_cancelled_job_can_be_retried(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict) -> str:
        return "ran"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("work", {}, delay=3600)
    await tickr.cancel(j.id)
    assert await tickr.retry(j.id) == "ready"
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded" and done.result == "ran"
    assert not done.cancel_requested


async def test_cancel_refusals(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict) -> str:
        return "ran"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("work", {})
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "succeeded"
    with pytest.raises(WrongState) as info:
        await tickr.cancel(j.id)
    assert info.value.details == {"status": "succeeded"}
    assert (await tickr.get(j.id)).status == "succeeded"
    with pytest.raises(JobNotFound):
        await tickr.cancel("no-such-job")

    # cancelling twice is idempotent (the status name doubles as the success value), and
    # is counted once
    c = await tickr.submit("work", {}, delay=3600)
    assert await tickr.cancel(c.id) == "cancelled"
    assert await tickr.cancel(c.id) == "cancelled"
    assert (await tickr.stats())["default"].cancelled == 1


async def test_handler_that_swallows_cancel_keeps_its_result(make_tickr, registry: Registry) -> None:
    """A handler may catch the cancel and finish anyway; its result then stands."""
    entered = asyncio.Event()

    @registry.job("stubborn")
    async def stubborn(payload: dict, ctx: JobContext) -> str:
        entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "finished anyway"
        return "slept"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("stubborn", {})
    await asyncio.wait_for(entered.wait(), deadline(5))
    assert await tickr.cancel(j.id) == "requested"
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded"
    assert done.result == "finished anyway"
    # and the pool is healthy afterwards
    entered.clear()
    k = await tickr.submit("stubborn", {})
    await asyncio.wait_for(entered.wait(), deadline(5))
    await tickr.cancel(k.id)
    assert (await tickr.wait(k.id, timeout=deadline(5))).status == "succeeded"


async def test_cancel_while_a_failure_is_being_recorded_keeps_the_pool_alive(
    make_tickr, registry: Registry
) -> None:
    """A cancel that arrives after the handler failed, while the pool records the failure,
    must not kill the slot (which left the job leased forever and the pool one worker short)."""

    @registry.job("fails", max_attempts=1)
    async def fails(payload: dict) -> str:
        if payload.get("fail"):
            raise ValueError("broken")
        return "ok"

    tickr = await make_tickr(workers=1)
    # hold the real fail call until the cancel has been delivered
    in_fail, go = asyncio.Event(), asyncio.Event()
    real_fail = tickr._broker.fail

    async def held_fail(*args, **kwargs):
        in_fail.set()
        await go.wait()
        return await real_fail(*args, **kwargs)

    tickr._broker.fail = held_fail  # type: ignore[method-assign]
    j = await tickr.submit("fails", {"fail": True})
    await asyncio.wait_for(in_fail.wait(), deadline(5))
    assert await tickr.cancel(j.id) == "requested"
    await eventually(lambda: tickr._pool._slots[0].ctx is not None and tickr._pool._slots[0].ctx.cancelled.is_set())
    go.set()

    done = await tickr.wait(j.id, timeout=deadline(5))
    # The cancel was requested before the failure was recorded: the job ends cancelled (not
    # retried or dead), with the failure kept as its last error.
    assert done.status == "cancelled" and "broken" in done.error
    assert j.id not in tickr._pool._held
    nxt = await tickr.submit("fails", {})
    assert (await tickr.wait(nxt.id, timeout=deadline(5))).result == "ok"  # the only slot still works
