"""The workloads, generic over a small adapter interface so ``bench/compare.py`` runs the very
same code against arq and SAQ: drain, single enqueue, bulk enqueue, latency at a fixed rate,
delayed-job lateness. Handlers of every library record into ``REC`` (same process, same clock).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .measure import percentile, rss_mb
from .progress import Progress, ProgressFactory, _NullProgress

PHASES = ("drain", "enqueue", "bulk", "latency", "delayed", "schedules", "workflows", "ratelimit", "http")
LATENCY_RATE = 200.0
LATENCY_SECONDS = 5.0
DELAYED_JOBS = 500
DELAYED_MIN_S = 0.1
DELAYED_MAX_S = 2.0
BULK_CHUNK = 1000
POLL_S = 0.005


# -- what handlers record --------------------------------------------------------------------


@dataclass
class Recorder:
    """Filled by the job handlers of every library (Tickr, arq, SAQ): same process, same clock."""

    latencies: list[float] = field(default_factory=list)
    """enqueue -> start, seconds (perf_counter)"""
    lateness_ms: list[float] = field(default_factory=list)
    """start - due, milliseconds (wall clock)"""

    def clear(self) -> None:
        self.latencies.clear()
        self.lateness_ms.clear()


REC = Recorder()


def record_latency(t_submit: float) -> None:
    REC.latencies.append(time.perf_counter() - t_submit)


def record_lateness(due_ms: float) -> None:
    REC.lateness_ms.append(time.time() * 1000.0 - due_ms)


# -- the adapter every library implements ----------------------------------------------------


class Adapter(Protocol):
    """One queue library under test. Job kinds: ``noop`` ({}), ``lat`` ({"t": perf_counter at
    submit}) and ``late`` ({"due_ms": wall-clock due time in ms}, submitted with ``run_at``)."""

    name: str

    async def reset(self, phase: str) -> None:
        """Start a phase on an empty queue (fresh prefix, or an emptied database we own)."""

    async def submit(self, kind: str, data: dict[str, Any], run_at: float | None = None) -> None: ...

    async def submit_bulk(self, kind: str, datas: Sequence[dict[str, Any]]) -> None: ...

    async def start_workers(self, concurrency: int) -> None: ...

    async def stop_workers(self) -> None: ...

    async def completed(self) -> int:
        """Jobs finished successfully so far in this phase's queue."""
        ...

    async def close(self) -> None: ...


# -- the workloads (library-agnostic) --------------------------------------------------------


async def _wait_completed(
    adapter: Adapter, target: int, baseline: int, timeout: float, progress: Progress
) -> tuple[int, bool]:
    deadline = time.perf_counter() + timeout
    while True:
        done = await adapter.completed() - baseline
        progress.update(done)
        if done >= target:
            return done, True
        if time.perf_counter() > deadline:
            return done, False
        await asyncio.sleep(POLL_S)


async def workload_drain(
    adapter: Adapter, n: int, concurrency: int, progress: ProgressFactory = Progress, timeout: float = 300.0
) -> dict[str, Any]:
    """Enqueue n no-op jobs, then time a fresh pool of ``concurrency`` workers draining them."""
    await adapter.reset("drain")
    prep = progress(f"{adapter.name} drain: fill", n)
    for start in range(0, n, BULK_CHUNK):
        size = min(BULK_CHUNK, n - start)
        await adapter.submit_bulk("noop", [{} for _ in range(size)])
        prep.update(start + size)
    prep.finish(f"{n:,} jobs queued")
    baseline = await adapter.completed()
    rss_before = rss_mb()
    bar = progress(f"{adapter.name} drain", n)
    t0 = time.perf_counter()
    await adapter.start_workers(concurrency)
    done, finished = await _wait_completed(adapter, n, baseline, timeout, bar)
    elapsed = time.perf_counter() - t0
    await adapter.stop_workers()
    rate = done / elapsed if elapsed > 0 else 0.0
    bar.finish(f"{rate:,.0f} jobs/s" + ("" if finished else f" (timed out after {done:,} jobs)"))
    out: dict[str, Any] = {
        "jobs": n,
        "completed": done,
        "concurrency": concurrency,
        "seconds": round(elapsed, 4),
        "jobs_per_s": round(rate, 1),
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_mb(), 1),
    }
    if not finished:
        out["timed_out"] = True
    return out


