"""Pausing and scaling: queue pause for every process, local pool pause, live scale up and
down, and commands to a worker process through Redis from another engine."""

from __future__ import annotations

import os
import socket

import pytest
from helpers import Gate, eventually, never
from timing import deadline

from tickr_app import JobContext, JobRequest, Registry
from tickr_app.core.errors import InvalidRequest, WorkerNotFound


def _started(gate: Gate, ids: list[str]) -> list[str]:
    return [i for i in ids if i in gate.entered]


async def test_pause_and_resume_a_queue(make_tickr, registry: Registry) -> None:
    gate = Gate()
    gate.open.set()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=2)
    await tickr.pause_queue("default")
    stats = (await tickr.stats())["default"]
    assert stats.paused
    ids = [j.id for j in await tickr.submit_many([JobRequest("work", {}) for _ in range(3)])]
    await never(lambda: _started(gate, ids), 0.3, message="a job started on a paused queue")
    assert (await tickr.stats())["default"].ready == 3

    await tickr.resume_queue("default")
    assert not (await tickr.stats())["default"].paused
    for i in ids:
        assert (await tickr.wait(i, timeout=deadline(5))).status == "succeeded"


async def test_queue_pause_lets_running_jobs_finish(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> str:
        await gate.hold(ctx.id)
        return "done"

    tickr = await make_tickr(workers=2)
    running = await tickr.submit("work", {})
    await eventually(lambda: running.id in gate.entered)
    await tickr.pause_queue("default")
    queued = await tickr.submit("work", {})
    gate.open.set()
    assert (await tickr.wait(running.id, timeout=deadline(5))).status == "succeeded"
    await never(lambda: queued.id in gate.entered, 0.3, message="a new job started on a paused queue")
    await tickr.resume_queue("default")
    assert (await tickr.wait(queued.id, timeout=deadline(5))).status == "succeeded"


async def test_queue_pause_applies_to_every_process(make_tickr, registry: Registry) -> None:
    gate = Gate()
    gate.open.set()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    worker = await make_tickr(workers=2)
    admin = await make_tickr(workers=0)
    await admin.pause_queue("default")
    j = await admin.submit("work", {})
    await never(lambda: j.id in gate.entered, 0.3, message="the worker ignored the queue pause")
    await admin.resume_queue("default")
    assert (await worker.wait(j.id, timeout=deadline(5))).status == "succeeded"


async def test_local_pool_pause_and_resume(make_tickr, registry: Registry) -> None:
    gate = Gate()
    gate.open.set()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=2)
    tickr._pool.pause()
    assert tickr._pool.paused
    j = await tickr.submit("work", {})
    await never(lambda: j.id in gate.entered, 0.3, message="a job started on a paused pool")
    job = await tickr.get(j.id)
    assert job.status == "ready"  # not leased either: another process could take it
    assert not (await tickr.stats())["default"].paused  # only this pool is paused
    tickr._pool.resume()
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "succeeded"


