"""``run_in="process"``: plain def handlers in long-lived worker processes that can be killed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import kindjobs
import pytest
from helpers import ThreadedApi, eventually
from timing import deadline

from tickr_app import Registry


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not reaped) is gone as far as the job is concerned
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def _child_pid(path: Path) -> int:
    """The pid the job wrote (waits until the handler has started and written it)."""
    text = await eventually(lambda: path.exists() and path.read_text().strip(), 30, message=f"{path} written")
    return int(text)


def _register(registry: Registry, name: str, handler: object, **kwargs: object) -> None:
    registry.job(name, run_in="process", **kwargs)(handler)  # type: ignore[arg-type]


async def test_process_job_succeeds_reports_progress_and_reuses_its_process(
    make_tickr, registry: Registry, tmp_path: Path
) -> None:
    _register(registry, "flagged", kindjobs.flagged)
    _register(registry, "spin", kindjobs.spin)
    tickr = await make_tickr(workers=2)
    release = tmp_path / "go"
    j = await tickr.submit("flagged", {"release_file": str(release)})
    running = await eventually(
        lambda: _progress_of(tickr, j.id, 40), 30, message="the child's progress reaches the job record"
    )
    assert running.progress_message == "waiting for the flag" and running.status == "active"
    release.touch()
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded"
    assert done.result["released"] is True and done.result["attempt"] == 1 and done.result["last"] is False
    child = done.result["pid"]
    assert child != os.getpid()

    s = await tickr.submit("spin", {"n": 20_000})
    spun = await tickr.wait(s.id, timeout=deadline(10))
    assert spun.status == "succeeded" and spun.result["total"] == sum(i * i for i in range(20_000)) % 1_000_003
    assert spun.result["pid"] == child, "the same long-lived process runs the next job"
    assert tickr._pool.runners.processes.started == 1


async def _progress_of(tickr, job_id: str, percent: float):
    job = await tickr.get(job_id)
    return job if job is not None and job.progress == percent else None


async def test_exception_in_a_process_job_is_a_failed_attempt_with_the_childs_traceback(
    make_tickr, registry: Registry
) -> None:
    _register(registry, "raises", kindjobs.raises, max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
    _register(registry, "permanent", kindjobs.permanent)
    tickr = await make_tickr(workers=1)
    j = await tickr.submit("raises", {"value": 7})
    dead = await tickr.wait(j.id, timeout=deadline(30))
    assert dead.status == "dead" and dead.attempts == 2
    assert dead.error == "ValueError: bad value 7"
    assert "in worker process" in dead.traceback and "kindjobs.py" in dead.traceback

    p = await tickr.submit("permanent", {})
    done = await tickr.wait(p.id, timeout=deadline(10))
    assert done.status == "dead" and done.attempts == 1
    assert done.error == "PermanentError: no point retrying"


async def test_timeout_kills_the_process_and_the_next_job_gets_a_fresh_one(
    make_tickr, registry: Registry, tmp_path: Path
) -> None:
    _register(registry, "flagged", kindjobs.flagged, timeout=0.5, max_attempts=1)
    _register(registry, "pid", kindjobs.pid)
    tickr = await make_tickr(workers=1)
    # The first process job pays for starting the process inside its timeout: warm it up.
    first = (await tickr.wait((await tickr.submit("pid", {})).id, timeout=30)).result
    pid_file = tmp_path / "pid"
    j = await tickr.submit("flagged", {"pid_file": str(pid_file)})
    done = await tickr.wait(j.id, timeout=deadline(30))
    assert done.status == "dead" and done.error == "timed out after 0.5 s"
    child = int(pid_file.read_text())
    assert child == first
    await eventually(lambda: not _alive(child), 5, message=f"the timed-out process {child} is gone")
    n = await tickr.submit("pid", {})
    fresh = await tickr.wait(n.id, timeout=deadline(30))
    assert fresh.status == "succeeded" and fresh.result not in (child, os.getpid())


async def test_cancel_kills_the_process(make_tickr, registry: Registry, tmp_path: Path) -> None:
    _register(registry, "flagged", kindjobs.flagged)
    tickr = await make_tickr(workers=1)
    pid_file = tmp_path / "pid"
    j = await tickr.submit("flagged", {"pid_file": str(pid_file)})
    child = await _child_pid(pid_file)
    assert await tickr.cancel(j.id) == "requested"
    done = await tickr.wait(j.id, timeout=deadline(5))
    assert done.status == "cancelled"
    await eventually(lambda: not _alive(child), 5, message=f"the cancelled job's process {child} is gone")


async def test_os_exit_in_a_job_fails_the_attempt_not_the_pool(make_tickr, registry: Registry) -> None:
    _register(registry, "exits", kindjobs.exits, max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
    tickr = await make_tickr(workers=1)
    j = await tickr.submit("exits", {})
    done = await tickr.wait(j.id, timeout=deadline(30))
    assert done.status == "succeeded" and done.attempts == 2
    events = await tickr._broker.read_events("default", "0", block_ms=None)
    print(events)
    assert [f["e"] for _, f in events if f["id"] == j.id].count("succeeded") == 1
    assert tickr._pool.runners.processes.started == 2


async def test_a_dead_process_is_reported_clearly(make_tickr, registry: Registry) -> None:
    _register(registry, "exits", kindjobs.exits, max_attempts=1)
    tickr = await make_tickr(workers=1)
    j = await tickr.submit("exits", {})
    dead = await tickr.wait(j.id, timeout=deadline(30))
    assert dead.status == "dead"
    assert "worker process" in dead.error and "died: exited with code 3" in dead.error


async def test_unpicklable_result_sends_the_job_to_the_dead_letter_queue(make_tickr, registry: Registry) -> None:
    _register(registry, "unpicklable", kindjobs.unpicklable)
    tickr = await make_tickr(workers=1)
    j = await tickr.submit("unpicklable", {})
    dead = await tickr.wait(j.id, timeout=deadline(30))
    assert dead.status == "dead" and dead.attempts == 1
    assert "cannot be pickled" in dead.error and "lock" in dead.error


async def test_a_long_process_job_keeps_its_lease(
    make_tickr, registry: Registry, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    _register(registry, "flagged", kindjobs.flagged)
    # 0.6 s on a quiet machine, scaled: heartbeats come every lease/3 from a loop that a slow
    # host also slows down; what is under test is that they come while a process runs the job.
    lease = deadline(0.6)
    # A sweeper on a loop of its own takes back any lease that runs out (this process's loop
    # would not notice while it is blocked, which is exactly the failure this test looks for).
    sweeper = ThreadedApi(
        redis_url, prefix=prefix, registry=registry, workers=0, scheduler=True, builtin_jobs=False,
        home=tmp_path / "sweeper", lease=lease,
    )  # fmt: skip
    with sweeper:
        tickr = await make_tickr(workers=1, lease=lease)
        j = await tickr.submit("flagged", {"seconds": 4 * lease})  # no release file: returns after four leases
        done = await tickr.wait(j.id, timeout=deadline(60))
        assert done.status == "succeeded" and done.attempts == 1, done.error
        assert done.finished_at - done.started_at > 3 * lease * 1000, "the job must outlast three leases to prove anything"
        assert tickr._pool.counters.rejected_acks == 0
        assert sweeper.tickr._scheduler.recovered == 0


def test_a_handler_inside_a_function_cannot_run_in_a_process(registry: Registry) -> None:
    def local(payload: dict) -> None: ...

    with pytest.raises(TypeError, match="imports it by module path"):
        registry.job("local", run_in="process")(local)

    async def coro(payload: dict) -> None: ...

    with pytest.raises(TypeError, match="needs a plain def"):
        registry.job("coro", run_in="process")(coro)


async def test_graceful_stop_kills_running_children_and_requeues_without_counting(
    make_tickr, registry: Registry, tmp_path: Path
) -> None:
    _register(registry, "flagged", kindjobs.flagged)
    tickr = await make_tickr(workers=2)
    reader = await make_tickr(workers=0)
    pid_file = tmp_path / "pid"
    j = await tickr.submit("flagged", {"pid_file": str(pid_file)})
    child = await _child_pid(pid_file)
    await asyncio.wait_for(tickr.stop(grace_period=0.3), deadline(10))
    assert not _alive(child), "the job's process is gone once stop returns"
    released = await reader.get(j.id)
    assert released.status == "ready" and released.attempts == 0
    assert tickr._pool.runners.processes.pids == []


async def test_graceful_stop_waits_for_a_process_job_within_the_grace(
    make_tickr, registry: Registry, tmp_path: Path
) -> None:
    _register(registry, "flagged", kindjobs.flagged)
    tickr = await make_tickr(workers=1)
    pid_file, release = tmp_path / "pid", tmp_path / "go"
    j = await tickr.submit("flagged", {"pid_file": str(pid_file), "release_file": str(release)})
    child = await _child_pid(pid_file)
    stopping = asyncio.create_task(tickr.stop(grace_period=10))
    await eventually(lambda: tickr._pool._stopping)
    assert not stopping.done()
    release.touch()
    await asyncio.wait_for(stopping, deadline(10))
    reader = await make_tickr(workers=0)
    done = await reader.get(j.id)
    assert done.status == "succeeded" and done.attempts == 1
    assert not _alive(child), "idle children end with the pool"


async def test_job_processes_run_niced_so_the_loop_gets_the_cpu_first(make_tickr, registry: Registry) -> None:
    _register(registry, "niceness", kindjobs.niceness)
    tickr = await make_tickr(workers=1, process_nice=7)
    done = await tickr.wait((await tickr.submit("niceness", {})).id, timeout=30)
    assert done.status == "succeeded"
    assert done.result == min(19, os.nice(0) + 7)


async def test_a_payload_larger_than_the_pipe_reaches_the_process(make_tickr, registry: Registry) -> None:
    _register(registry, "echo_size", kindjobs.echo_size)
    tickr = await make_tickr(workers=1)
    done = await tickr.wait((await tickr.submit("echo_size", {"blob": "x" * 300_000})).id, timeout=30)
    assert done.status == "succeeded" and done.result == 300_000
