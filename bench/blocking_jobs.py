"""Blocking and CPU-bound job code against a `tickr serve` process: does the loop stay free?

One `tickr serve` subprocess (API + scheduler + 10 workers, lease 3 s) runs, phase after phase:
nothing (idle), then five ~50 ms pure-Python CPU handlers back to back as process jobs
(`run_in="process"`), as thread jobs (`def`), and as a careless `async def` that blocks the loop;
and for contrast five 50 ms blocking sleeps (I/O-like) as thread jobs.
During each phase this script, from outside the server process, measures:

- `GET /api/v1/health` latency (one request at a time, every 10 ms): p50 / p99 / max;
- delayed-job lateness: no-op jobs due 0.2-0.8 s ahead, 20 a second; start minus due time, p99;
- lease losses (CPU jobs that failed an attempt: nothing else makes them fail) and duplicates
  (CPU jobs that ran more than once, from the jobs' own log);
- the server's event-loop lag as it reports it in the worker registry (the largest of its
  heartbeat periods), and its stall warnings
  (the `async def` phase must name the job type).

    python bench/blocking_jobs.py --redis redis://127.0.0.1:6379/0 [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).parent
PHASES = ("idle", "cpu_process", "cpu_thread", "io_thread", "cpu_async")
CHAINS = 5
"""CPU handlers kept running at once (each chain submits the next job when its last one ends)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run_phase(phase: str, base: str, producer: Any, seconds: float, log: Path, server_log: Path) -> dict[str, Any]:
    stop_at = time.monotonic() + seconds
    health: list[float] = []
    ticks: list[str] = []
    cpu: list[str] = []
    log_mark = server_log.stat().st_size

    async def chain() -> None:
        while time.monotonic() < stop_at:
            j = await producer.submit(phase, {"ms": 50})
            cpu.append(j.id)
            await producer.wait(j.id, timeout=120)

    async def delayed() -> None:
        while time.monotonic() < stop_at:
            j = await producer.submit("tick", {}, delay=random.uniform(0.2, 0.8))
            ticks.append(j.id)
            await asyncio.sleep(0.05)

    async def probe() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                async with http.get(f"{base}/api/v1/health") as r:
                    await r.read()
                health.append(time.perf_counter() - t0)
                await asyncio.sleep(0.01)

    lags: list[float] = []

    async def loop_lag() -> None:
        while time.monotonic() < stop_at:
            await asyncio.sleep(0.5)
            workers = await producer.worker_processes()
            if workers and workers[0].loop is not None:
                lags.append(workers[0].loop.lag_ms)  # the largest lag of its last heartbeat period

    jobs = [chain() for _ in range(CHAINS)] if phase != "idle" else []
    await asyncio.gather(delayed(), probe(), loop_lag(), *jobs)
    lateness = []
    for job_id in ticks:
        done = await producer.wait(job_id, timeout=120)
        lateness.append(max(0, done.started_at - done.due_at) / 1000)
    lost = 0
    for job_id in cpu:
        job = await producer.get(job_id)
        if job.attempts > 1 or job.error:
            lost += 1
    runs = collections.Counter(log.read_text().split()) if log.exists() else collections.Counter()
    duplicates = sum(1 for job_id in cpu if runs[job_id] > 1)
    with open(server_log, "rb") as f:  # noqa: ASYNC230 - a bench reading its own small log
        f.seek(log_mark)
        warnings = [line for line in f.read().decode(errors="replace").splitlines() if "event loop blocked" in line]
    return {
        "phase": phase,
        "cpu_jobs": len(cpu),
        "health_p50_ms": round(pct(health, 0.5) * 1000, 1),
        "health_p99_ms": round(pct(health, 0.99) * 1000, 1),
        "health_max_ms": round(max(health) * 1000, 1),
        "delayed_p99_ms": round(pct(lateness, 0.99) * 1000, 1),
        "lease_losses": lost,
        "duplicates": duplicates,
        "loop_lag_max_ms": max(lags) if lags else None,
        "stall_warnings": len(warnings),
        "warning_names_job": any(f"job {phase} " in w for w in warnings),
        "first_warning": warnings[0].split("tickr.loop", 1)[-1].strip()[:200] if warnings else "",
    }


async def main(redis_url: str, seconds: float) -> list[dict[str, Any]]:
    sys.path.insert(0, str(BENCH))
    import blockjobs  # noqa: F401  (the producer validates payloads against the same types)

    from tickr_app import Tickr

    folder = Path(tempfile.mkdtemp(prefix="tickr-blocking-"))
    prefix = f"tickrblock-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH", "")]))
    env["TICKR_TEST_LOG"] = str(folder / "runs.log")
    env["TICKR_HOME"] = str(folder / "home")
    env.pop("TICKR_API_TOKEN", None)
    server_log = folder / "server.log"
    out = open(server_log, "wb")  # noqa: ASYNC230, SIM115 - the server's output until it stops
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [sys.executable, "-m", "tickr_app", "serve", "--redis", redis_url, "--prefix", prefix, "--port", str(port),
         "--jobs", "blockjobs", "--workers", "10", "--lease", "3", "--log-level", "WARNING"],
        env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    producer = await Tickr(redis_url, workers=0, prefix=prefix, builtin_jobs=False, home=folder / "home").start()
    results = []
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with http.get(f"{base}/api/v1/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tickr serve did not come up: {server_log.read_text()[-2000:]}")
                await asyncio.sleep(0.05)
        # Warm the process pool (its startup is paid once, on the first process job).
        t0 = time.monotonic()
        warm = [await producer.submit("cpu_process", {"ms": 1}) for _ in range(CHAINS)]
        for j in warm:
            await producer.wait(j.id, timeout=60)
        print(f"process pool warm in {time.monotonic() - t0:.2f} s", file=sys.stderr)
        for phase in PHASES:
            print(f"phase {phase} ({seconds:g} s)…", file=sys.stderr)
            results.append(await run_phase(phase, base, producer, seconds, folder / "runs.log", server_log))
    finally:
        await producer.stop()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        out.close()
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()
    return results


def table(results: list[dict[str, Any]]) -> str:
    cols = [
        ("phase", "load"),
        ("cpu_jobs", "CPU jobs"),
        ("health_p50_ms", "health p50 ms"),
        ("health_p99_ms", "health p99 ms"),
        ("delayed_p99_ms", "delayed late p99 ms"),
        ("loop_lag_max_ms", "server loop lag max ms"),
        ("lease_losses", "lease losses"),
        ("duplicates", "duplicates"),
        ("stall_warnings", "stall warnings"),
        ("warning_names_job", "names the job"),
    ]
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in results:
        lines.append("| " + " | ".join(str(r[k]) for k, _ in cols) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", metavar="URL")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = asyncio.run(main(args.redis, args.seconds))
    print(json.dumps(res, indent=2) if args.json else table(res))
    for r in res:
        if r["first_warning"]:
            print(f"{r['phase']}: {r['first_warning']}")
