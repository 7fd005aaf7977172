"""Flow control in one process (the many-process guarantees are in test_limits_processes.py):
rate and concurrency limits per queue and per job type, held jobs that neither fail nor count
an attempt, RateLimited pauses, live changes, declared defaults and bad values."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from helpers import Gate, eventually, never, wait_all

from tickr_app import JobContext, JobRequest, RateLimited, Registry
from tickr_app.core.errors import InvalidRequest


def max_in_window(starts: list[int], window_ms: int) -> int:
    """Most start times (ms) inside any half-open window of ``window_ms``."""
    ordered = sorted(starts)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_queue_rate_limit_caps_starts_per_window(make_tickr, registry: Registry) -> None:
    @registry.job("work")
    async def work(payload: dict) -> None: ...

    tickr = await make_tickr(workers=8)
    await tickr.set_limits("default", rate="10/500ms")
    jobs = await tickr.submit_many([JobRequest("work", {}) for _ in range(30)])
    done = await wait_all(tickr, [j.id for j in jobs], timeout=20)
    starts = [d.started_at for d in done]
    assert max_in_window(starts, 500) <= 10, "more than 10 starts in some 500 ms window"
    assert max(starts) - min(starts) >= 1000, "30 jobs at 10 per 500 ms take at least 1 s"
    assert all(d.attempts == 1 for d in done), "a throttled job spends no attempt"
    stats = await tickr.queue_stats("default")
    assert stats.limits is not None and stats.limits.limits.rate == "10/500ms"
    assert stats.failed == 0


async def test_queue_concurrency_limit_holds_across_engines(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    engines = [await make_tickr(workers=4) for _ in range(2)]
    await engines[0].set_limits("default", concurrency=3)
    jobs = await engines[0].submit_many([JobRequest("work", {}) for _ in range(10)])
    await eventually(lambda: gate.inside == 3, message="three jobs run")
    await never(lambda: gate.inside > 3, 0.3, message="a fourth job started")
    limits = await engines[0].get_limits("default")
    assert limits.limits.running == 3 and limits.limits.throttled
    gate.open.set()
    await wait_all(engines[0], [j.id for j in jobs], timeout=20)
    assert gate.max_inside == 3


async def test_a_limited_type_waits_without_blocking_the_others(make_tickr, registry: Registry) -> None:
    gate = Gate()
    ran: list[str] = []

    @registry.job("slow")
    async def slow(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    @registry.job("fast")
    async def fast(payload: dict, ctx: JobContext) -> None:
        ran.append(ctx.id)

    tickr = await make_tickr(workers=6)
    await tickr.set_limits("default", "slow", concurrency=1)
    slow_jobs = await tickr.submit_many([JobRequest("slow", {}) for _ in range(5)])
    fast_jobs = await tickr.submit_many([JobRequest("fast", {}) for _ in range(5)])
    await wait_all(tickr, [j.id for j in fast_jobs], timeout=10)  # not stuck behind held 'slow' jobs
    assert gate.inside == 1 and gate.max_inside == 1
    limits = await tickr.get_limits("default")
    state = limits.types["slow"]
    assert (state.concurrency, state.running, state.held, state.throttled) == (1, 1, 4, True)
    held = [await tickr.get(j.id) for j in slow_jobs]
    assert sorted(h.status for h in held) == ["active"] + ["ready"] * 4
    assert all(h.attempts == 0 for h in held if h.status == "ready"), "a held job spends no attempt"
    gate.open.set()
    done = await wait_all(tickr, [j.id for j in slow_jobs], timeout=10)
    assert [d.attempts for d in done] == [1] * 5
    assert gate.entered == [j.id for j in slow_jobs], "FIFO within the type: held jobs start in order"
    stats = await tickr.queue_stats("default")
    assert stats.by_type["slow"]["limited"] == 4 and stats.limited == 4


async def test_rate_limited_pauses_the_type_and_spends_no_attempt(make_tickr, registry: Registry) -> None:
    calls: list[tuple[str, int, float]] = []

    @registry.job("api")
    async def api(payload: dict, ctx: JobContext) -> str:
        calls.append((ctx.id, ctx.attempt, time.monotonic()))
        if payload["n"] == 0 and len(calls) == 1:
            raise RateLimited(retry_after=0.6, message="429 from the API")
        return "ok"

    @registry.job("other")
    async def other(payload: dict) -> str:
        return "ok"

    tickr = await make_tickr(workers=4)
    first = await tickr.submit("api", {"n": 0})
    await eventually(lambda: calls, message="the first call ran")
    limits = await eventually(lambda: _paused(tickr, "api"), message="the type is paused after RateLimited")
    assert limits.types["api"].paused_ms > 0
    later = await tickr.submit("api", {"n": 1})
    unrelated = await tickr.submit("other", {})
    assert (await tickr.wait(unrelated.id, 5)).status == "succeeded"  # other types run on
    assert len(calls) == 1, "no 'api' job starts during the pause"
    done_first, _ = await wait_all(tickr, [first.id, later.id], timeout=10)
    assert done_first.status == "succeeded" and done_first.attempts == 1, "the rate-limited try was not counted"
    assert [c[0] for c in calls] == [first.id, first.id, later.id], "the given-back job runs first after the pause"
    assert calls[1][2] - calls[0][2] >= 0.5, "the type stayed paused for retry_after"
    assert [c[1] for c in calls[:2]] == [1, 1]
    stats = await tickr.queue_stats("default")
    assert stats.rate_limited == 1 and stats.failed == 0


async def test_rate_limited_with_queue_scope_pauses_every_type_in_the_queue(make_tickr, registry: Registry) -> None:
    """RateLimited(scope="queue"): the remote side throttles the whole queue's client, so no job
    of any type starts there until the pause ends; clearing the queue's limits lifts it."""
    starts: list[tuple[str, int]] = []

    @registry.job("api")
    async def api(payload: dict, ctx: JobContext) -> str:
        starts.append(("api", ctx.attempt))
        if len(starts) == 1:
            raise RateLimited(retry_after=3600, message="429 for the account", scope="queue")
        return "ok"

    @registry.job("other")
    async def other(payload: dict) -> str:
        starts.append(("other", 1))
        return "ok"

    tickr = await make_tickr(workers=4)
    first = await tickr.submit("api", {})
    limits = await eventually(lambda: _queue_paused(tickr), message="the queue is paused after RateLimited")
    assert limits.limits.paused_ms > 0 and limits.limits.throttled
    unrelated = await tickr.submit("other", {})
    await never(lambda: len(starts) > 1, 0.5, message="no job of any type starts during the queue's pause")
    assert (await tickr.get(unrelated.id)).status == "ready"
    await tickr.clear_limits("default")  # lifts the pause, as for a type
    done_first, done_other = await wait_all(tickr, [first.id, unrelated.id], timeout=10)
    assert done_first.status == done_other.status == "succeeded"
    assert done_first.attempts == 1, "the rate-limited try was not counted"


