"""A retried job is due now, and its record says so (issue 17, item 12)."""

from __future__ import annotations

import time

from timing import deadline

from tickr_app import JobContext, PermanentError, Registry


async def test_retrying_a_cancelled_delayed_job_makes_it_due_now(make_tickr, registry: Registry) -> None:
    @registry.job("later")
    async def later(payload: dict, ctx: JobContext) -> str:
        return "ran"

    tickr = await make_tickr(workers=0)
    j = await tickr.submit("later", {}, delay=3600)
    assert await tickr.cancel(j.id) == "cancelled"
    before_ms = int(time.time() * 1000)
    assert await tickr.retry(j.id) == "ready"
    job = await tickr.get(j.id)
    assert job.status == "ready"
    # due_at was an hour ahead; it now says "now" (Redis clock, within a generous minute of ours).
    assert abs(job.due_at - before_ms) < 60_000, (job.due_at, before_ms)


async def test_retry_dead_makes_jobs_due_now(make_tickr, registry: Registry) -> None:
    @registry.job("boom", max_attempts=1)
    async def boom(payload: dict, ctx: JobContext) -> None:
        raise PermanentError("no")

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("boom", {})
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "dead"
    await tickr.pause_queue("default")
    # Pretend it was first due long ago: after the bulk retry its due time is now.
    await tickr._broker.redis.hset(tickr._broker.keys("default").job(j.id), "due_at", 1000)
    before_ms = int(time.time() * 1000)
    assert await tickr.retry_dead("default") == 1
    job = await tickr.get(j.id)
    assert job.status == "ready" and abs(job.due_at - before_ms) < 60_000
