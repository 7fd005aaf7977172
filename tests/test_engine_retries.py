"""Failures: retries with exponential full-jitter backoff, the dead letter queue, permanent
errors, timeouts, and retrying or deleting dead jobs."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import Gate, status_is
from timing import deadline

from tickr_app import JobContext, JobRequest, PermanentError, Registry
from tickr_app.core.backoff import full_jitter_ms
from tickr_app.core.errors import JobNotFound, WrongState


class Flaky(Exception):
    pass


async def test_fails_twice_then_succeeds(make_tickr, registry: Registry) -> None:
    attempts: list[int] = []

    @registry.job("flaky", backoff_base=0.01)
    async def flaky(payload: dict, ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise Flaky(f"attempt {ctx.attempt} broke")
        return "third time lucky"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("flaky", {})
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded"
    assert done.attempts == 3
    assert done.result == "third time lucky"
    assert attempts == [1, 2, 3]
    stats = (await tickr.stats())["default"]
    assert (stats.failed, stats.retried, stats.succeeded, stats.processed, stats.dead) == (2, 2, 1, 3, 0)


async def test_always_failing_job_goes_dead_with_error_and_traceback(make_tickr, registry: Registry) -> None:
    calls: list[int] = []

    @registry.job("doomed", max_attempts=3, backoff_base=0.01)
    async def doomed(payload: dict, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise Flaky(f"boom on attempt {ctx.attempt}")

    tickr = await make_tickr(workers=2)
    j = await tickr.submit("doomed", {})
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "dead"
    assert done.attempts == 3
    assert calls == [1, 2, 3]
    assert done.error == "Flaky: boom on attempt 3"  # the last error
    assert "Traceback (most recent call last)" in done.traceback
    assert "Flaky: boom on attempt 3" in done.traceback
    assert "in doomed" in done.traceback  # the handler's frame
    assert done.finished_at is not None
    assert [x.id for x in await tickr.list_jobs("default", "dead")] == [j.id]
    stats = (await tickr.stats())["default"]
    assert (stats.dead, stats.failed, stats.retried) == (1, 3, 2)


async def test_per_job_max_attempts_overrides_the_type(make_tickr, registry: Registry) -> None:
    calls: list[tuple[str, int]] = []

    @registry.job("doomed", max_attempts=4, backoff_base=0.01)
    async def doomed(payload: dict, ctx: JobContext) -> None:
        calls.append((payload["which"], ctx.attempt))
        raise Flaky("no")

    tickr = await make_tickr(workers=2)
    once = await tickr.submit("doomed", {"which": "once"}, max_attempts=1)
    typed = await tickr.submit("doomed", {"which": "typed"})
    more = await tickr.submit("doomed", {"which": "more"}, max_attempts=6)
    assert (once.max_attempts, typed.max_attempts, more.max_attempts) == (1, 4, 6)
    for job, n in ((once, 1), (typed, 4), (more, 6)):
        done = await tickr.wait(job.id, timeout=deadline(10))
        assert done.status == "dead" and done.attempts == n
        assert [a for w, a in calls if w == job.payload["which"]] == list(range(1, n + 1))


@pytest.mark.usefixtures("no_idle_recheck")
async def test_retry_delays_follow_full_jitter_exponential_backoff(make_tickr, registry: Registry) -> None:
    base_ms, attempts_each, n_jobs = 50, 5, 6
    delays: dict[str, dict[int, int]] = {}
    starts: dict[str, dict[int, float]] = {}

    @registry.job("backoff", max_attempts=attempts_each, backoff_base=base_ms / 1000, backoff_cap=10)
    async def backoff(payload: dict, ctx: JobContext) -> None:
        starts.setdefault(ctx.id, {})[ctx.attempt] = time.time() * 1000
        if ctx.attempt > 1:
            # the delay the engine chose for this retry, as stored in Redis
            h = await tickr._broker.redis.hmget(tickr._broker.keys("default").job(ctx.id), "failed_at", "due_at")
            delays.setdefault(ctx.id, {})[ctx.attempt - 1] = int(h[1]) - int(h[0])
        raise Flaky("again")

    tickr = await make_tickr(workers=n_jobs)
    jobs = await tickr.submit_many([JobRequest("backoff", {}) for _ in range(n_jobs)])
    for j in jobs:
        assert (await tickr.wait(j.id, timeout=deadline(10))).status == "dead"

    # Slack after the cap: 250 ms on a quiet machine, scaled (the idle re-check is an hour
    # away, so a retry that starts within it was scheduled at its due time, not polled for).
    slack_ms = deadline(0.25) * 1000
    for j in jobs:
        for attempt in range(1, attempts_each):
            ceiling = base_ms * 2 ** (attempt - 1)
            chosen = delays[j.id][attempt]
            assert 0 <= chosen <= ceiling, f"retry after attempt {attempt} waited {chosen} ms > cap {ceiling} ms"
            gap = starts[j.id][attempt + 1] - starts[j.id][attempt]
            # the next attempt never starts before its delay, and not much after the cap
            assert gap >= chosen
            assert gap <= ceiling + slack_ms, f"attempt {attempt + 1} started {gap:.0f} ms after attempt {attempt}"
    # the delays grow: the last retries' largest delay beats the first retries' cap
    # (fails with probability (1/8)**6, i.e. never in practice)
    last = max(delays[j.id][attempts_each - 1] for j in jobs)
    assert last > base_ms, f"delays do not grow: {delays}"


def test_full_jitter_bounds() -> None:
    assert [full_jitter_ms(100, 10_000, a, rnd=0.999999) for a in range(1, 9)] == [
        99, 199, 399, 799, 1599, 3199, 6399, 9999
    ]
    assert full_jitter_ms(100, 10_000, 50, rnd=0.5) == 5000  # capped
    assert full_jitter_ms(100, 10_000, 3, rnd=0.0) == 0


async def test_permanent_error_goes_dead_at_once(make_tickr, registry: Registry) -> None:
    calls: list[int] = []

    @registry.job("bad-input", max_attempts=5)
    async def bad_input(payload: dict, ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise PermanentError("the file does not exist")

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("bad-input", {})
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "dead"
    assert done.attempts == 1 and calls == [1]
    assert done.error == "PermanentError: the file does not exist"


async def test_timeout_fails_the_attempt(make_tickr, registry: Registry) -> None:
    cancelled: list[int] = []

    @registry.job("sleepy", timeout=0.2, max_attempts=2, backoff_base=0.01)
    async def sleepy(payload: dict, ctx: JobContext) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(ctx.attempt)
            raise

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("sleepy", {})
    assert j.timeout_ms == 200
    started = time.monotonic()
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "dead"
    assert done.attempts == 2
    assert "timed out" in done.error and "0.2" in done.error
    assert cancelled == [1, 2]  # the handler was stopped each time
    assert time.monotonic() - started < deadline(3)  # long before the handler's hour


async def test_handler_raising_its_own_timeout_error_is_an_ordinary_failure(make_tickr, registry: Registry) -> None:
    """A TimeoutError from inside the handler (a socket timeout, say) is not the job's timeout,
    and with no job timeout configured it must not break the pool."""

    @registry.job("net-timeout", timeout=None, max_attempts=1)
    async def net_timeout(payload: dict) -> None:
        raise TimeoutError("connect to db timed out")

    @registry.job("net-timeout-with-limit", timeout=30, max_attempts=1)
    async def net_timeout_with_limit(payload: dict) -> None:
        raise TimeoutError("read timed out")

    @registry.job("ok")
    async def ok(payload: dict) -> str:
        return "ok"

    tickr = await make_tickr(workers=1)
    a = await tickr.wait((await tickr.submit("net-timeout", {})).id, timeout=deadline(5))
    assert a.status == "dead" and a.error == "TimeoutError: connect to db timed out"
    b = await tickr.wait((await tickr.submit("net-timeout-with-limit", {})).id, timeout=deadline(5))
    assert b.status == "dead" and b.error == "TimeoutError: read timed out"
    assert (await tickr.wait((await tickr.submit("ok", {})).id, timeout=deadline(5))).result == "ok"


async def test_no_timeout_when_type_has_none(make_tickr, registry: Registry) -> None:
    @registry.job("unbounded", timeout=None)
    async def unbounded(payload: dict) -> str:
        await asyncio.sleep(0.05)
        return "done"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("unbounded", {})
    assert j.timeout_ms == 0
    assert (await tickr.wait(j.id, timeout=deadline(5))).result == "done"


# -- dead letter queue ---------------------------------------------------------------------


async def test_retry_a_dead_job_runs_it_again(make_tickr, registry: Registry) -> None:
    fixed = asyncio.Event()

    @registry.job("needs-fix", max_attempts=2, backoff_base=0.01)
    async def needs_fix(payload: dict, ctx: JobContext) -> str:
        if not fixed.is_set():
            raise Flaky("not yet")
        return f"fixed on attempt {ctx.attempt}"

    tickr = await make_tickr(workers=1)
    j = await tickr.submit("needs-fix", {})
    assert (await tickr.wait(j.id, timeout=deadline(5))).status == "dead"
    with pytest.raises(WrongState):  # a dead job cannot be cancelled
        await tickr.cancel(j.id)

    fixed.set()
    assert await tickr.retry(j.id) == "ready"
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "succeeded"
    assert done.result == "fixed on attempt 1"  # a fresh set of attempts
    assert (await tickr.stats())["default"].dead == 0
    with pytest.raises(WrongState):  # only dead or cancelled jobs can be retried
        await tickr.retry(j.id)
    with pytest.raises(JobNotFound):
        await tickr.retry("no-such-job")


async def test_retry_dead_in_bulk(make_tickr, registry: Registry) -> None:
    fixed = asyncio.Event()

    @registry.job("needs-fix", max_attempts=1)
    async def needs_fix(payload: dict) -> str:
        if not fixed.is_set():
            raise Flaky("not yet")
        return "ok"

    tickr = await make_tickr(workers=3)
    jobs = await tickr.submit_many([JobRequest("needs-fix", {"n": n}) for n in range(5)])
    for j in jobs:
        assert (await tickr.wait(j.id, timeout=deadline(5))).status == "dead"
    assert (await tickr.stats())["default"].dead == 5

    fixed.set()
    assert await tickr.retry_dead("default") == 5
    for j in jobs:
        assert (await tickr.wait(j.id, timeout=deadline(5))).status == "succeeded"
    assert (await tickr.stats())["default"].dead == 0
    assert await tickr.retry_dead("default") == 0


async def test_delete_removes_a_job(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("doomed", max_attempts=1)
    async def doomed(payload: dict) -> None:
        raise Flaky("no")

    @registry.job("held")
    async def held(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=1)
    dead = await tickr.submit("doomed", {})
    assert (await tickr.wait(dead.id, timeout=deadline(5))).status == "dead"
    assert await tickr.delete(dead.id) == "deleted"
    assert await tickr.get(dead.id) is None
    assert (await tickr.stats())["default"].dead == 0
    with pytest.raises(JobNotFound):
        await tickr.delete(dead.id)

    waiting = await tickr.submit("doomed", {}, delay=3600)
    assert await tickr.delete(waiting.id) == "deleted"
    assert await tickr.get(waiting.id) is None
    assert (await tickr.stats())["default"].waiting == 0

    running = await tickr.submit("held", {})
    await status_is(tickr, running.id, "active")
    with pytest.raises(WrongState):  # a running job is cancelled, not deleted
        await tickr.delete(running.id)
    gate.open.set()
    assert (await tickr.wait(running.id, timeout=deadline(5))).status == "succeeded"
