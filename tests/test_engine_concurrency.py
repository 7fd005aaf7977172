"""Concurrency: a pool never runs more than its concurrency, every job runs exactly once
even with several engines on one Redis, and a pool serves every one of its queues."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from helpers import Gate, eventually, wait_all
from timing import deadline

from tickr_app import JobContext, JobRequest, Registry


async def test_pool_never_exceeds_its_concurrency(make_tickr, registry: Registry) -> None:
    inside = 0
    peak = 0

    @registry.job("work")
    async def work(payload: dict) -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        try:
            await asyncio.sleep(random.uniform(0, 0.01))
        finally:
            inside -= 1

    tickr = await make_tickr(workers=5)
    jobs = await tickr.submit_many([JobRequest("work", {}) for _ in range(200)])
    await wait_all(tickr, [j.id for j in jobs], timeout=20)
    assert peak == 5, f"peak concurrency {peak}, expected exactly 5"


async def test_every_job_runs_exactly_once_across_engines(make_tickr, registry: Registry) -> None:
    runs: Counter[str] = Counter()
    by_worker: Counter[str] = Counter()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> int:
        runs[ctx.id] += 1
        await asyncio.sleep(0.001)
        return payload["n"]

    engines = [await make_tickr(workers=4) for _ in range(3)]
    producer = await make_tickr(workers=0)
    jobs = await producer.submit_many([JobRequest("work", {"n": n}) for n in range(300)])
    done = await wait_all(producer, [j.id for j in jobs], timeout=30)
    assert [d.result for d in done] == list(range(300))
    for d in done:
        by_worker[d.worker] += 1
    assert set(runs.values()) == {1} and len(runs) == 300
    assert set(by_worker) <= {e.worker_id for e in engines}
    assert len(by_worker) >= 2, f"only one engine took work: {by_worker}"
    stats = (await producer.stats())["default"]
    assert (stats.enqueued, stats.succeeded, stats.processed, stats.failed) == (300, 300, 300, 0)


async def test_pool_serves_every_queue(make_tickr, registry: Registry) -> None:
    """With several queues, each queue's fetcher gets the free slots (one fetcher holding a
    reservation on an empty queue must not starve the others)."""

    @registry.job("a", queue="alpha")
    async def a(payload: dict) -> str:
        return "alpha"

    @registry.job("b", queue="beta")
    async def b(payload: dict) -> str:
        return "beta"

    @registry.job("c")
    async def c(payload: dict) -> str:
        return "default"

    tickr = await make_tickr(workers=2)
    assert tickr.queues == ["alpha", "beta", "default"]
    for _ in range(3):  # each queue in turn, with the others empty
        for name in ("a", "b", "c"):
            j = await tickr.submit(name, {})
            done = await tickr.wait(j.id, timeout=deadline(3))
            assert done.status == "succeeded"
            assert done.result == done.queue


async def test_queues_share_the_pool_under_load(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("a", queue="alpha")
    async def a(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    @registry.job("b", queue="beta")
    async def b(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=4)
    alpha = await tickr.submit_many([JobRequest("a", {}) for _ in range(10)])
    beta = await tickr.submit_many([JobRequest("b", {}) for _ in range(10)])
    await eventually(lambda: gate.inside == 4)
    assert tickr._pool.busy == 4
    gate.open.set()
    done = await wait_all(tickr, [j.id for j in alpha + beta], timeout=10)
    assert {d.status for d in done} == {"succeeded"}
    assert gate.max_inside == 4


async def test_submits_from_many_tasks_while_workers_run(make_tickr, registry: Registry) -> None:
    seen: Counter[int] = Counter()

    @registry.job("work")
    async def work(payload: dict) -> None:
        seen[payload["n"]] += 1

    tickr = await make_tickr(workers=8)

    async def producer(start: int) -> list[str]:
        ids = []
        for n in range(start, start + 25):
            ids.append((await tickr.submit("work", {"n": n}, delay=random.choice([0, 0, 0.02]))).id)
        return ids

    batches = await asyncio.gather(*(producer(k * 25) for k in range(8)))
    await wait_all(tickr, [i for ids in batches for i in ids], timeout=20)
    assert sorted(seen) == list(range(200)) and set(seen.values()) == {1}