def test_rate_limited_scope_is_checked_and_survives_pickling() -> None:
    import pickle

    exc = pickle.loads(pickle.dumps(RateLimited(2, "slow down", scope="queue")))
    assert (exc.retry_after, exc.message, exc.scope) == (2.0, "slow down", "queue")
    with pytest.raises(ValueError, match="scope"):
        RateLimited(1, scope="everything")


async def _queue_paused(tickr: Any) -> Any:
    limits = await tickr.get_limits("default")
    return limits if limits.limits.paused_ms > 0 else None


async def _paused(tickr: Any, job_type: str) -> Any:
    limits = await tickr.get_limits("default")
    state = limits.types.get(job_type)
    return limits if state is not None and state.paused_ms > 0 else None


async def test_live_changes_apply_without_restart(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=6)
    await tickr.set_limits("default", "work", concurrency=1)
    jobs = await tickr.submit_many([JobRequest("work", {}) for _ in range(6)])
    await eventually(lambda: gate.inside == 1)
    await never(lambda: gate.inside > 1, 0.2, message="a second job started under concurrency 1")
    await tickr.set_limits("default", "work", concurrency=4)
    await eventually(lambda: gate.inside == 4, message="raising the limit live starts more at once")
    await tickr.clear_limits("default", "work")
    await eventually(lambda: gate.inside == 6, message="clearing the limit lets every job start")
    gate.open.set()
    await wait_all(tickr, [j.id for j in jobs], timeout=10)


