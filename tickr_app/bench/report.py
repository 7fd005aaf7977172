"""What a run reports: the machine it ran on, and the results as a table against the targets."""

from __future__ import annotations

import asyncio
import os
import platform
from typing import Any

from .workloads import DELAYED_MAX_S, DELAYED_MIN_S, PHASES

TARGETS = {
    "drain": "≥ 10,000 jobs/s",
    "enqueue": "≥ 6,000 jobs/s",
    "bulk": "≥ 50,000 jobs/s",
    "latency": "p50 ≤ 1 ms, p99 ≤ 2 ms",
    "delayed": "p50 ≤ 1 ms, p99 ≤ 2 ms, 0 early",
    "schedules": "as delayed; 0 duplicates, 0 skipped",
    "workflows": "near the plain jobs beside it",
    "ratelimit": "±2% of the limit, never over it in any 1 s",
    "http": "≥ 3,000 req/s, 0 errors",
}


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        load = round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        load = None
    return {
        "cpu": cpu or platform.machine(),
        "loadavg_1m_at_start": load,
        "cpus": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def loop_name() -> str:
    loop = asyncio.get_running_loop()
    module = type(loop).__module__.split(".")[0]
    return "uvloop" if module == "uvloop" else f"asyncio ({type(loop).__name__})"


def _fmt_rate(x: float, unit: str = "jobs/s") -> str:
    return f"{x:,.0f} {unit}"


def _result_lines(results: dict[str, Any], concurrency: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for phase in PHASES:
        r = results.get(phase)
        if r is None:
            continue
        if "skipped" in r:
            rows.append((phase, f"skipped: {r['skipped']}", ""))
            continue
        if "error" in r:
            rows.append((phase, f"failed: {r['error']}", TARGETS[phase]))
            continue
        if phase == "workflows":
            rows += _workflow_lines(r)
            continue
        if phase == "drain":
            label = f"drain ({r['jobs']:,} jobs, c={r['concurrency']})"
            text = f"{_fmt_rate(r['jobs_per_s'])}  ({r['seconds']:.2f} s)"
            if r.get("timed_out"):
                text += f"  TIMED OUT at {r['completed']:,}"
        elif phase == "enqueue":
            label = f"enqueue, 1 awaited submit ({r['jobs']:,})"
            text = _fmt_rate(r["jobs_per_s"])
        elif phase == "bulk":
            label = f"enqueue, submit_many x{r['chunk']} ({r['jobs']:,})"
            text = _fmt_rate(r["jobs_per_s"])
        elif phase == "latency":
            label = f"latency @{r['rate']:g}/s ({r['jobs']:,} jobs)"
            if "p50_ms" in r:
                text = f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.1f} ms"
            else:
                text = "no job started"
        elif phase == "delayed":
            lo, hi = r.get("delay_range_s", [DELAYED_MIN_S, DELAYED_MAX_S])
            label = f"delayed lateness ({r['jobs']}, {lo:g}-{hi:g} s)"
            if "p50_ms" in r:
                text = (
                    f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.1f} ms  early {r['early']}"
                )
            else:
                text = "no job started"
        elif phase == "schedules":
            label = f"schedule lateness ({r['slots']} slots, {r['every_ms']} ms apart)"
            if "p50_ms" in r:
                text = (
                    f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.1f} ms  early {r['early']}"
                    f"  dup {r['duplicates']}  skip {r['skipped_slots']}"
                )
            else:
                text = "no slot fired"
        elif phase == "ratelimit":
            label = f"rate limit {r['rate']:,}/s ({r['window_s']} s, c={r.get('concurrency', concurrency)})"
            if r.get("started"):
                text = (
                    f"{_fmt_rate(r['achieved_per_s'])}  ({r['error_pct']:+.2f}%)  max in any 1 s: {r['max_in_any_1s']:,}"
                )
            else:
                text = "no job started"
        else:  # http
            label = f"http POST /api/v1/jobs ({r['clients']} clients)"
            text = f"{_fmt_rate(r['req_per_s'], 'req/s')}  errors {r['errors']}"
            if "p50_ms" in r:
                text += f"  p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms"
        rows.append((label, text, TARGETS[phase]))
    return rows


def _workflow_lines(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Two rows: the chain and the fan-in, each with the plain jobs beside it."""
    rows = []
    for key, label in (
        ("chain", "workflow chain ({jobs:,} nodes) vs {jobs:,} awaited submits"),
        ("fan_in", "workflow fan-in ({members:,} → 1) vs {members:,} drained + 1"),
    ):
        w = r[key]
        text = (
            f"{_fmt_rate(w['jobs_per_s'])} ({w['seconds']:.2f} s) vs {_fmt_rate(w['plain_jobs_per_s'])}"
            f" ({w['plain_seconds']:.2f} s): {w['overhead_per_edge_ms']:+.2f} ms/edge"
        )
        if "submit_seconds" in w:
            text += f"; submit {w['submit_seconds'] * 1000:.0f} ms"
            if "plain_submit_seconds" in w:
                text += f" vs {w['plain_submit_seconds'] * 1000:.0f} ms"
        if w.get("failed"):
            text += "  FAILED"
        rows.append((label.format(**w), text, TARGETS["workflows"]))
    return rows


def render_table(report: dict[str, Any]) -> str:
    rows = _result_lines(report["results"], report["concurrency"])
    mem = report.get("memory", {})
    if mem:
        parts = []
        drain = report["results"].get("drain") or {}
        if "rss_before_mb" in drain:
            parts.append(f"drain {drain['rss_before_mb']:.0f} → {drain['rss_after_mb']:.0f} MB")
        parts.append(f"end {mem['end_rss_mb']:.0f} MB, peak {mem['peak_rss_mb']:.0f} MB")
        rows.append(("memory (RSS)", ", ".join(parts), "flat"))
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    m = report["machine"]
    lines = [
        f"Tickr {report['tickr_version']} bench — Redis {report['redis_version']} at {report['redis']}",
        f"{m['cpus']} × {m['cpu']}, {m['os']}, Python {m['python']}, loop {report['loop']}, "
        f"one process, load average {m.get('loadavg_1m_at_start')} at start",
        "",
        f"{'workload':<{w1}}  {'result':<{w2}}  target",
        f"{'-' * w1}  {'-' * w2}  {'-' * 6}",
    ]
    lines += [f"{a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in rows]
    return "\n".join(lines)