async def workload_enqueue(adapter: Adapter, n: int, progress: ProgressFactory = Progress) -> dict[str, Any]:
    """n sequential awaited single submits."""
    await adapter.reset("enqueue")
    for _ in range(min(50, n)):  # warm the connection pool and script cache, not timed
        await adapter.submit("noop", {})
    bar = progress(f"{adapter.name} enqueue", n)
    step = max(1, n // 100)
    t0 = time.perf_counter()
    for i in range(n):
        await adapter.submit("noop", {})
        if i % step == 0:
            bar.update(i)
    elapsed = time.perf_counter() - t0
    rate = n / elapsed if elapsed > 0 else 0.0
    bar.finish(f"{rate:,.0f} jobs/s")
    return {"jobs": n, "seconds": round(elapsed, 4), "jobs_per_s": round(rate, 1)}


async def workload_bulk(
    adapter: Adapter, n: int, progress: ProgressFactory = Progress, chunk: int = BULK_CHUNK
) -> dict[str, Any]:
    """n jobs submitted in chunks (``submit_many`` for Tickr)."""
    await adapter.reset("bulk")
    await adapter.submit_bulk("noop", [{} for _ in range(min(chunk, 100))])  # warm-up, not timed
    bar = progress(f"{adapter.name} bulk", n)
    t0 = time.perf_counter()
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        await adapter.submit_bulk("noop", [{} for _ in range(size)])
        bar.update(start + size)
    elapsed = time.perf_counter() - t0
    rate = n / elapsed if elapsed > 0 else 0.0
    bar.finish(f"{rate:,.0f} jobs/s")
    return {"jobs": n, "chunk": chunk, "seconds": round(elapsed, 4), "jobs_per_s": round(rate, 1)}


async def _warm_up_workers(adapter: Adapter, baseline: int) -> int:
    """Run a few jobs through the started pool so connections exist before timing."""
    for _ in range(10):
        await adapter.submit("noop", {})
    done, _ = await _wait_completed(adapter, 10, baseline, 30.0, _NullProgress())
    return baseline + done


async def workload_latency(
    adapter: Adapter,
    concurrency: int,
    rate: float = LATENCY_RATE,
    seconds: float = LATENCY_SECONDS,
    progress: ProgressFactory = Progress,
) -> dict[str, Any]:
    """Open-loop submits at a fixed rate while the pool runs; enqueue -> start latency."""
    await adapter.reset("latency")
    baseline = await adapter.completed()
    await adapter.start_workers(concurrency)
    try:
        baseline = await _warm_up_workers(adapter, baseline)
        REC.clear()
        total = max(1, int(rate * seconds))
        bar = progress(f"{adapter.name} latency", total)
        tasks: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []

        async def one() -> None:
            try:
                await adapter.submit("lat", {"t": time.perf_counter()})
            except Exception as exc:  # counted and reported, not fatal
                errors.append(exc)

        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if i % 20 == 0:
                bar.update(len(REC.latencies))
        if tasks:
            await asyncio.gather(*list(tasks))
        deadline = time.perf_counter() + 60.0
        while len(REC.latencies) < total - len(errors) and time.perf_counter() < deadline:
            bar.update(len(REC.latencies))
            await asyncio.sleep(POLL_S)
        lat_ms = [x * 1000 for x in REC.latencies]
    finally:
        await adapter.stop_workers()
    if not lat_ms:
        bar.finish("no job started")
        return {"rate": rate, "jobs": total, "started": 0, "errors": len(errors)}
    out = {
        "rate": rate,
        "jobs": total,
        "started": len(lat_ms),
        "errors": len(errors),
        "p50_ms": round(percentile(lat_ms, 50), 3),
        "p99_ms": round(percentile(lat_ms, 99), 3),
        "max_ms": round(max(lat_ms), 3),
    }
    bar.finish(f"p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms")
    return out


async def workload_delayed(
    adapter: Adapter,
    concurrency: int,
    n: int = DELAYED_JOBS,
    min_s: float = DELAYED_MIN_S,
    max_s: float = DELAYED_MAX_S,
    progress: ProgressFactory = Progress,
) -> dict[str, Any]:
    """n jobs due min_s..max_s from now; lateness of each start against its due time."""
    await adapter.reset("delayed")
    baseline = await adapter.completed()
    await adapter.start_workers(concurrency)
    try:
        await _warm_up_workers(adapter, baseline)
        REC.clear()
        bar = progress(f"{adapter.name} delayed", n)
        rng = random.Random(5)
        t_submit = time.perf_counter()
        for _ in range(n):
            # Whole milliseconds, so the due time in the payload is exactly the job's due time.
            due_ms = int(time.time() * 1000) + rng.randint(int(min_s * 1000), int(max_s * 1000))
            await adapter.submit("late", {"due_ms": due_ms}, run_at=due_ms / 1000)
        submit_s = time.perf_counter() - t_submit
        deadline = time.perf_counter() + max_s + 30.0
        while len(REC.lateness_ms) < n and time.perf_counter() < deadline:
            bar.update(len(REC.lateness_ms))
            await asyncio.sleep(0.02)
        late = list(REC.lateness_ms)
    finally:
        await adapter.stop_workers()
    if not late:
        bar.finish("no job started")
        return {"jobs": n, "started": 0}
    out = {
        "jobs": n,
        "started": len(late),
        "delay_range_s": [min_s, max_s],
        "submit_seconds": round(submit_s, 3),
        "p50_ms": round(percentile(late, 50), 3),
        "p99_ms": round(percentile(late, 99), 3),
        "max_ms": round(max(late), 3),
        "min_ms": round(min(late), 3),
        "early": sum(1 for x in late if x < 0),
    }
    bar.finish(f"p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms, early {out['early']}")
    return out