async def test_declared_defaults_and_live_precedence(make_tickr, registry: Registry) -> None:
    @registry.job("report", rate_limit="20/s", concurrency=3)
    async def report(payload: dict) -> None: ...

    tickr = await make_tickr(workers=1)
    state = (await tickr.get_limits("default")).types["report"]
    assert (state.rate, state.concurrency, state.declared_rate, state.live_rate) == ("20/s", 3, "20/s", None)
    await tickr.set_limits("default", "report", rate="5/min")
    state = (await tickr.get_limits("default")).types["report"]
    assert (state.rate, state.concurrency) == ("5/min", 3), "the live rate wins, the declared concurrency stays"
    await tickr.clear_limits("default", "report")
    state = (await tickr.get_limits("default")).types["report"]
    assert (state.rate, state.live_rate) == ("20/s", None), "clearing lets the declared default apply again"
    assert registry.get("report").describe()["rate_limit"] == "20/s"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"rate": "0/s"}, "invalid rate"),
        ({"rate": "abc"}, "rate"),
        ({"rate": "-5/s"}, "rate"),
        ({"rate": "5/0s"}, "invalid rate"),
        ({"rate": 0}, "count"),
        ({"rate": 5, "per": -1}, "period"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": -3}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({}, "give"),
    ],
)
async def test_bad_values_are_clean_errors(make_tickr, kwargs: dict[str, Any], words: str) -> None:
    tickr = await make_tickr(workers=0)
    with pytest.raises(InvalidRequest, match=words):
        await tickr.set_limits("default", **kwargs)


def test_bad_declarations_fail_at_import() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="rate"):

        @registry.job("x", rate_limit="lots")
        async def x(payload: dict) -> None: ...

    with pytest.raises(ValueError, match="concurrency"):

        @registry.job("y", concurrency=0)
        async def y(payload: dict) -> None: ...

    with pytest.raises(ValueError, match="retry_after"):
        RateLimited(retry_after=-1)


async def test_queue_limit_throttles_fetch_without_spinning(make_tickr, registry: Registry) -> None:
    """A throttled queue's fetch loop sleeps until the window frees: a handful of fetches, not
    thousands, while 3 jobs wait out a 1-per-300 ms limit."""

    @registry.job("work")
    async def work(payload: dict) -> None: ...

    tickr = await make_tickr(workers=2)
    await tickr.set_limits("default", rate="1/300ms")
    fetches = 0
    broker = tickr._broker
    real = broker.fetch_limited

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal fetches
        fetches += 1
        return await real(*args, **kwargs)

    broker.fetch_limited = counting  # type: ignore[method-assign]
    jobs = await tickr.submit_many([JobRequest("work", {}) for _ in range(3)])
    await wait_all(tickr, [j.id for j in jobs], timeout=10)
    assert fetches < 40, f"{fetches} fetches for 3 throttled jobs: the loop spins"
    assert tickr._pool is not None and tickr._pool._fetcher.throttled_s["default"] > 0.3
    await asyncio.sleep(0)


