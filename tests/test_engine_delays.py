"""Delayed jobs: promoted in due order, never early, woken early for an earlier job, and
run_at in the past runs at once."""

from __future__ import annotations

import random
import time

import pytest
from helpers import eventually, percentile
from timing import deadline

from tickr_app import JobContext, JobRequest, Registry


@pytest.mark.usefixtures("no_idle_recheck")
async def test_delayed_jobs_run_in_due_order_and_never_early(make_tickr, registry: Registry) -> None:
    starts: dict[str, float] = {}
    order: list[str] = []

    @registry.job("tick")
    async def tick(payload: dict, ctx: JobContext) -> None:
        starts[ctx.id] = time.time() * 1000
        order.append(ctx.id)

    tickr = await make_tickr(workers=4)
    # 250 .. 592 ms on a quiet machine, scaled: all 20 submits must land before the first is due
    delays_ms = [round(deadline(0.25 + i * 0.018) * 1000) for i in range(20)]
    random.shuffle(delays_ms)
    jobs = []
    for d in delays_ms:  # one submit each, shuffled: an earlier job often arrives while the
        jobs.append(await tickr.submit("tick", {"d": d}, delay=d / 1000))  # scheduler sleeps
    assert all(j.status == "waiting" for j in jobs)
    assert (await tickr.stats())["default"].waiting == 20

    done = [await tickr.wait(j.id, timeout=deadline(5)) for j in jobs]
    assert all(d.status == "succeeded" for d in done)
    due = {d.id: d.due_at for d in done}
    for d in done:
        # never early, on the Redis clock (the one that set the due time) ...
        assert d.started_at >= d.due_at, f"job started {d.due_at - d.started_at} ms early (Redis clock)"
        # ... and as the handler saw it
        assert starts[d.id] >= d.due_at, f"handler ran {d.due_at - starts[d.id]:.2f} ms early"
    # start order follows due order (equal due times may start either way round)
    dues_in_start_order = [due[i] for i in order]
    assert dues_in_start_order == sorted(dues_in_start_order), "jobs started out of due order"

    lateness = [starts[i] - due[i] for i in order]
    p50, p99 = percentile(lateness, 50), percentile(lateness, 99)
    print(f"\ndelayed-job lateness over {len(lateness)} jobs: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(lateness):.2f} ms")
    # With the idle re-check an hour away, a job runs this soon only if the scheduler slept
    # until its due time (or was woken for it): 1 s on a quiet machine, scaled on a slow one.
    assert max(lateness) < deadline(1.0) * 1000, f"a delayed job ran {max(lateness):.0f} ms late"


async def test_submit_many_with_delays_keeps_due_order(make_tickr, registry: Registry) -> None:
    order: list[int] = []

    @registry.job("tick")
    async def tick(payload: dict) -> None:
        order.append(payload["n"])

    tickr = await make_tickr(workers=1)
    ns = list(range(15))
    random.shuffle(ns)
    jobs = await tickr.submit_many([JobRequest("tick", {"n": n}, delay=0.05 + n * 0.01) for n in ns])
    for j in jobs:
        await tickr.wait(j.id, timeout=deadline(5))
    assert order == sorted(order)


@pytest.mark.usefixtures("no_idle_recheck")
async def test_scheduler_wakes_early_for_an_earlier_job(make_tickr, registry: Registry) -> None:
    starts: dict[str, float] = {}

    @registry.job("tick")
    async def tick(payload: dict, ctx: JobContext) -> None:
        starts[ctx.id] = time.time() * 1000

    tickr = await make_tickr(workers=1)
    # Watch what the scheduler's promote calls report, to know it has gone to sleep until the
    # far job (a wrapper around the real broker call; Redis does the work).
    seen_next_due: list[int] = []
    real_promote = tickr._broker.promote_and_lease

    async def recording_promote(queue: str, *args, **kwargs):
        result = await real_promote(queue, *args, **kwargs)
        seen_next_due.append(result[1])
        return result

    tickr._broker.promote_and_lease = recording_promote  # type: ignore[method-assign]
    far = await tickr.submit("tick", {}, delay=3600)
    far_due = (await tickr.get(far.id)).due_at  # as Redis stored it
    await eventually(lambda: far_due in seen_next_due, 5, message="the scheduler saw the far job as next due")

    near = await tickr.submit("tick", {}, delay=0.2)
    # a scheduler that was not woken sleeps an hour (no idle re-check sooner in this test)
    done = await tickr.wait(near.id, timeout=deadline(3))
    assert done.status == "succeeded"
    lateness = starts[near.id] - done.due_at
    assert 0 <= lateness < deadline(1.0) * 1000, f"lateness {lateness:.1f} ms"
    assert (await tickr.get(far.id)).status == "waiting"


@pytest.mark.usefixtures("no_idle_recheck")
async def test_wake_message_from_another_process_reaches_the_scheduler(make_tickr, registry: Registry) -> None:
    @registry.job("tick")
    async def tick(payload: dict) -> None:
        return None

    worker = await make_tickr(workers=1)
    producer = await make_tickr(workers=0)  # a separate engine with its own Redis connections
    seen_next_due: list[int] = []
    real_promote = worker._broker.promote_and_lease

    async def recording_promote(queue: str, *args, **kwargs):
        result = await real_promote(queue, *args, **kwargs)
        seen_next_due.append(result[1])
        return result

    worker._broker.promote_and_lease = recording_promote  # type: ignore[method-assign]
    far = await producer.submit("tick", {}, delay=3600)
    far_due = (await producer.get(far.id)).due_at
    await eventually(lambda: far_due in seen_next_due, 5, message="the worker's scheduler saw the far job")
    # The worker's scheduler now sleeps until the far job (an hour; no idle re-check sooner):
    # only the producer's wake message can make it run the near one.
    near = await producer.submit("tick", {}, delay=0.1)
    done = await producer.wait(near.id, timeout=deadline(3))
    assert done.status == "succeeded"
    assert 0 <= done.started_at - done.due_at < deadline(1.0) * 1000


async def test_run_at_in_the_past_runs_at_once(make_tickr, registry: Registry) -> None:
    @registry.job("tick")
    async def tick(payload: dict) -> str:
        return "ran"

    tickr = await make_tickr(workers=1)
    past = time.time() - 60
    j = await tickr.submit("tick", {}, run_at=past)
    assert j.status == "ready"
    assert j.due_at == round(past * 1000)
    done = await tickr.wait(j.id, timeout=deadline(3))
    assert done.result == "ran"


async def test_run_at_in_the_future_waits_until_then(make_tickr, registry: Registry) -> None:
    from datetime import datetime, timedelta, timezone

    @registry.job("tick")
    async def tick(payload: dict) -> float:
        return time.time() * 1000

    tickr = await make_tickr(workers=1)
    when = datetime.now(timezone.utc) + timedelta(seconds=deadline(0.25))  # still ahead when submitted
    j = await tickr.submit("tick", {}, run_at=when)
    assert j.status == "waiting"
    assert j.due_at == round(when.timestamp() * 1000)
    done = await tickr.wait(j.id, timeout=deadline(3))
    assert done.result >= j.due_at
    assert done.started_at >= j.due_at
