"""Job types for bench/blocking_jobs.py (imported by `tickr serve --jobs blockjobs`): the same
~50 ms of pure-Python CPU as a process job, a thread job and a careless blocking `async def`."""

from __future__ import annotations

import os
import time

from pydantic import BaseModel

from tickr_app import job


class Burn(BaseModel):
    ms: float = 50.0


def _log(line: str) -> None:
    path = os.environ.get("TICKR_TEST_LOG")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def burn(ms: float) -> int:
    """Pure-Python CPU for ``ms`` of this thread's CPU time (not wall time: contention does not shorten it)."""
    end = time.thread_time() + ms / 1000
    x = 0
    while time.thread_time() < end:
        for i in range(1000):
            x += i * i
    return x % 1000


@job("cpu_process", run_in="process", timeout=60)
def cpu_process(payload: Burn, ctx) -> int:  # type: ignore[no-untyped-def]
    _log(ctx.id)
    return burn(payload.ms)


@job("cpu_thread", timeout=60)
def cpu_thread(payload: Burn, ctx) -> int:  # type: ignore[no-untyped-def]
    _log(ctx.id)
    return burn(payload.ms)


@job("cpu_async", timeout=60)
async def cpu_async(payload: Burn, ctx) -> int:  # type: ignore[no-untyped-def]
    _log(ctx.id)
    return burn(payload.ms)  # the mistake: blocks the event loop for the whole burn


@job("tick", timeout=60)
async def tick(payload: Burn, ctx) -> None:  # type: ignore[no-untyped-def]
    """A delayed job that does nothing: its start time minus its due time is the lateness."""


@job("io_thread", timeout=60)
def io_thread(payload: Burn, ctx) -> None:  # type: ignore[no-untyped-def]
    """Blocking I/O (here a sleep) in a def handler: what threads are for (the GIL is released)."""
    _log(ctx.id)
    time.sleep(payload.ms / 1000)
