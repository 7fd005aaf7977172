"""The broker's atomic operations (Lua scripts) on real Redis, without a pool or scheduler."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from helpers import eventually

from tickr_app import JobRequest, Registry
from tickr_app.core.broker import Broker, BrokerSettings, EnqueueSpec
from tickr_app.core.connection import connect

Q = "default"


@pytest.fixture
async def broker(redis_url: str, prefix: str) -> AsyncIterator[Broker]:
    b = Broker(connect(redis_url), BrokerSettings(prefix=prefix))
    try:
        yield b
    finally:
        await b.close()


def spec(
    *, max_attempts: int = 3, delay_ms: int = -1, backoff_base_ms: int = 10, idem: str = "", type: str = "t"
) -> EnqueueSpec:
    return EnqueueSpec(
        id=str(uuid.uuid4()),
        type=type,
        payload_json='{"x": 1}',
        max_attempts=max_attempts,
        timeout_ms=0,
        backoff_base_ms=backoff_base_ms,
        backoff_cap_ms=1000,
        delay_ms=delay_ms,
        idempotency_key=idem,
    )


async def enqueue(broker: Broker, *specs: EnqueueSpec) -> list[str]:
    results = await broker.enqueue(Q, list(specs))
    assert all(created for _, created in results)
    return [job_id for job_id, _ in results]


async def test_enqueue_ready_and_waiting(broker: Broker) -> None:
    now_id, later_id = await enqueue(broker, spec(), spec(delay_ms=60_000))
    k = broker.keys(Q)
    assert await broker.redis.lrange(k.ready, 0, -1) == [now_id]
    assert await broker.redis.zrange(k.waiting, 0, -1) == [later_id]
    now_job, later_job = await broker.get(now_id), await broker.get(later_id)
    assert now_job.status == "ready" and later_job.status == "waiting"
    assert later_job.due_at - later_job.created_at == 60_000
    assert now_job.payload == {"x": 1} and now_job.max_attempts == 3
    stats = await broker.queue_stats(Q)
    assert (stats.ready, stats.waiting, stats.enqueued) == (1, 1, 2)
    assert Q in await broker.queues()
    events = await broker.read_events(Q, "0-0")
    assert [(f["e"], f["id"]) for _, f in events] == [("ready", now_id), ("waiting", later_id)]


async def test_idempotent_enqueue(broker: Broker) -> None:
    a = spec(idem="k1")
    b = spec(idem="k1")
    [(first, created)] = await broker.enqueue(Q, [a])
    [(second, created_again)] = await broker.enqueue(Q, [b])
    assert created and not created_again and second == first == a.id
    assert await broker.redis.llen(broker.keys(Q).ready) == 1


async def test_fetch_leases_up_to_n_in_fifo_order(broker: Broker) -> None:
    ids = await enqueue(broker, *(spec() for _ in range(5)))
    got = await broker.fetch(Q, 3, "w1", 5000)
    assert [j.id for j in got] == ids[:3]  # oldest first
    for j in got:
        assert j.attempt == 1 and j.queue == Q and j.token.startswith("w1/")
        assert j.payload_json == '{"x": 1}' and j.max_attempts == 3
    k = broker.keys(Q)
    assert await broker.redis.zcard(k.active) == 3
    assert await broker.redis.llen(k.ready) == 2
    job = await broker.get(ids[0])
    assert job.status == "active" and job.worker == "w1" and job.attempts == 1
    rest = await broker.fetch(Q, 10, "w2", 5000)
    assert [j.id for j in rest] == ids[3:]
    assert await broker.fetch(Q, 10, "w2", 5000) == []


async def test_fetch_on_a_paused_queue(broker: Broker) -> None:
    await enqueue(broker, spec())
    await broker.pause(Q)
    assert await broker.is_paused(Q)
    assert await broker.fetch(Q, 1, "w", 1000) is None
    await broker.resume(Q)
    assert len(await broker.fetch(Q, 1, "w", 1000)) == 1


async def test_heartbeat_extends_the_lease(broker: Broker) -> None:
    await enqueue(broker, spec())
    [job] = await broker.fetch(Q, 1, "w", 1000)
    k = broker.keys(Q)
    before = await broker.redis.zscore(k.active, job.id)
    assert await broker.heartbeat(Q, [job], 60_000) == [1]
    after = await broker.redis.zscore(k.active, job.id)
    assert after >= before + 58_000
    # a cancel request shows up in the heartbeat
    assert await broker.cancel(job.id) == "requested"
    assert await broker.heartbeat(Q, [job], 60_000) == [2]


async def test_ack_marks_succeeded_once(broker: Broker) -> None:
    await enqueue(broker, spec())
    [job] = await broker.fetch(Q, 1, "w", 5000)
    assert await broker.ack(Q, [(job, '{"ok": true}')]) == [True]
    done = await broker.get(job.id)
    assert done.status == "succeeded" and done.result == {"ok": True} and done.progress == 100
    assert await broker.redis.zcard(broker.keys(Q).active) == 0
    assert await broker.ack(Q, [(job, '{"ok": true}')]) == [False]  # a second ack is refused
    stats = await broker.queue_stats(Q)
    assert (stats.succeeded, stats.processed) == (1, 1)
    ttl = await broker.redis.pttl(broker.keys(Q).job(job.id))
    assert 0 < ttl <= broker.settings.retention_ms


async def test_fail_retries_with_backoff_then_goes_dead(broker: Broker) -> None:
    await enqueue(broker, spec(max_attempts=2))
    [job] = await broker.fetch(Q, 1, "w", 5000)
    assert await broker.fail(job, "ValueError: x", "Traceback...", 60_000) == "retry"
    waiting = await broker.get(job.id)
    assert waiting.status == "waiting" and waiting.error == "ValueError: x"
    assert await broker.redis.zscore(broker.keys(Q).waiting, job.id) == waiting.due_at
    # make it due and run the last attempt
    await broker.redis.zadd(broker.keys(Q).waiting, {job.id: 0})
    promoted, _, _ = await broker.promote(Q)
    assert promoted == 1
    [job2] = await broker.fetch(Q, 1, "w", 5000)
    assert job2.attempt == 2 and job2.token != job.token
    assert await broker.fail(job2, "ValueError: y", "tb", 0) == "dead"
    dead = await broker.get(job.id)
    assert dead.status == "dead" and dead.error == "ValueError: y" and dead.traceback == "tb"
    assert await broker.redis.zrange(broker.keys(Q).dead, 0, -1) == [job.id]


async def test_a_failure_after_a_cancel_request_cancels_instead_of_retrying(broker: Broker) -> None:
    await enqueue(broker, spec(max_attempts=5))
    [job] = await broker.fetch(Q, 1, "w", 5000)
    assert await broker.cancel(job.id) == "requested"
    assert await broker.fail(job, "CleanupError: x", "tb", 0) == "cancelled"
    cancelled = await broker.get(job.id)
    assert cancelled.status == "cancelled" and cancelled.error == "CleanupError: x"
    assert await broker.redis.zcard(broker.keys(Q).waiting) == 0
    assert await broker.redis.zrange(broker.keys(Q).cancelled, 0, -1) == [job.id]


async def test_recover_moves_expired_leases_to_waiting_counting_the_attempt(broker: Broker) -> None:
    await enqueue(broker, spec(max_attempts=3, backoff_base_ms=10))
    [job] = await broker.fetch(Q, 1, "dead-worker", 50)
    recovered = await eventually(lambda: _recovered(broker), 3, message="the expired lease is recovered")
    assert recovered >= 1
    j = await broker.get(job.id)
    assert j.status == "waiting"
    assert j.attempts == 1  # the lost attempt counts
    assert "lease expired" in j.error and "dead-worker" in j.error
    assert j.due_at - (await broker.time_ms()) <= 10  # backoff within base * 2**0
    assert await broker.redis.zcard(broker.keys(Q).active) == 0
    stats = await broker.queue_stats(Q)
    assert (stats.failed, stats.retried) == (1, 1)

    # a late ack / fail / heartbeat from the worker that lost it is rejected
    assert await broker.ack(Q, [(job, "null")]) == [False]
    assert await broker.fail(job, "late", "", 0) == "rejected"
    assert await broker.heartbeat(Q, [job], 1000) == [0]
    assert await broker.release(job) is False
    assert (await broker.get(job.id)).status == "waiting"


async def _recovered(broker: Broker) -> int:
    return await broker.recover(Q)


async def test_recover_after_the_last_attempt_goes_dead(broker: Broker) -> None:
    await enqueue(broker, spec(max_attempts=1))
    [job] = await broker.fetch(Q, 1, "w", 20)
    await eventually(lambda: _recovered(broker), 3)
    j = await broker.get(job.id)
    assert j.status == "dead" and j.attempts == 1
    assert await broker.redis.zrange(broker.keys(Q).dead, 0, -1) == [job.id]
    assert await broker.ack(Q, [(job, "null")]) == [False]


async def test_valid_lease_is_not_recovered(broker: Broker) -> None:
    await enqueue(broker, spec())
    [job] = await broker.fetch(Q, 1, "w", 60_000)
    assert await broker.recover(Q) == 0
    assert (await broker.get(job.id)).status == "active"


async def test_release_does_not_count_the_attempt(broker: Broker) -> None:
    first, second = await enqueue(broker, spec(), spec())
    [job] = await broker.fetch(Q, 1, "w", 5000)
    assert job.id == first
    assert await broker.release(job) is True
    j = await broker.get(first)
    assert j.status == "ready" and j.attempts == 0 and j.worker is None
    assert await broker.release(job) is False  # once only
    # released to the head of the queue: it is fetched before the other one
    [again] = await broker.fetch(Q, 1, "w", 5000)
    assert again.id == first and again.attempt == 1 and again.token != job.token
    assert await broker.ack(Q, [(job, "null")]) == [False]  # the old token is fenced too
    assert await broker.ack(Q, [(again, "null")]) == [True]


async def test_promote_moves_due_jobs_in_due_order(broker: Broker) -> None:
    ids = await enqueue(broker, *(spec(delay_ms=60_000) for _ in range(4)))
    k = broker.keys(Q)
    # make three of them due, in a known order
    await broker.redis.zadd(k.waiting, {ids[2]: 1, ids[0]: 2, ids[3]: 3})
    promoted, next_due, now_us = await broker.promote(Q)
    assert promoted == 3
    assert next_due == (await broker.get(ids[1])).due_at > now_us // 1000
    got = await broker.fetch(Q, 10, "w", 5000)
    assert [j.id for j in got] == [ids[2], ids[0], ids[3]]


async def test_promote_leases_due_jobs_to_the_promoting_worker(broker: Broker) -> None:
    ids = await enqueue(broker, *(spec(delay_ms=60_000) for _ in range(3)))
    k = broker.keys(Q)
    await broker.redis.zadd(k.waiting, {ids[0]: 1, ids[1]: 2})  # two are due
    promoted, next_due, _, leased = await broker.promote_and_lease(Q, 1000, 5, "w9", 5000)
    assert promoted == 2 and next_due == (await broker.get(ids[2])).due_at
    assert [j.id for j in leased] == ids[:2], "leased in due order, in the same call"
    assert all(j.token.startswith("w9/") and j.attempt == 1 for j in leased)
    assert (await broker.promote_and_lease(Q, 1000, 5, "w9", 5000))[3] == [], "nothing newly due: nothing leased"
    for job_id in ids[:2]:
        job = await broker.get(job_id)
        assert job.status == "active" and job.worker == "w9" and job.attempts == 1
    assert await broker.redis.llen(k.ready) == 0
    assert await broker.redis.zcard(k.active) == 2


async def test_promote_leases_nothing_on_a_paused_queue(broker: Broker) -> None:
    [job_id] = await enqueue(broker, spec(delay_ms=60_000))
    k = broker.keys(Q)
    await broker.pause(Q)
    await broker.redis.zadd(k.waiting, {job_id: 1})
    promoted, _, _, leased = await broker.promote_and_lease(Q, 1000, 5, "w9", 5000)
    assert promoted == 1 and leased == []
    assert (await broker.get(job_id)).status == "ready"


async def test_cancel_retry_delete(broker: Broker) -> None:
    a, b = await enqueue(broker, spec(), spec(delay_ms=60_000))
    assert await broker.cancel(a) == "cancelled"
    assert await broker.cancel(b) == "cancelled"
    assert await broker.redis.llen(broker.keys(Q).ready) == 0
    assert await broker.redis.zcard(broker.keys(Q).waiting) == 0
    assert await broker.retry(b) == "ready"
    assert (await broker.get(b)).status == "ready"
    assert await broker.delete(a) == "deleted"
    assert await broker.get(a) is None


async def test_submit_many_enqueues_a_thousand_jobs(make_tickr, registry: Registry) -> None:
    @registry.job("bulk")
    async def bulk(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=0)
    jobs = await tickr.submit_many([JobRequest("bulk", {"n": n}) for n in range(1000)])
    assert len(jobs) == 1000 and len({j.id for j in jobs}) == 1000
    k = tickr._broker.keys(Q)
    assert await tickr._broker.redis.llen(k.ready) == 1000
    stats = (await tickr.stats())[Q]
    assert (stats.ready, stats.enqueued) == (1000, 1000)
    # in submit order: the first submitted is the first fetched
    first = await tickr._broker.fetch(Q, 2, "w", 5000)
    assert [j.id for j in first] == [jobs[0].id, jobs[1].id]


async def test_submit_many_across_queues_and_batches(make_tickr, registry: Registry) -> None:
    @registry.job("bulk")
    async def bulk(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=0)
    reqs = [JobRequest("bulk", {"n": n}, queue="q1" if n % 2 else "q2") for n in range(2500)]
    jobs = await tickr.submit_many(reqs)
    assert [j.payload["n"] for j in jobs] == list(range(2500))  # results in request order
    assert [j.queue for j in jobs[:4]] == ["q2", "q1", "q2", "q1"]
    assert await tickr._broker.redis.llen(tickr._broker.keys("q1").ready) == 1250
    assert await tickr._broker.redis.llen(tickr._broker.keys("q2").ready) == 1250
