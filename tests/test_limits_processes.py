"""Flow control held by several real `tickr worker` processes on one Redis: a 50/s rate limit,
RateLimited pausing a type everywhere, a global concurrency limit, and slots a kill -9 frees by
lease expiry. Job types: tests/limitjobs.py."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from proc import spawn_tickr, stop, wait_until_async
from timing import deadline

from tickr_app import JobRequest, Tickr

pytestmark = pytest.mark.slow

Q = "default"


@pytest.fixture
async def producer(redis_url: str, prefix: str, home: Path) -> AsyncIterator[Tickr]:
    import limitjobs  # noqa: F401  (registers the job types in the default registry)

    tickr = await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()
    try:
        yield tickr
    finally:
        await tickr.stop()


@pytest.fixture
def workers(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> AsyncIterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> subprocess.Popen[bytes]:
        args = ["worker", "--redis", redis_url, "--prefix", prefix, "--jobs", "limitjobs", *extra]
        proc = spawn_tickr(
            args, log_path=tmp_path / "unused.log", home=home, extra_env={"LIMITS_TEST_REDIS": redis_url}
        )
        started.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in started:
        stop(proc, signal.SIGKILL)


async def _live(producer: Tickr, n: int) -> None:
    async def enough() -> bool:
        return len(await producer.worker_processes()) >= n

    await wait_until_async(enough, 30, f"{n} worker processes to register")


async def test_a_50_per_second_limit_held_by_four_processes(producer: Tickr, workers) -> None:
    """The issue's figure: 4 processes, 50/s, within ±5% over 20 s, counted from the job
    records' started_at (the Redis clock), not from the test's clock."""
    await producer.set_limits(Q, rate="50/s")
    for _ in range(4):
        workers("--workers", "8")
    await _live(producer, 4)
    jobs = await producer.submit_many([JobRequest("tick", {}) for _ in range(1100)])

    async def past_20_s() -> bool:
        return (await producer.queue_stats(Q)).succeeded >= 1020

    await wait_until_async(past_20_s, 40, "20 s of starts at 50/s")
    done = await producer.get_many(Q, [j.id for j in jobs])
    starts = sorted(d.started_at for d in done if d.started_at)
    t0 = starts[0]
    in_window = sum(1 for s in starts if s < t0 + 20_000)
    print(f"\n{in_window} starts in 20 s with 4 processes at 50/s: {in_window / 20:.1f}/s")
    assert 950 <= in_window <= 1050, f"{in_window} starts in 20 s, expected 1000 ± 5%"
    peak_second = max(sum(1 for s in starts if t <= s < t + 1000) for t in starts)
    assert peak_second <= 50, f"{peak_second} starts in one second"
    by_worker = {d.worker for d in done if d.started_at}
    assert len(by_worker) == 4, "every process took a share under the one limit"
    assert all(d.attempts <= 1 for d in done), "waiting for the limit spends no attempt"


async def test_rate_limited_pauses_the_type_in_every_process(producer: Tickr, workers, prefix: str) -> None:
    for _ in range(3):
        workers("--workers", "4")
    await _live(producer, 3)
    flag, log = f"{prefix}:t:flag", f"{prefix}:t:log"
    payload = {"flag": flag, "log": log, "retry_after": 2.0}
    first = await producer.submit("api", payload)
    redis = producer._broker.redis

    async def first_ran() -> bool:
        # Its call is logged, and its RateLimited recorded (the pause is in Redis): jobs
        # submitted between the two could start anywhere, rightly.
        return await redis.llen(log) >= 1 and (await producer.queue_stats(Q)).rate_limited >= 1

    await wait_until_async(first_ran, 20, "the first call and its RateLimited")
    others = await producer.submit_many([JobRequest("api", payload) for _ in range(6)])
    done = [await producer.wait(j.id, deadline(20)) for j in [first, *others]]
    assert all(d.status == "succeeded" for d in done)
    assert done[0].attempts == 1, "the rate-limited try was not counted as an attempt"
    calls = [line.split() for line in await redis.lrange(log, 0, -1)]
    t0 = int(calls[0][2])
    later = [int(c[2]) for c in calls[1:]]
    assert len(later) == 7 and min(later) >= t0 + 2000 - 5, (
        f"a call started {min(later) - t0} ms after RateLimited(retry_after=2): the pause did not hold everywhere"
    )
    assert (await producer.queue_stats(Q)).rate_limited == 1


async def test_global_concurrency_across_three_processes(producer: Tickr, workers, prefix: str) -> None:
    await producer.set_limits(Q, "guarded", concurrency=3)
    for _ in range(3):
        workers("--workers", "6")
    await _live(producer, 3)
    counter, peak = f"{prefix}:t:inside", f"{prefix}:t:peak"
    jobs = await producer.submit_many(
        [JobRequest("guarded", {"counter": counter, "peak": peak, "seconds": 0.05}) for _ in range(45)]
    )
    done = [await producer.wait(j.id, deadline(30)) for j in jobs]
    assert all(d.status == "succeeded" for d in done)
    assert int(await producer._broker.redis.get(peak)) == 3, "never more than 3 at once, and the limit was reached"
    assert len({d.worker for d in done}) >= 2, "the jobs were spread over processes"


async def test_kill_9_frees_concurrency_slots_by_lease_expiry(producer: Tickr, workers, prefix: str) -> None:
    lease = f"{deadline(1):g}"
    await producer.set_limits(Q, "hold", concurrency=2)
    doomed = workers("--workers", "4", "--lease", lease)
    await _live(producer, 1)
    log = f"{prefix}:t:hold"
    redis = producer._broker.redis
    await producer.submit_many([JobRequest("hold", {"log": log}) for _ in range(2)])

    async def entries(n: int) -> bool:
        return await redis.llen(log) >= n

    await wait_until_async(lambda: entries(2), 20, "the doomed process to hold both slots")
    waiting = await producer.submit_many([JobRequest("hold", {"log": log}) for _ in range(2)])
    survivor = workers("--workers", "4", "--lease", lease)
    await _live(producer, 2)
    assert await redis.llen(log) == 2, "no third 'hold' job may start while two hold the slots"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(deadline(10))
    await wait_until_async(lambda: entries(4), 30, "the slots to free by lease expiry and two more to start")
    lines = [line.split() for line in await redis.lrange(log, 0, -1)]
    assert {pid for _, pid in lines[2:]} == {str(survivor.pid)}
    limits = await producer.get_limits(Q)
    assert limits.types["hold"].running == 2, "the dead process's slots were not counted after expiry"
    started = {job_id for job_id, _ in lines}
    assert started <= {j.id for j in waiting} | {job_id for job_id, _ in lines[:2]}
