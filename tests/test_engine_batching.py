"""Concurrent single submits share Redis round trips, and each caller still gets its own job."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from tickr_app import Registry


class N(BaseModel):
    n: int


async def test_concurrent_submits_coalesce_into_fewer_enqueue_calls(make_tickr, registry: Registry) -> None:
    @registry.job("count")
    async def count(payload: N) -> int:
        return payload.n

    tickr = await make_tickr(workers=0)
    calls: list[int] = []
    real_enqueue = tickr.broker.enqueue

    async def counting_enqueue(queue, specs):
        calls.append(len(specs))
        return await real_enqueue(queue, specs)

    tickr.broker.enqueue = counting_enqueue  # type: ignore[method-assign]
    jobs = await asyncio.gather(*(tickr.submit("count", {"n": i}) for i in range(300)))

    assert len({j.id for j in jobs}) == 300
    assert [j.payload["n"] for j in jobs] == list(range(300)), "each caller gets its own job back"
    assert sum(calls) == 300
    assert len(calls) < 300 / 10, f"expected batches, got {len(calls)} enqueue calls"
    stored = await tickr.broker.get_many("default", [j.id for j in jobs])
    assert sorted(j.payload["n"] for j in stored) == list(range(300))
    assert (await tickr.broker.queue_stats("default")).ready == 300


async def test_an_idempotency_key_repeated_within_one_batch_gives_one_job(make_tickr, registry: Registry) -> None:
    @registry.job("count")
    async def count(payload: N) -> int:
        return payload.n

    tickr = await make_tickr(workers=0)
    # The same request 20 times at once (a different one would be a conflict: see
    # test_engine_idempotency_conflict.py).
    jobs = await asyncio.gather(*(tickr.submit("count", {"n": 1}, idempotency_key="same") for _ in range(20)))
    assert len({j.id for j in jobs}) == 1
    assert (await tickr.broker.queue_stats("default")).enqueued == 1


async def test_redis_errors_reach_every_waiting_caller(make_tickr, registry: Registry) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tickr_app.core.errors import RedisUnavailable

    @registry.job("count")
    async def count(payload: N) -> int:
        return payload.n

    tickr = await make_tickr(workers=0)

    async def broken_enqueue(queue, specs):
        await asyncio.sleep(0)
        raise RedisConnectionError("connection refused")

    tickr.broker.enqueue = broken_enqueue  # type: ignore[method-assign]
    results = await asyncio.gather(*(tickr.submit("count", {"n": i}) for i in range(50)), return_exceptions=True)
    assert all(isinstance(r, RedisUnavailable) for r in results), results[:3]
