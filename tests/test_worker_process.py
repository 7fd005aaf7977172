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
        held = await producer._broker.redis.hget(producer._broker.keys("default").job(job.id), "lease")
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
        assert await producer._broker.ack("default", [(stale, "{}")]) == [False]
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
            return (await producer._broker.queue_stats("default")).succeeded == 1000

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


async def test_three_worker_processes_fire_one_job_per_schedule_slot_across_a_kill_9(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    """Schedules (core/schedules.py) with real processes: each racing for every slot, one of
    them kill -9ed mid-way (possibly inside a tick call) and replaced."""
    from tickr_app.core.schedules import slot_job_id

    log = tmp_path / "runs.log"
    producer = await _producer(redis_url, prefix, home)
    args = _worker_args(redis_url, prefix, "--workers", "2", "--lease", "1")
    workers = [spawn_tickr(args, log_path=log, home=home) for _ in range(3)]
    try:

        async def all_registered() -> bool:
            return len(await producer.worker_processes()) == 3

        await wait_until_async(all_registered, 30, "three worker processes")
        step = 250
        first = (await producer.schedule("beat", "record", {"name": "b"}, every=step / 1000)).next_run_at
        assert first is not None

        async def fired(n: int) -> bool:
            return (await producer.get_schedule("beat")).fired >= n

        await wait_until_async(lambda: fired(8), 20, "slots fired by three processes")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        await wait_until_async(lambda: fired(16), 20, "the other two keep firing")
        workers.append(spawn_tickr(args, log_path=log, home=home))
        await wait_until_async(lambda: fired(30), 30, "firing goes on with the replacement")
        await producer.pause_schedule("beat")
        final = await producer.get_schedule("beat")
        assert final.last_slot is not None

        slots = list(range(first, final.last_slot + 1, step))
        keys = producer._broker.keys("default")  # type: ignore[union-attr]
        pipe = producer._broker.redis.pipeline(transaction=False)  # type: ignore[union-attr]
        for slot in slots:
            pipe.hget(keys.job(slot_job_id("default", "beat", slot)), "created_at")
        created = await pipe.execute()
        missing = [slot for slot, c in zip(slots, created) if c is None]
        assert not missing, f"slots without a job: {missing}"
        assert final.fired == len(slots) and final.skipped == 0
        assert all(int(c) >= slot for slot, c in zip(slots, created)), "a slot fired early (Redis clock)"
    finally:
        for w in workers:
            stop(w, signal.SIGKILL)
        await producer.stop()
