"""The ``schedules`` workload of ``tickr bench``: one interval schedule of exactly N slots,
fired by the bench's engine; lateness of each firing and start, duplicates and skips.

(Several scheduler processes racing for each slot: ``python bench/schedules.py``.)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .measure import percentile
from .progress import Progress

SCHEDULE_SLOTS = 500
SCHEDULE_EVERY_MS = 20
STARTS: list[tuple[str, float]] = []
"""(job id, handler start in wall-clock ms), appended by the ``sched`` handler."""


async def sched(payload: dict[str, Any], ctx: Any) -> None:
    STARTS.append((ctx.id, time.time() * 1000.0))


async def workload_schedules(
    adapter: Any, concurrency: int, n: int = SCHEDULE_SLOTS, every_ms: int = SCHEDULE_EVERY_MS, progress: Any = None
) -> dict[str, Any]:
    from ..core.ids import slot_job_id

    progress = progress or Progress
    await adapter.reset("schedules")
    await adapter.start_workers(concurrency)
    try:
        STARTS.clear()
        producer = adapter.producer
        now = await producer.redis_time_ms()
        start = (now // 1000 + 1) * 1000
        end = start + (n - 1) * every_ms
        await producer.schedule("bench", "sched", {}, every=every_ms / 1000, start=start / 1000, end=end / 1000)
        slot_of = {slot_job_id("default", "bench", s): s for s in range(start, end + 1, every_ms)}
        bar = progress(f"{adapter.name} schedules", n)
        deadline = time.perf_counter() + (end - now) / 1000 + 30
        while len({i for i, _ in STARTS}) < n and time.perf_counter() < deadline:
            bar.update(len(STARTS))
            await asyncio.sleep(0.02)
        found = {job.id: job.created_at for job in await producer.get_many("default", list(slot_of))}
        created = [found.get(job_id) for job_id in slot_of]
    finally:
        await adapter.stop_workers()
    fire = [int(c) - slot for slot, c in zip(slot_of.values(), created) if c is not None]
    first_start: dict[str, float] = {}
    for job_id, t in STARTS:
        first_start.setdefault(job_id, t - slot_of.get(job_id, t))
    late = list(first_start.values())
    out: dict[str, Any] = {
        "slots": n,
        "every_ms": every_ms,
        "fired": len(fire),
        "skipped_slots": sum(1 for c in created if c is None),
        "duplicates": len(STARTS) - len(first_start),
        "early": sum(1 for x in fire if x < 0),
    }
    if late:
        out |= {
            "fire_p50_ms": percentile(fire, 50),
            "fire_p99_ms": percentile(fire, 99),
            "p50_ms": round(percentile(late, 50), 3),
            "p99_ms": round(percentile(late, 99), 3),
            "max_ms": round(max(late), 3),
        }
        bar.finish(
            f"p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms, "
            f"duplicates {out['duplicates']}, skipped {out['skipped_slots']}"
        )
    else:
        bar.finish("no slot fired")
    return out
