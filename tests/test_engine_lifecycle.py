"""A job's normal life through a real engine: submit, run, succeed, read it back; validation;
idempotency; the engine inside an already running loop and as a producer only."""

from __future__ import annotations

import asyncio

import pytest
from helpers import Gate, eventually, status_is
from pydantic import BaseModel
from timing import deadline

from tickr_app import JobContext, JobRequest, Registry, Tickr
from tickr_app.core.errors import InvalidPayload, InvalidRequest, JobNotFound, UnknownJobType


class Add(BaseModel):
    a: int
    b: int = 0


async def test_submit_runs_and_succeeds_with_result(make_tickr, registry: Registry) -> None:
    seen: list[tuple[Add, str, int]] = []

    @registry.job("add")
    async def add(payload: Add, ctx: JobContext) -> dict:
        seen.append((payload, ctx.id, ctx.attempt))
        await ctx.progress(40, "half way")
        return {"sum": payload.a + payload.b}

    tickr = await make_tickr(workers=2)
    j = await tickr.submit("add", {"a": 2, "b": 3})
    assert j.status == "ready" and j.attempts == 0 and j.type == "add" and j.queue == "default"
    assert j.payload == {"a": 2, "b": 3}

    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded"
    assert done.result == {"sum": 5}
    assert done.attempts == 1
    assert done.progress == 100
    assert done.error is None
    assert done.worker == tickr.worker_id
    assert done.created_at <= done.started_at <= done.finished_at
    assert seen == [(Add(a=2, b=3), j.id, 1)]

    got = await tickr.get(j.id)
    assert got is not None and got.status == "succeeded" and got.result == {"sum": 5}
    assert got.progress_message == "half way"

    stats = (await tickr.stats())["default"]
    assert (stats.enqueued, stats.succeeded, stats.processed, stats.failed) == (1, 1, 1, 0)
    assert (stats.ready, stats.waiting, stats.active, stats.dead) == (0, 0, 0, 0)
    assert stats.by_type["add"] == {"enqueued": 1, "succeeded": 1}
    assert tickr._pool.counters.succeeded == 1


async def test_many_jobs_all_succeed_and_are_counted(make_tickr, registry: Registry) -> None:
    @registry.job("square")
    async def square(payload: dict) -> int:  # a plain-dict payload, no context
        return payload["n"] ** 2

    tickr = await make_tickr(workers=4)
    jobs = await tickr.submit_many([JobRequest("square", {"n": n}) for n in range(50)])
    assert len({j.id for j in jobs}) == 50
    results = [await tickr.wait(j.id, timeout=deadline(10)) for j in jobs]
    assert [r.result for r in results] == [n * n for n in range(50)]
    stats = (await tickr.stats())["default"]
    assert (stats.enqueued, stats.succeeded, stats.processed) == (50, 50, 50)