async def test_a_held_job_can_be_cancelled_and_never_runs(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("slow")
    async def slow(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=3)
    await tickr.set_limits("default", "slow", concurrency=1)
    first, held = await tickr.submit_many([JobRequest("slow", {}), JobRequest("slow", {})])
    await eventually(lambda: gate.inside == 1)
    await eventually(lambda: _held(tickr, "slow"), message="the second job is held")
    assert await tickr.cancel(held.id) == "cancelled"
    gate.open.set()
    assert (await tickr.wait(first.id, 5)).status == "succeeded"
    await never(lambda: held.id in gate.entered, 0.3, message="the cancelled held job ran")
    assert (await tickr.get(held.id)).status == "cancelled"


async def _held(tickr: Any, job_type: str) -> bool:
    state = (await tickr.get_limits("default")).types.get(job_type)
    return state is not None and state.held == 1


def test_rate_limited_survives_pickling() -> None:
    """A process job's exception reaches the pool pickled: RateLimited keeps its retry_after."""
    import pickle

    exc = pickle.loads(pickle.dumps(RateLimited(retry_after=2.5, message="429")))
    assert isinstance(exc, RateLimited) and exc.retry_after == 2.5 and "429" in str(exc)


async def test_held_jobs_keep_a_queue_from_being_forgotten(make_tickr, registry: Registry) -> None:
    from tickr_app.core.errors import QueueNotEmpty

    ran: list[str] = []

    @registry.job("slow", queue="side")
    async def slow(payload: dict, ctx: JobContext) -> None:
        ran.append(ctx.id)

    admin = await make_tickr(workers=0)
    await admin.set_limits("side", "slow", rate="1/min")
    worker = await make_tickr(workers=2, queues=["side"])
    jobs = await admin.submit_many([JobRequest("slow", {}) for _ in range(3)])
    await eventually(lambda: len(ran) == 1)
    await eventually(lambda: _held_in(admin, "side", 2), message="two jobs held for a minute")
    await worker.stop(grace_period=0)
    stats = await admin.queue_stats("side")
    assert (stats.ready, stats.waiting, stats.active) == (0, 0, 0), "only held jobs are left"
    with pytest.raises(QueueNotEmpty):
        await admin.forget_queue("side")
    await admin.clear_limits("side", "slow")
    again = await make_tickr(workers=2, queues=["side"])
    await wait_all(again, [j.id for j in jobs], timeout=10)
    await again.stop()
    await admin.forget_queue("side")
    assert (await admin.get_limits("side")).types == {}, "the forgotten queue's limits went with it"


async def _held_in(tickr: Any, queue: str, n: int) -> bool:
    state = (await tickr.get_limits(queue)).types.get("slow")
    return state is not None and state.held == n


async def test_clearing_a_types_limits_lifts_its_rate_limited_pause(make_tickr, registry: Registry) -> None:
    calls: list[str] = []

    @registry.job("api")
    async def api(payload: dict, ctx: JobContext) -> None:
        calls.append(ctx.id)
        if len(calls) == 1:
            raise RateLimited(retry_after=3600)

    tickr = await make_tickr(workers=2)
    job = await tickr.submit("api", {})
    await eventually(lambda: _paused(tickr, "api"), message="paused for an hour")
    await tickr.clear_limits("default", "api")
    done = await tickr.wait(job.id, 5)
    assert done.status == "succeeded" and calls == [job.id, job.id]


async def test_a_job_ending_wakes_a_fetcher_throttled_by_concurrency(make_tickr, registry: Registry) -> None:
    """The throttled fetch loop sleeps until a running job ends anywhere (the limits channel),
    not until a timer: with the fallback re-check an hour away, ten jobs still run one by one."""

    @registry.job("work")
    async def work(payload: dict) -> None: ...

    tickr = await make_tickr(workers=4)
    assert tickr._pool is not None
    tickr._pool._fetcher._block_s = 3600.0  # no idle fallback: only the wake can resume it
    await tickr.set_limits("default", concurrency=1)
    jobs = await tickr.submit_many([JobRequest("work", {}) for _ in range(10)])
    done = await wait_all(tickr, [j.id for j in jobs], timeout=10)
    assert all(d.status == "succeeded" for d in done)
