"""The job type of bench/chaos.py: like tests/procjobs.py's `record` (each execution appends
"<job id> <pid>" to $TICKR_TEST_LOG, in one O_APPEND write), but it then works for `ms`
milliseconds, so a kill -9 lands on jobs that are in flight, and it allows many attempts, since
in a chaos run every failed attempt is a kill, not the job's fault."""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from tickr_app import JobContext, job


class ChaosMark(BaseModel):
    name: str
    ms: int = 0


@job("chaos_record", max_attempts=25, backoff_base=0.01, backoff_cap=0.1, timeout=60)
async def chaos_record(payload: ChaosMark, ctx: JobContext) -> dict[str, int]:
    fd = os.open(os.environ["TICKR_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{ctx.id} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    if payload.ms:
        await asyncio.sleep(payload.ms / 1000)
    return {"pid": os.getpid()}
