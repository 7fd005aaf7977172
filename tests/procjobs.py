"""Job types for process-level tests: imported by `tickr worker --jobs procjobs`."""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from tickr_app import JobContext, job


class Mark(BaseModel):
    name: str


def _log(line: str) -> None:
    # One O_APPEND write per line: lines from several processes never interleave.
    path = os.environ["TICKR_TEST_LOG"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@job("record", max_attempts=3, backoff_base=0.01)
async def record(payload: Mark, ctx: JobContext) -> dict[str, str]:
    """Logs which process ran which job, to count executions."""
    _log(f"{ctx.id} {os.getpid()}")
    return {"pid": str(os.getpid())}


@job("hang_first", max_attempts=5, backoff_base=0.01, backoff_cap=0.05)
async def hang_first(payload: Mark, ctx: JobContext) -> dict[str, int]:
    """First attempt announces itself and hangs (to be killed); later attempts succeed."""
    _log(f"start {ctx.id} {ctx.attempt} {os.getpid()}")
    if ctx.attempt == 1:
        await asyncio.Event().wait()
    return {"attempt": ctx.attempt}


@job("sleepy", max_attempts=3, timeout=120)
async def sleepy(payload: Mark, ctx: JobContext) -> dict[str, str]:
    """Runs for the number of seconds in its name, to test draining."""
    _log(f"start {ctx.id} {os.getpid()}")
    await asyncio.sleep(float(payload.name))
    _log(f"done {ctx.id} {os.getpid()}")
    return {"slept": payload.name}


# -- issue #12: blocking and CPU-bound job code, as `tickr worker --jobs procjobs` runs it --------


@job("crunch", run_in="process", max_attempts=2)
def crunch(payload: Mark, ctx: JobContext) -> dict[str, int]:
    """CPU work in a worker process; reports progress from the child."""
    ctx.progress(50, "crunching")
    total = sum(i * i for i in range(50_000)) % 1000
    return {"pid": os.getpid(), "parent": os.getppid(), "total": total}


@job("threaded")
def threaded(payload: Mark, ctx: JobContext) -> dict[str, str]:
    """A plain def: runs on one of the pool's threads."""
    import threading

    return {"thread": threading.current_thread().name}


@job("crunch_hold", run_in="process", timeout=120)
def crunch_hold(payload: Mark, ctx: JobContext) -> None:
    """Logs its process and blocks for the seconds in its name (to be cut off by shutdown)."""
    import time

    _log(f"hold {ctx.id} {os.getpid()}")
    time.sleep(float(payload.name))
