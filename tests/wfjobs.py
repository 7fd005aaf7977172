"""Job types for the workflow process tests: imported by `tickr worker --jobs wfjobs`."""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel

from tickr_app import JobContext, job


class Member(BaseModel):
    n: int
    at: float = 0.0
    """Finish at this epoch second (members of a group finish at the same instant)."""


def _log(line: str) -> None:
    # One O_APPEND write per line: lines from several processes never interleave.
    fd = os.open(os.environ["TICKR_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@job("wf_member", max_attempts=3, backoff_base=0.01, backoff_cap=0.05)
async def wf_member(payload: Member, ctx: JobContext) -> int:
    """Waits until ``at``, logs which process ran it, returns ``n``."""
    await asyncio.sleep(max(0.0, payload.at - time.time()))
    _log(f"member {payload.n} {os.getpid()} {ctx.attempt}")
    return payload.n


@job("wf_hang_first", max_attempts=3, backoff_base=0.01, backoff_cap=0.05)
async def wf_hang_first(payload: Member, ctx: JobContext) -> int:
    """The first attempt announces itself and hangs (to be killed); a later one returns ``n``."""
    _log(f"start {payload.n} {ctx.attempt} {os.getpid()}")
    if ctx.attempt == 1:
        await asyncio.Event().wait()
    return payload.n


@job("wf_collect", max_attempts=3)
async def wf_collect(payload: dict[str, int], ctx: JobContext) -> list[int]:
    """The fan-in callback: logs each run, returns its inputs."""
    _log(f"collect {ctx.workflow_id} {os.getpid()} {len(ctx.parent_results)}")
    return list(ctx.parent_results)


def wf_in_process(payload: Member, ctx: JobContext) -> dict[str, object]:
    """Registered with run_in="process" by tests: what a node's context holds in a child process."""
    return {"pid": os.getpid(), "workflow": ctx.workflow_id, "node": ctx.node, "previous": ctx.previous}


def wf_in_thread(payload: Member, ctx: JobContext) -> object:
    """Registered with run_in="thread" by tests."""
    return ctx.parent_results