async def test_scale_up_reaches_the_new_concurrency(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("block")
    async def block(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=1)
    ids = [j.id for j in await tickr.submit_many([JobRequest("block", {}) for _ in range(4)])]
    await eventually(lambda: tickr._pool.busy == 1)
    await never(lambda: gate.inside > 1, 0.1, message="more than one job ran with concurrency 1")

    tickr._pool.scale(4)
    assert tickr._pool.concurrency == 4
    await eventually(lambda: tickr._pool.busy == 4, message="busy reaches 4 after scaling up")
    assert gate.inside == 4
    assert len(tickr._pool.running()) == 4
    gate.open.set()
    for i in ids:
        assert (await tickr.wait(i, timeout=deadline(5))).status == "succeeded"


async def test_scale_down_while_busy_lets_jobs_finish_and_then_holds_the_limit(
    make_tickr, registry: Registry
) -> None:
    first = Gate()
    second = Gate()

    @registry.job("block")
    async def block(payload: dict, ctx: JobContext) -> str:
        gate = first if payload["wave"] == 1 else second
        await gate.hold(ctx.id)
        return "finished"

    tickr = await make_tickr(workers=4)
    wave1 = [j.id for j in await tickr.submit_many([JobRequest("block", {"wave": 1}) for _ in range(4)])]
    await eventually(lambda: first.inside == 4)

    tickr._pool.scale(2)
    assert tickr._pool.concurrency == 2
    assert tickr._pool.busy == 4  # nothing was interrupted
    wave2 = [j.id for j in await tickr.submit_many([JobRequest("block", {"wave": 2}) for _ in range(4)])]
    await never(lambda: second.entered, 0.2, message="a new job started while over the new limit")

    first.open.set()
    for i in wave1:
        done = await tickr.wait(i, timeout=deadline(5))
        assert done.status == "succeeded" and done.result == "finished"
    assert first.cancelled == []
    await eventually(lambda: second.inside == 2, message="the second wave runs two at a time")
    await never(lambda: second.inside > 2 or tickr._pool.busy > 2, 0.2, message="busy exceeded 2")
    second.open.set()
    for i in wave2:
        assert (await tickr.wait(i, timeout=deadline(5))).status == "succeeded"
    assert second.max_inside == 2
    assert len(tickr._pool._slots) == 2


async def test_scale_to_zero_and_back(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict) -> str:
        return "ok"

    tickr = await make_tickr(workers=2)
    tickr._pool.scale(0)
    j = await tickr.submit("work", {})
    await never(lambda: _is_not_ready(tickr, j.id), 0.3, message="a job ran with concurrency 0")
    tickr._pool.scale(3)
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "succeeded"
    with pytest.raises(ValueError):
        tickr._pool.scale(-1)


async def _is_not_ready(tickr, job_id: str) -> bool:
    return (await tickr.get(job_id)).status != "ready"


# -- the worker registry and remote commands -----------------------------------------------


async def test_worker_processes_lists_the_live_pool(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("block")
    async def block(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=3)
    reader = await make_tickr(workers=0)
    [info] = await reader.worker_processes()
    assert info.id == tickr.worker_id
    assert info.host == socket.gethostname()
    assert info.pid == os.getpid()
    assert info.concurrency == 3
    assert info.busy == 0 and not info.paused
    assert info.queues == ["default"]

    j = await tickr.submit("block", {})
    await eventually(lambda: j.id in gate.entered)

    async def registry_shows_busy():
        [w] = await reader.worker_processes()
        return w if w.busy == 1 else None

    w = await eventually(registry_shows_busy, 5)
    assert w.jobs == [j.id]
    gate.open.set()
    await tickr.wait(j.id, timeout=deadline(5))


async def test_command_worker_from_another_engine(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict) -> str:
        return "ok"

    worker = await make_tickr(workers=2)
    admin = await make_tickr(workers=0)
    assert worker.worker_id != admin.worker_id

    await admin.command_worker(worker.worker_id, concurrency=5)
    await eventually(lambda: worker._pool.concurrency == 5, 3, message="the remote pool scaled to 5")
    assert len(worker._pool._slots) == 5

    async def registry_says(**expected):
        [w] = await admin.worker_processes()
        return all(getattr(w, k) == v for k, v in expected.items())

    await eventually(lambda: registry_says(concurrency=5), 3)

    await admin.command_worker(worker.worker_id, paused=True)
    await eventually(lambda: worker._pool.paused, 3, message="the remote pool paused")
    await eventually(lambda: registry_says(paused=True), 3)
    j = await admin.submit("work", {})
    await never(lambda: _is_not_ready(admin, j.id), 0.3, message="a paused pool ran a job")

    await admin.command_worker(worker.worker_id, paused=False, concurrency=1)
    await eventually(lambda: not worker._pool.paused and worker._pool.concurrency == 1, 3)
    assert (await admin.wait(j.id, timeout=deadline(5))).status == "succeeded"

    with pytest.raises(WorkerNotFound):
        await admin.command_worker("no-such-worker", concurrency=1)
    with pytest.raises(InvalidRequest):
        await admin.command_worker(worker.worker_id, concurrency=-1)


async def test_command_worker_on_own_pool_applies_at_once(make_tickr, registry: Registry) -> None:
    tickr = await make_tickr(workers=2)
    await tickr.command_worker(tickr.worker_id, concurrency=4, paused=True)
    assert tickr._pool.concurrency == 4 and tickr._pool.paused
    await tickr.command_worker(tickr.worker_id, paused=False)
    assert not tickr._pool.paused


async def test_stopped_worker_leaves_the_registry(make_tickr, registry: Registry) -> None:
    worker = await make_tickr(workers=1)
    reader = await make_tickr(workers=0)
    assert [w.id for w in await reader.worker_processes()] == [worker.worker_id]
    await worker.stop()
    assert await reader.worker_processes() == []
    with pytest.raises(WorkerNotFound):
        await reader.command_worker(worker.worker_id, concurrency=3)
