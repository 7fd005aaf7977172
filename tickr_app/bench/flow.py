"""Flow-control workloads (issue #14), Tickr only, each measured beside a plain drain in the
same run: a drain of jobs with mixed priorities (what priorities cost), and a drain of three
queues one pool takes by weight 5:3:1 (what the fetch policy costs, and how close the shares
come). Plain and flow drains alternate (plain, flow, plain, flow, ...) on fresh prefixes, so a
warm-up or a noisy neighbour weighs on both alike; the row shows the medians."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from .adapter import TickrAdapter
from .progress import Progress, ProgressFactory
from .workloads import BULK_CHUNK, POLL_S

PRIORITY_MIX = (7, 3, 0, -5)
"""One job in four at each: three in four wait in the priority set, one on the plain list."""
WEIGHTS = {"high": 5, "default": 3, "bulk": 1}
ROUNDS = 3
"""Pairs of (plain, flow) drains."""


async def _drain(
    adapter: TickrAdapter,
    phase: str,
    requests: list[Any],
    concurrency: int,
    progress: ProgressFactory,
    timeout: float,
    **worker_options: Any,
) -> dict[str, Any]:
    """Fill ``requests`` on a fresh prefix, time a fresh pool draining them; with several
    queues, also each queue's share while every one still had jobs (the last poll before one
    ran dry)."""
    await adapter.reset(phase)
    for start in range(0, len(requests), BULK_CHUNK):
        await adapter.submit_requests(requests[start : start + BULK_CHUNK])
    queues = list(worker_options.get("queues") or ["default"])
    producer = adapter.producer
    baseline = {q: s.succeeded for q, s in (await producer.stats()).items()}
    total = len(requests)
    bar = progress(f"tickr {phase}", total)
    t0 = time.perf_counter()
    await adapter.start_workers(concurrency, **worker_options)
    done, shares_at = 0, dict.fromkeys(queues, 0)
    while done < total and time.perf_counter() - t0 < timeout:
        stats = await producer.stats()
        ran = {q: stats[q].succeeded - baseline.get(q, 0) for q in queues if q in stats}
        done = sum(ran.values())
        if len(ran) == len(queues) and all(stats[q].ready > 0 for q in queues):
            shares_at = ran
        bar.update(done)
        await asyncio.sleep(POLL_S)
    elapsed = time.perf_counter() - t0
    await adapter.stop_workers()
    rate = done / elapsed if elapsed > 0 else 0.0
    bar.finish(f"{rate:,.0f} jobs/s")
    return {"rate": rate, "done": done, "shares_at": shares_at}


async def _side_by_side(
    adapter: TickrAdapter,
    name: str,
    plain: list[Any],
    flow: list[Any],
    concurrency: int,
    progress: ProgressFactory,
    timeout: float,
    **worker_options: Any,
) -> tuple[list[float], list[float], list[dict[str, Any]]]:
    plain_rates: list[float] = []
    flow_rates: list[float] = []
    flow_runs: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        plain_rates.append((await _drain(adapter, f"{name}-plain", plain, concurrency, progress, timeout))["rate"])
        run = await _drain(adapter, name, flow, concurrency, progress, timeout, **worker_options)
        flow_rates.append(run["rate"])
        flow_runs.append(run)
    return plain_rates, flow_rates, flow_runs


def _summary(n: int, concurrency: int, plain: list[float], flow: list[float], runs: list[dict[str, Any]]) -> dict[str, Any]:
    rate, base = statistics.median(flow), statistics.median(plain)
    out: dict[str, Any] = {
        "jobs": n,
        "concurrency": concurrency,
        "rounds": len(flow),
        "jobs_per_s": round(rate, 1),
        "plain_jobs_per_s": round(base, 1),
        "vs_plain": round(rate / base, 3) if base else 0.0,
        "runs_jobs_per_s": [round(x, 1) for x in flow],
        "plain_runs_jobs_per_s": [round(x, 1) for x in plain],
    }
    if any(r["done"] < n for r in runs):
        out["timed_out"] = True
        out["completed"] = min(r["done"] for r in runs)
    return out


async def workload_priorities(
    adapter: TickrAdapter, n: int, concurrency: int, progress: ProgressFactory = Progress, timeout: float = 300.0
) -> dict[str, Any]:
    """n no-op jobs with priorities 7, 3, 0, -5 in turn, against n plain ones."""
    from .. import JobRequest

    plain = [JobRequest("noop", {}) for _ in range(n)]
    mixed = [JobRequest("noop", {}, priority=PRIORITY_MIX[i % len(PRIORITY_MIX)]) for i in range(n)]
    base, rates, runs = await _side_by_side(adapter, "priorities", plain, mixed, concurrency, progress, timeout)
    return {"priorities": list(PRIORITY_MIX), **_summary(n, concurrency, base, rates, runs)}


async def workload_weighted(
    adapter: TickrAdapter, n: int, concurrency: int, progress: ProgressFactory = Progress, timeout: float = 300.0
) -> dict[str, Any]:
    """n no-op jobs, a third in each of three queues one pool weighs 5:3:1, against n plain
    ones in one queue."""
    from .. import JobRequest

    per_queue = n // len(WEIGHTS)
    plain = [JobRequest("noop", {}) for _ in range(per_queue * len(WEIGHTS))]
    spread = [JobRequest("noop", {}, queue=q) for q in WEIGHTS for _ in range(per_queue)]
    base, rates, runs = await _side_by_side(
        adapter, "weighted", plain, spread, concurrency, progress, timeout, queues=WEIGHTS
    )
    seen = {q: sum(r["shares_at"].get(q, 0) for r in runs) for q in WEIGHTS}
    counted = sum(seen.values())
    shares = {q: round(seen[q] / counted, 4) if counted else 0.0 for q in WEIGHTS}
    error = max(abs(shares[q] - w / sum(WEIGHTS.values())) for q, w in WEIGHTS.items())
    return {
        "weights": WEIGHTS,
        "shares": shares,
        "shares_over_jobs": counted,
        "share_error": round(error, 4),
        **_summary(per_queue * len(WEIGHTS), concurrency, base, rates, runs),
    }


def flow_row(phase: str, r: dict[str, Any]) -> tuple[str, str]:
    """The table row of a flow workload: label and result."""
    versus = f"  ({r['vs_plain']:.2f}× plain {r['plain_jobs_per_s']:,.0f}, medians of {r['rounds']})"
    if phase == "priorities":
        label = f"drain, priorities {'/'.join(f'{p:+d}' for p in r['priorities'])} ({r['jobs']:,})"
        text = f"{r['jobs_per_s']:,.0f} jobs/s{versus}"
    else:
        label = f"drain, 3 queues by weight 5:3:1 ({r['jobs']:,})"
        shares = ":".join(f"{100 * s:.1f}" for s in r["shares"].values())
        text = f"{r['jobs_per_s']:,.0f} jobs/s{versus}  shares {shares}% (±{100 * r['share_error']:.1f})"
    if r.get("timed_out"):
        text += f"  TIMED OUT at {r['completed']:,}"
    return label, text
