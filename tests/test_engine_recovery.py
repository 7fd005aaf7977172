"""Lease recovery and fencing, in-process: a pool that dies without releasing its jobs loses
them to the lease sweep of another engine, and its late acks are rejected."""

from __future__ import annotations

import time

import pytest
from helpers import Gate, eventually, status_is
from timing import deadline

from tickr_app import JobContext, Registry

# 1 s on a quiet machine, scaled: a live pool stalled for 2/3 of its lease loses it by design.
LEASE = deadline(1.0)


@pytest.mark.usefixtures("no_idle_recheck")
async def test_killed_pool_job_is_recovered_and_the_old_lease_is_fenced(make_tickr, registry: Registry) -> None:
    first_gate = Gate()
    second_gate = Gate()

    @registry.job("work", backoff_base=0.01)
    async def work(payload: dict, ctx: JobContext) -> str:
        await (first_gate if ctx.attempt == 1 else second_gate).hold(ctx.id)
        return f"done on attempt {ctx.attempt}"

    first = await make_tickr(workers=1, lease=LEASE)
    j = await first.submit("work", {})
    await eventually(lambda: j.id in first_gate.entered)
    stale = first._pool._held[j.id]  # the LeasedJob the first pool holds
    assert stale.attempt == 1

    await first._pool.kill()  # dies without releasing or acking: the job stays leased
    killed_at = time.monotonic()
    assert (await first.get(j.id)).status == "active"

    second = await make_tickr(workers=1, lease=LEASE)
    # the second engine's sweep takes the job back once the lease expires, and runs it
    await eventually(lambda: j.id in second_gate.entered, 5, message="the second engine runs the recovered job")
    recovered_after = time.monotonic() - killed_at
    job = await second.get(j.id)
    assert job.status == "active" and job.worker == second.worker_id
    assert job.attempts == 2  # the lost attempt counted
    assert "lease expired" in job.error

    # fencing: the first pool's late ack (and fail, heartbeat, release) is rejected while the
    # second one holds the job
    assert await first._broker.ack("default", [(stale, '"stale"')]) == [False]
    assert await first._broker.fail(stale, "late", "", 0) == "rejected"
    assert await first._broker.heartbeat("default", [stale], 1000) == [0]
    assert await first._broker.release(stale) is False
    assert (await second.get(j.id)).status == "active"

    second_gate.open.set()
    done = await second.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded"
    assert done.result == "done on attempt 2"
    assert await first._broker.ack("default", [(stale, '"stale"')]) == [False]  # still refused
    assert (await second.get(j.id)).result == "done on attempt 2"
    # within a few leases (the idle re-check is an hour away: the recover script's wake did it)
    assert recovered_after < 4 * LEASE, f"recovery took {recovered_after:.1f} s with a {LEASE:g} s lease"
    stats = (await second.stats())["default"]
    assert (stats.succeeded, stats.failed, stats.retried) == (1, 1, 1)


async def test_recovery_after_the_last_attempt_goes_dead(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("fragile", max_attempts=1)
    async def fragile(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    first = await make_tickr(workers=1, lease=LEASE)
    j = await first.submit("fragile", {})
    await eventually(lambda: j.id in gate.entered)
    await first._pool.kill()
    second = await make_tickr(workers=1, lease=LEASE)
    dead = await status_is(second, j.id, "dead", timeout=5)
    assert dead.attempts == 1
    assert "lease expired" in dead.error and first.worker_id in dead.error
    assert gate.entered == [j.id]  # not run again


async def test_heartbeats_keep_a_long_job_leased(make_tickr, registry: Registry) -> None:
    """A job running for several lease periods is not taken back while its pool is alive."""
    gate = Gate()

    @registry.job("long")
    async def long(payload: dict, ctx: JobContext) -> str:
        await gate.hold(ctx.id)
        return "ok"

    # 0.3 s on a quiet machine, scaled: heartbeats come every lease/3, so a loop stalled for
    # 2/3 of a lease loses it by design (that is how a hung worker is detected).
    lease = deadline(0.3)
    tickr = await make_tickr(workers=1, lease=lease)
    j = await tickr.submit("long", {})
    await eventually(lambda: j.id in gate.entered)
    leased = tickr._pool._held[j.id]
    key = tickr._broker.keys("default")
    first_deadline = await tickr._broker.redis.zscore(key.active, j.id)

    async def extended() -> bool:
        return (await tickr._broker.redis.zscore(key.active, j.id)) > first_deadline + 2 * lease * 1000

    await eventually(extended, 3, message="the lease deadline moves forward by two leases (heartbeats)")
    job = await tickr.get(j.id)
    assert job.status == "active" and job.attempts == 1 and job.error is None
    assert tickr._pool._held[j.id] is leased
    assert tickr._scheduler.recovered == 0
    gate.open.set()
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded" and done.attempts == 1


async def test_pool_that_lost_its_lease_stops_the_job(make_tickr, registry: Registry) -> None:
    """If a lease is taken back while the worker still runs the job (e.g. it was stalled), the
    worker notices at its next heartbeat and stops its copy."""
    gate = Gate()

    @registry.job("long", backoff_base=0.01)
    async def long(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=1, lease=0.6)
    j = await tickr.submit("long", {})
    await eventually(lambda: j.id in gate.entered)
    held = tickr._pool._held[j.id]
    # the lease is taken back behind the pool's back: clear the token as the recover script does
    await tickr._broker.redis.hdel(tickr._broker.keys("default").job(j.id), "lease")
    await eventually(lambda: gate.cancelled == [j.id], 3, message="the pool stopped the job whose lease it lost")
    assert j.id not in tickr._pool._held
    assert tickr._pool.busy == 0
    assert await tickr._broker.ack("default", [(held, "null")]) == [False]
