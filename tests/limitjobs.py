"""Job types for the flow-control process tests: imported by `tickr worker --jobs limitjobs`.

Handlers that count across processes do it in Redis (``LIMITS_TEST_REDIS``), under the keys the
test passes in the payload (inside its own prefix, so the test's cleanup removes them)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel

from tickr_app import JobContext, RateLimited, job

_client: Any = None

# INCR the counter and raise the recorded peak to it, atomically: the peak of concurrent handlers.
_ENTER = """
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n
"""


def _redis() -> Any:
    global _client
    if _client is None:
        import redis.asyncio as aioredis

        _client = aioredis.Redis.from_url(os.environ["LIMITS_TEST_REDIS"], decode_responses=True)
    return _client


class Nothing(BaseModel):
    pass


class Guarded(BaseModel):
    counter: str
    peak: str
    seconds: float = 0.05


class Api(BaseModel):
    flag: str
    log: str
    retry_after: float


class Hold(BaseModel):
    log: str


@job("tick")
async def tick(payload: Nothing) -> None:
    """Does nothing: the rate test counts starts from the job records."""


@job("guarded", timeout=120)
async def guarded(payload: Guarded, ctx: JobContext) -> int:
    """Counts handlers inside at once, across every process, and the peak."""
    r = _redis()
    n = await r.eval(_ENTER, 2, payload.counter, payload.peak)
    try:
        await asyncio.sleep(payload.seconds)
    finally:
        await r.decr(payload.counter)
    return int(n)


@job("api", max_attempts=2)
async def api(payload: Api, ctx: JobContext) -> str:
    """The first call anywhere hears "back off" (RateLimited); every call is logged with the
    Redis time and the process."""
    r = _redis()
    sec, micros = await r.time()
    await r.rpush(payload.log, f"{ctx.id} {ctx.attempt} {int(sec) * 1000 + int(micros) // 1000} {os.getpid()}")
    if await r.set(payload.flag, "1", nx=True):
        raise RateLimited(retry_after=payload.retry_after)
    return "ok"


@job("hold", timeout=300)
async def hold(payload: Hold, ctx: JobContext) -> None:
    """Announces itself and holds its slot until killed."""
    await _redis().rpush(payload.log, f"{ctx.id} {os.getpid()}")
    await asyncio.Event().wait()