async def test_progress_is_visible_while_running(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("slow")
    async def slow(payload: dict, ctx: JobContext) -> str:
        await ctx.progress(30, "warming up")
        await gate.hold(ctx.id)
        return "ok"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("slow", {})
    running = await status_is(tickr, j.id, "active")
    assert running.worker == tickr.worker_id and running.attempts == 1
    job = await eventually(lambda: _with_progress(tickr, j.id, 30))
    assert job.progress_message == "warming up"
    assert [r.job_id for r in tickr._pool.running()] == [j.id]
    gate.open.set()
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "succeeded"


async def _with_progress(tickr: Tickr, job_id: str, percent: float):
    job = await tickr.get(job_id)
    return job if job is not None and job.progress == percent else None


async def test_get_and_wait_unknown_job(make_tickr) -> None:
    tickr = await make_tickr(workers=0)
    assert await tickr.get("no-such-job") is None
    with pytest.raises(JobNotFound):
        await tickr.wait("no-such-job", timeout=deadline(1))


async def test_wait_times_out_on_a_job_that_does_not_finish(make_tickr, registry: Registry) -> None:
    @registry.job("later")
    async def later(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("later", {}, delay=3600)
    with pytest.raises(TimeoutError):
        await tickr.wait(j.id, timeout=deadline(0.2))


async def test_result_that_is_a_model_is_stored_as_json(make_tickr, registry: Registry) -> None:
    @registry.job("echo")
    async def echo(payload: Add) -> Add:
        return payload

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("echo", Add(a=7))  # a model instance is accepted as payload too
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.result == {"a": 7, "b": 0}


async def test_unserializable_result_goes_dead(make_tickr, registry: Registry) -> None:
    @registry.job("bad-result")
    async def bad_result(payload: dict) -> object:
        return object()

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("bad-result", {})
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "dead"
    assert "not JSON serializable" in done.error


# -- validation at submit ------------------------------------------------------------------


async def test_invalid_submits_are_refused_and_nothing_is_enqueued(make_tickr, registry: Registry) -> None:
    @registry.job("add")
    async def add(payload: Add) -> int:
        return payload.a

    tickr = await make_tickr(workers=0)
    with pytest.raises(UnknownJobType):
        await tickr.submit("nope", {})
    with pytest.raises(InvalidPayload) as info:
        await tickr.submit("add", {"a": "not a number"})
    assert [d["field"] for d in info.value.details] == ["a"]
    with pytest.raises(InvalidRequest):
        await tickr.submit("add", {"a": 1}, delay=1, run_at=0)
    with pytest.raises(InvalidRequest):
        await tickr.submit("add", {"a": 1}, delay=-1)
    with pytest.raises(InvalidRequest):
        await tickr.submit("add", {"a": 1}, max_attempts=0)
    with pytest.raises(InvalidRequest):
        await tickr.submit("add", {"a": 1}, queue="bad:queue")
    # one bad job in a batch: none of the batch is enqueued
    with pytest.raises(InvalidPayload):
        await tickr.submit_many([JobRequest("add", {"a": 1}), JobRequest("add", {})])
    assert (await tickr.stats())["default"].enqueued == 0


# -- idempotency ---------------------------------------------------------------------------


async def test_idempotency_key_returns_the_same_job_and_runs_it_once(make_tickr, registry: Registry) -> None:
    runs: list[str] = []

    @registry.job("charge")
    async def charge(payload: dict, ctx: JobContext) -> str:
        runs.append(ctx.id)
        return "charged"

    tickr = await make_tickr(workers=2)
    first = await tickr.submit("charge", {"amount": 10}, idempotency_key="order-42")
    second = await tickr.submit("charge", {"amount": 10}, idempotency_key="order-42")
    assert second.id == first.id
    assert second.idempotency_key == "order-42"
    other = await tickr.submit("charge", {"amount": 10}, idempotency_key="order-43")
    assert other.id != first.id
    assert (await tickr.wait(first.id, timeout=deadline(5))).status == "succeeded"
    assert (await tickr.wait(other.id, timeout=deadline(5))).status == "succeeded"
    # after it finished, the key still returns the original (succeeded) job
    third = await tickr.submit("charge", {"amount": 10}, idempotency_key="order-42")
    assert third.id == first.id and third.status == "succeeded"
    assert sorted(runs) == sorted([first.id, other.id])
    assert (await tickr.stats())["default"].enqueued == 2


async def test_idempotency_key_twice_in_one_batch(make_tickr, registry: Registry) -> None:
    @registry.job("charge")
    async def charge(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=0)
    a, b = await tickr.submit_many(
        [JobRequest("charge", {}, idempotency_key="k"), JobRequest("charge", {}, idempotency_key="k")]
    )
    assert a.id == b.id
    assert (await tickr.stats())["default"].ready == 1


async def test_concurrent_submits_with_one_key_make_one_job(make_tickr, registry: Registry) -> None:
    @registry.job("charge")
    async def charge(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=0)
    jobs = await asyncio.gather(*(tickr.submit("charge", {}, idempotency_key="same") for _ in range(20)))
    assert len({j.id for j in jobs}) == 1
    assert (await tickr.stats())["default"].enqueued == 1


# -- the engine in a running loop, and as a producer ---------------------------------------


async def test_engine_as_async_context_manager_inside_a_running_loop(
    redis_url: str, prefix: str, registry: Registry, home
) -> None:
    @registry.job("ping")
    async def ping(payload: dict) -> str:
        return "pong"

    async with Tickr(redis_url, workers=1, prefix=prefix, registry=registry, home=home, builtin_jobs=False) as tickr:
        assert tickr.running
        j = await tickr.submit("ping", {})
        assert (await tickr.wait(j.id, timeout=deadline(5))).result == "pong"
    assert not tickr.running
    # stopping unregistered the worker process
    async with Tickr(redis_url, workers=0, prefix=prefix, registry=registry, home=home, builtin_jobs=False) as reader:
        assert await reader.worker_processes() == []


async def test_not_started_engine_says_so(redis_url: str, prefix: str, registry: Registry) -> None:
    tickr = Tickr(redis_url, workers=0, prefix=prefix, registry=registry, builtin_jobs=False)
    with pytest.raises(RuntimeError, match="not started"):
        await tickr.get("x")


async def test_producer_only_engine_runs_nothing_and_another_engine_runs_its_jobs(
    make_tickr, registry: Registry
) -> None:
    ran_by: list[str] = []

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        ran_by.append(ctx.id)

    producer = await make_tickr(workers=0)
    assert producer._pool is None and producer._scheduler is None
    now = await producer.submit("work", {})
    later = await producer.submit("work", {}, delay=0.1)
    assert (await producer.get(now.id)).status == "ready"
    assert await producer.worker_processes() == []

    worker = await make_tickr(workers=2)
    assert (await producer.wait(now.id, timeout=deadline(5))).worker == worker.worker_id
    assert (await producer.wait(later.id, timeout=deadline(5))).status == "succeeded"  # promoted by the worker's scheduler
    assert sorted(ran_by) == sorted([now.id, later.id])
