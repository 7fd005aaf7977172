"""Queue housekeeping: delete every dead job at once, and forget a queue that holds no jobs."""

from __future__ import annotations

import pytest
from timing import deadline

from tickr_app import JobContext, PermanentError, Registry
from tickr_app.core.errors import QueueNotEmpty, QueueNotFound


async def test_delete_dead_removes_every_dead_job_and_nothing_else(make_tickr, registry: Registry) -> None:
    @registry.job("boom", max_attempts=1)
    async def boom(payload: dict, ctx: JobContext) -> None:
        raise PermanentError("no")

    @registry.job("later")
    async def later(payload: dict, ctx: JobContext) -> None:
        return None

    tickr = await make_tickr(workers=2)
    dead = [await tickr.submit("boom", {}) for _ in range(3)]
    for j in dead:
        assert (await tickr.wait(j.id, timeout=deadline(5))).status == "dead"
    keep = await tickr.submit("later", {}, delay=600)

    assert await tickr.delete_dead("default") == 3
    for j in dead:
        assert await tickr.get(j.id) is None
    stats = (await tickr.stats())["default"]
    assert (stats.dead, stats.waiting) == (0, 1)
    assert await tickr.list_jobs("default", "dead") == []
    assert (await tickr.get(keep.id)).status == "waiting"
    assert await tickr.delete_dead("default") == 0


async def test_delete_dead_keeps_a_dead_job_retried_meanwhile(make_tickr, registry: Registry) -> None:
    @registry.job("boom", max_attempts=1)
    async def boom(payload: dict, ctx: JobContext) -> None:
        raise PermanentError("no")

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("boom", {})
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "dead"
    await tickr.pause_queue("default")
    # Put the record back to ready while its id is still in the dead index (as a racing retry would).
    broker = tickr._broker
    await broker.redis.hset(broker.keys("default").job(j.id), "status", "ready")
    assert await tickr.delete_dead("default") == 0
    assert (await tickr.get(j.id)) is not None


async def test_forget_queue_with_no_jobs(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        return None

    producer = await make_tickr(workers=0)
    worker = await make_tickr(workers=1, queues=["typo"])
    j = await producer.submit("work", {}, queue="typo")
    assert (await producer.wait(j.id, timeout=deadline(5))).status == "succeeded"
    with pytest.raises(QueueNotEmpty, match="served by 1 live worker"):
        await producer.forget_queue("typo")
    await worker.stop()

    await producer.forget_queue("typo")
    assert "typo" not in await producer.stats()
    assert "typo" not in await producer._broker.queues()
    assert await producer.get(j.id) is None  # its finished record went with it
    assert not await producer._broker.redis.exists(producer._broker.keys("typo").stats)
    with pytest.raises(QueueNotFound):
        await producer.forget_queue("typo")

    # Submitting to it again brings it back.
    again = await producer.submit("work", {}, queue="typo")
    assert "typo" in await producer._broker.queues()
    assert (await producer.get(again.id)).status == "ready"


async def test_forget_queue_refuses_while_jobs_remain(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        return None

    tickr = await make_tickr(workers=0)
    j = await tickr.submit("work", {}, queue="later", delay=600)
    with pytest.raises(QueueNotEmpty, match="1 waiting") as info:
        await tickr.forget_queue("later")
    assert info.value.details == {"ready": 0, "waiting": 1, "active": 0, "dead": 0, "schedules": 0, "workflows": 0}
    assert "later" in await tickr.stats()
    assert (await tickr.get(j.id)).status == "waiting"


async def test_a_forgotten_queue_that_gets_jobs_from_another_process_is_listed_again(
    make_tickr, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process remembers it registered the queue; it registers it again within
    REREGISTER_S, so new jobs never sit in a queue nobody lists."""
    from tickr_app.core import broker as broker_module

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        return None

    admin = await make_tickr(workers=0)
    other = await make_tickr(workers=0)
    j = await other.submit("work", {}, queue="typo")
    await other.cancel(j.id)
    await admin.forget_queue("typo")
    assert "typo" not in await admin._broker.queues()
    monkeypatch.setattr(broker_module, "REREGISTER_S", 0.0)  # "10 s later"
    await other.submit("work", {}, queue="typo")
    assert "typo" in await admin._broker.queues()


async def test_forget_queue_refuses_while_schedules_remain(make_tickr, registry: Registry) -> None:
    """A schedule would go on firing into a forgotten queue: it keeps the queue."""

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        return None

    tickr = await make_tickr(workers=0)
    await tickr.schedule("nightly", "work", {}, cron="0 3 * * *", queue="reports")
    assert "reports" in await tickr._broker.queues()
    with pytest.raises(QueueNotEmpty, match=r"still holds schedules \(1 schedules\)") as info:
        await tickr.forget_queue("reports")
    assert info.value.details == {"ready": 0, "waiting": 0, "active": 0, "dead": 0, "schedules": 1, "workflows": 0}
    assert "reports" in await tickr._broker.queues()
    assert (await tickr.get_schedule("nightly")).queue == "reports"

    await tickr.unschedule("nightly")
    await tickr.forget_queue("reports")
    assert "reports" not in await tickr._broker.queues()
