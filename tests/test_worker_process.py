"""`tickr worker` as real processes: kill -9 recovery, fencing, exactly-once across two
processes, and SIGTERM draining."""

from __future__ import annotations

import collections
import signal
import time
from pathlib import Path

import pytest
from proc import read_lines, spawn_tickr, stop, wait_until, wait_until_async
from timing import deadline

from tickr_app import Tickr
from tickr_app.core.broker import LeasedJob

pytestmark = pytest.mark.slow


def _worker_args(redis_url: str, prefix: str, *extra: str) -> list[str]:
    return ["worker", "--redis", redis_url, "--prefix", prefix, "--jobs", "procjobs", *extra]


async def _producer(redis_url: str, prefix: str, home: Path) -> Tickr:
    import procjobs  # noqa: F401  (registers the job types in the default registry)

    return await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()


# 1 s on a quiet machine: a worker stalled for 2/3 of its lease loses it, by design, so the
# lease scales with the machine (the recovery it proves is the same).
LEASE = f"{deadline(1):g}"


async def test_kill_9_mid_job_is_recovered_by_lease_expiry_and_late_ack_is_rejected(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    producer = await _producer(redis_url, prefix, home)
    first = spawn_tickr(_worker_args(redis_url, prefix, "--lease", LEASE, "--workers", "2"), log_path=log, home=home)
    second = None
    try:
        job = await producer.submit("hang_first", {"name": "x"})
        await wait_until(lambda: any(l.startswith(f"start {job.id} 1") for l in read_lines(log)), 20, "first attempt to start")
        held = await producer.broker.redis.hget(producer.broker.keys("default").job(job.id), "lease")
        assert held, "the running job must hold a lease token"

        first.send_signal(signal.SIGKILL)
        first.wait(deadline(10))
        killed_at = time.monotonic()

        second = spawn_tickr(_worker_args(redis_url, prefix, "--lease", LEASE, "--workers", "2"), log_path=log, home=home)
        done = await producer.wait(job.id, timeout=deadline(30))
        recovery = time.monotonic() - killed_at
        print(f"\nrecovered and finished {recovery:.2f} s after kill -9 (lease {LEASE} s)")
        assert done.status == "succeeded"
        assert done.result == {"attempt": 2}
        assert done.attempts == 2, "the crashed attempt counts"
        assert "lease expired" in (done.error or "")

        stale = LeasedJob("default", job.id, held, 1, "hang_first", "{}", 5, 0, 10, 50, 0, 0)
        assert await producer.broker.ack("default", [(stale, "{}")]) == [False]
        after = await producer.get(job.id)
        assert after is not None and after.result == {"attempt": 2}, "a late ack must not overwrite the result"
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            rc, out = stop(second)
            assert rc == 0, out
        await producer.stop()


async def test_two_worker_processes_run_each_of_1000_jobs_exactly_once(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    producer = await _producer(redis_url, prefix, home)
    workers = [
        spawn_tickr(_worker_args(redis_url, prefix, "--workers", "20"), log_path=log, home=home) for _ in range(2)
    ]
    try:

        async def both_registered() -> bool:
            return len(await producer.worker_processes()) == 2

        await wait_until_async(both_registered, 30, "both worker processes to register")
        jobs = await producer.submit_many([{"type": "record", "payload": {"name": str(i)}} for i in range(1000)])
        await wait_until(lambda: len(read_lines(log)) >= 1000, 60, "1000 executions")

        async def all_succeeded() -> bool:
            return (await producer.broker.queue_stats("default")).succeeded == 1000

        await wait_until_async(all_succeeded, 30, "every job to be acknowledged")
        for w in workers:
            rc, out = stop(w)
            assert rc == 0, out
        lines = read_lines(log)
        runs = collections.Counter(line.split()[0] for line in lines)
        assert set(runs) == {j.id for j in jobs}
        assert max(runs.values()) == 1, "a job ran twice although nothing failed"
        pids = {line.split()[1] for line in lines}
        assert len(pids) == 2, "both processes should have taken part"
    finally:
        for w in workers:
            stop(w, signal.SIGKILL)
        await producer.stop()


async def test_sigterm_drains_in_flight_jobs_and_requeues_what_outlives_the_grace_period(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    producer = await _producer(redis_url, prefix, home)
    worker = spawn_tickr(_worker_args(redis_url, prefix, "--workers", "2", "--grace", "2"), log_path=log, home=home)
    try:
        short = await producer.submit("sleepy", {"name": "0.5"})
        long = await producer.submit("sleepy", {"name": "60"})
        await wait_until(
            lambda: sum(1 for l in read_lines(log) if l.startswith("start")) == 2, 20, "both jobs to start"
        )
        rc, out = stop(worker, signal.SIGTERM, timeout=30)
        assert rc == 0, out
        assert "Traceback" not in out
        finished = await producer.get(short.id)
        assert finished is not None and finished.status == "succeeded"
        released = await producer.get(long.id)
        assert released is not None
        assert released.status == "ready", "a job outliving the grace period goes back to ready"
        assert released.attempts == 0, "the interrupted attempt is not counted"
    finally:
        stop(worker, signal.SIGKILL)
        await producer.stop()
