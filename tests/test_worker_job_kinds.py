"""`tickr worker --jobs MODULE` with def and run_in="process" handlers, as real processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from proc import read_lines, spawn_tickr, stop, wait_until
from timing import deadline

from tickr_app import Tickr

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_worker_runs_thread_and_process_jobs_and_its_children_end_with_it(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    import procjobs  # noqa: F401  (registers the job types in the default registry)

    log = tmp_path / "runs.log"
    producer = await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()
    worker = spawn_tickr(
        ["worker", "--redis", redis_url, "--prefix", prefix, "--jobs", "procjobs", "--workers", "2", "--grace", "0.5"],
        log_path=log,
        home=home,
    )
    try:
        crunches = [await producer.submit("crunch", {"name": str(i)}) for i in range(3)]
        threaded = await producer.submit("threaded", {"name": "t"})
        results = [(await producer.wait(j.id, timeout=deadline(60))) for j in crunches]
        assert all(r.status == "succeeded" for r in results), [r.error for r in results]
        assert {r.result["parent"] for r in results} == {worker.pid}, "children of the worker process"
        assert all(r.result["pid"] != worker.pid for r in results)
        assert len({r.result["pid"] for r in results}) <= 2, "never more processes than the concurrency"
        done = await producer.wait(threaded.id, timeout=deadline(30))
        assert done.status == "succeeded" and done.result["thread"].startswith("tickr-job-thread")

        hold = await producer.submit("crunch_hold", {"name": "60"})
        await wait_until(
            lambda: any(l.startswith(f"hold {hold.id}") for l in read_lines(log)), 30, "the held job to start"
        )
        child = int(next(l for l in read_lines(log) if l.startswith(f"hold {hold.id}")).split()[2])
        rc, out = stop(worker, signal.SIGTERM)
        assert rc == 0, out
        assert "Traceback" not in out, out
        released = await producer.get(hold.id)
        assert released.status == "ready" and released.attempts == 0, "requeued without counting the attempt"
        assert not _alive(child), "the job's process ended with the worker"
        for r in results:
            assert not _alive(r.result["pid"]), "no worker process outlives tickr worker"
    finally:
        stop(worker, signal.SIGKILL)
        await producer.stop()
