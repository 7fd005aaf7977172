"""Plain ``def`` handlers: they run on a bounded thread pool, never on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from helpers import ThreadedApi, eventually, never, status_is
from timing import deadline

from tickr_app import JobContext, PermanentError, Registry


async def test_def_handler_runs_on_a_thread_and_reports_progress(make_tickr, registry: Registry) -> None:
    seen: dict[str, object] = {}
    release = threading.Event()

    @registry.job("blocking")
    def blocking(payload: dict, ctx: JobContext) -> dict:
        seen["thread"] = threading.get_ident()
        ctx.progress(30, "from a thread")
        release.wait(10)
        seen["cancelled"] = ctx.cancelled.is_set()
        return {"n": payload["n"] * 2, "last": ctx.is_last_attempt}

    assert registry.get("blocking").run_in == "thread"
    tickr = await make_tickr(workers=2)
    j = await tickr.submit("blocking", {"n": 21})

    async def progressed():
        job = await tickr.get(j.id)
        return job if job.progress == 30 else None

    running = await eventually(progressed, message="progress from the thread reaches the record")
    assert running.progress_message == "from a thread" and running.status == "active"
    # The loop is free while the handler blocks: this await would hang otherwise.
    await asyncio.sleep(0.01)
    release.set()
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded" and done.result == {"n": 42, "last": False}
    assert seen["thread"] != threading.get_ident()
    assert seen["cancelled"] is False


async def test_def_handler_failure_is_retried_then_permanent_error_is_dead(make_tickr, registry: Registry) -> None:
    attempts: list[int] = []

    @registry.job("flaky", max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
    def flaky(payload: dict, ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 2:
            raise RuntimeError("not yet")
        return "ok"

    @registry.job("hopeless")
    def hopeless(payload: dict) -> None:
        raise PermanentError("never")

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("flaky", {})
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded" and done.attempts == 2 and done.result == "ok"
    assert attempts == [1, 2]
    h = await tickr.submit("hopeless", {})
    dead = await tickr.wait(h.id, timeout=deadline(10))
    assert dead.status == "dead" and dead.attempts == 1 and dead.error == "PermanentError: never"
    assert "in hopeless" in dead.traceback


async def test_timeout_fails_the_attempt_at_once_and_the_thread_keeps_its_seat(make_tickr, registry: Registry) -> None:
    release = threading.Event()
    saw_cancel: list[bool] = []
    started: list[str] = []

    @registry.job("stuck", timeout=0.3, max_attempts=1)
    def stuck(payload: dict, ctx: JobContext) -> None:
        started.append(ctx.id)
        release.wait(30)
        saw_cancel.append(ctx.cancelled.is_set())

    @registry.job("quick")
    def quick(payload: dict, ctx: JobContext) -> str:
        started.append(ctx.id)
        return "quick"

    tickr = await make_tickr(workers=1)
    threads = tickr._pool.runners.threads
    j = await tickr.submit("stuck", {})
    dead = await tickr.wait(j.id, timeout=deadline(5))
    assert dead.status == "dead" and dead.error == "timed out after 0.3 s"
    # The attempt is over but a Python thread cannot be killed: it still holds its seat...
    assert (threads.seats_taken, threads.abandoned) == (1, 1)
    assert tickr._pool.busy == 0
    # ...so with one seat the next thread job waits for it rather than run a second thread.
    q = await tickr.submit("quick", {})
    await status_is(tickr, q.id, "active")
    await never(lambda: len(started) > 1, 0.2, message="a second thread started while the seat was held")
    release.set()
    done = await tickr.wait(q.id, timeout=deadline(5))
    assert done.status == "succeeded" and started == [j.id, q.id]
    assert saw_cancel == [True], "the timed-out handler sees ctx.cancelled"
    assert (threads.seats_taken, threads.abandoned) == (0, 0)


async def test_cancel_marks_the_job_cancelled_at_once(make_tickr, registry: Registry) -> None:
    release = threading.Event()
    inside = threading.Event()
    saw_cancel: list[bool] = []

    @registry.job("cooperative")
    def cooperative(payload: dict, ctx: JobContext) -> str:
        inside.set()
        while not ctx.cancelled.is_set() and not release.is_set():
            time.sleep(0.01)
        saw_cancel.append(ctx.cancelled.is_set())
        return "stopped"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("cooperative", {})
    await eventually(inside.is_set)
    assert await tickr.cancel(j.id) == "requested"
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "cancelled" and done.result is None
    await eventually(lambda: saw_cancel == [True], message="the handler saw the cancel flag and returned")
    await eventually(lambda: tickr._pool.runners.threads.seats_taken == 0)


async def test_never_more_threads_than_the_concurrency(make_tickr, registry: Registry) -> None:
    lock = threading.Lock()
    inside = [0, 0]  # now, most

    @registry.job("hold")
    def hold(payload: dict) -> None:
        with lock:
            inside[0] += 1
            inside[1] = max(inside[1], inside[0])
        time.sleep(deadline(0.05))  # long enough next to dispatching three jobs, on a slow host too
        with lock:
            inside[0] -= 1

    tickr = await make_tickr(workers=3)
    jobs = await tickr.submit_many([{"type": "hold", "payload": {"i": i}} for i in range(12)])
    for j in jobs:
        assert (await tickr.wait(j.id, timeout=deadline(10))).status == "succeeded"
    assert inside[1] == 3
    assert tickr._pool.runners.threads.threads <= 3


async def test_graceful_stop_waits_for_thread_jobs_then_requeues_without_counting(
    make_tickr, registry: Registry
) -> None:
    release = threading.Event()
    inside = threading.Event()

    @registry.job("slow")
    def slow(payload: dict, ctx: JobContext) -> str:
        inside.set()
        release.wait(30)
        return "done"

    tickr = await make_tickr(workers=1)
    reader = await make_tickr(workers=0)
    j = await tickr.submit("slow", {})
    await eventually(inside.is_set)
    began = time.monotonic()
    await asyncio.wait_for(tickr.stop(grace_period=0.3), deadline(10))
    assert time.monotonic() - began >= 0.3, "stop waits for the thread job within the grace"
    released = await reader.get(j.id)
    assert released.status == "ready" and released.attempts == 0
    release.set()

    # and within the grace it finishes normally
    release.clear()
    inside.clear()
    second = await make_tickr(workers=1)
    await eventually(inside.is_set)
    stopping = asyncio.create_task(second.stop(grace_period=10))
    await eventually(lambda: second._pool._stopping)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, deadline(10))
    done = await reader.get(j.id)
    assert done.status == "succeeded" and done.attempts == 1


def test_run_in_is_checked_against_the_handler(registry: Registry) -> None:
    def plain(payload: dict) -> None: ...

    async def coro(payload: dict) -> None: ...

    with pytest.raises(TypeError, match="must be an async function"):
        registry.job("a", run_in="loop")(plain)
    with pytest.raises(TypeError, match="needs a plain def"):
        registry.job("b", run_in="thread")(coro)
    with pytest.raises(ValueError, match="run_in must be one of"):
        registry.job("c", run_in="gpu")(plain)  # type: ignore[arg-type]
    registry.job("d")(coro)
    registry.job("e")(plain)
    assert (registry.get("d").run_in, registry.get("e").run_in) == ("loop", "thread")
    assert registry.get("e").describe()["run_in"] == "thread"


async def test_a_long_thread_job_keeps_its_lease(make_tickr, registry: Registry, redis_url: str, prefix: str, tmp_path) -> None:
    @registry.job("long_io")
    def long_io(payload: dict) -> str:
        time.sleep(4 * lease)  # blocking I/O longer than four leases
        return "done"

    # 0.6 s on a quiet machine, scaled: heartbeats come every lease/3 from a loop that a slow
    # host also slows down; what is under test is that they come while a thread blocks.
    lease = deadline(0.6)
    sweeper = ThreadedApi(
        redis_url, prefix=prefix, registry=registry, workers=0, scheduler=True, builtin_jobs=False,
        home=tmp_path / "sweeper", lease=lease,
    )  # fmt: skip
    with sweeper:  # takes back any lease that runs out, from a loop of its own
        tickr = await make_tickr(workers=1, lease=lease)
        j = await tickr.submit("long_io", {})
        done = await tickr.wait(j.id, timeout=deadline(30))
        assert done.status == "succeeded" and done.attempts == 1, done.error
        assert sweeper.tickr._scheduler.recovered == 0
