"""The ``ratelimit`` workload of ``tickr bench``: a queue-wide limit of 1,000 starts/s held
while a pool that could go far faster drains no-op jobs. Starts are counted from the job records'
``started_at`` (the Redis clock the limit itself uses); the accuracy target is ±2% of the limit.
Compare with the ``drain`` row of the same run: the same pool with no limit."""

from __future__ import annotations

import time
from typing import Any

from .progress import Progress

RATE = 1000
WINDOW_S = 5
"""Seconds of steady limited drain that are measured (after the first start)."""


async def workload_ratelimit(
    adapter: Any, concurrency: int, rate: int = RATE, window_s: int = WINDOW_S, progress: Any = None
) -> dict[str, Any]:
    from .. import JobRequest

    progress = progress or Progress
    n = rate * (window_s + 2)
    await adapter.reset("ratelimit")
    producer = adapter.producer
    await producer.set_limits("default", rate=f"{rate}/s")
    ids: list[str] = []
    for start in range(0, n, 1000):
        jobs = await producer.submit_many([JobRequest("noop", {}) for _ in range(min(1000, n - start))])
        ids += [j.id for j in jobs]
    bar = progress(f"{adapter.name} ratelimit @{rate}/s", n)
    await adapter.start_workers(concurrency)
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < window_s + 30:
            done = await adapter.completed()
            bar.update(done)
            if done >= rate * (window_s + 1):
                break
            await _sleep(0.05)
    finally:
        await adapter.stop_workers()
    starts: list[int] = []
    for chunk in range(0, len(ids), 1000):
        starts += [j.started_at for j in await producer.get_many("default", ids[chunk : chunk + 1000]) if j.started_at]
    starts.sort()
    if not starts:
        bar.finish("no job started")
        return {"rate": rate, "window_s": window_s, "started": 0}
    first = starts[0]
    in_window = sum(1 for s in starts if s < first + window_s * 1000)
    achieved = in_window / window_s
    peak = _max_in_window(starts, 1000)
    error = (achieved - rate) / rate * 100
    bar.finish(f"{achieved:,.0f}/s for a {rate:,}/s limit ({error:+.2f}%)")
    return {
        "rate": rate,
        "window_s": window_s,
        "concurrency": concurrency,
        "started": in_window,
        "achieved_per_s": round(achieved, 1),
        "error_pct": round(error, 2),
        "max_in_any_1s": peak,
    }


def _max_in_window(starts: list[int], window_ms: int) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(starts):
        while t - starts[lo] >= window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
