"""Profile only the drain phase of ``tickr bench`` (the queue is filled before profiling starts).

    python bench/profile_drain.py --redis redis://127.0.0.1:6379/0 --jobs 100000 --concurrency 50
        [--profiler pyinstrument|py-spy|none] [--out FILE]

pyinstrument (``pip install pyinstrument``) samples in-process and prints a call tree;
py-spy (``pip install py-spy``) is attached to this process by pid for exactly the drain
window and writes collapsed stacks (``--out``, default drain.folded) and a self-time summary.
Keys live under a fresh random prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import subprocess
import sys
import time
from typing import Any

from tickr_app import bench as tb
from tickr_app.core.connection import connect

NATIVE = ["--native"] if os.environ.get("PYSPY_NATIVE") else []


async def redis_counters(redis: Any) -> dict[str, Any]:
    """Server CPU seconds and per-command (calls, usec) from INFO (read-only)."""
    cpu = await redis.info("cpu")
    stats = await redis.info("commandstats")
    cmd = {}
    for key, value in stats.items():
        name = key.removeprefix("cmdstat_")
        if isinstance(value, dict):
            cmd[name] = (int(value.get("calls", 0)), int(value.get("usec", 0)))
    return {"cpu": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]), "cmd": cmd}


def summarize_folded(path: str, top: int = 30) -> str:
    """Self and inclusive sample shares per function from py-spy's raw (folded) output."""
    self_counts: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            total += count
            frames = stack.split(";")
            self_counts[frames[-1]] += count
            for frame in set(frames):
                incl[frame] += count
    lines = [f"{total} samples", "", "self time:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in self_counts.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top)]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    prefix = f"tickrbench-{secrets.token_hex(4)}"
    adapter = tb.TickrAdapter(args.redis, prefix)
    await adapter.open()
    try:
        await adapter.reset("drain")
        for start in range(0, args.jobs, tb.BULK_CHUNK):
            await adapter.submit_bulk("noop", [{} for _ in range(min(tb.BULK_CHUNK, args.jobs - start))])
        baseline = await adapter.completed()
        spy: subprocess.Popen[bytes] | None = None
        profiler: Any = None
        if args.profiler == "py-spy":
            spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(os.getpid()), "--rate", "1000", "--format", "raw",
                 "--output", args.out, *(NATIVE or ["--nonblocking"])],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            await asyncio.sleep(1.0)  # let py-spy attach
        elif args.profiler == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
        redis = connect(adapter.redis_url or "")  # an admin client of its own, for INFO counters
        r0 = await redis_counters(redis)
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        await adapter.start_workers(args.concurrency)
        while await adapter.completed() - baseline < args.jobs:
            await asyncio.sleep(tb.POLL_S)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        r1 = await redis_counters(redis)
        await redis.aclose()
        if profiler is not None:
            profiler.stop()
        if spy is not None:
            spy.send_signal(2)
            _, err = spy.communicate(timeout=30)
        await adapter.stop_workers()
        print(
            f"drain {args.jobs:,} jobs, c={args.concurrency}: {args.jobs / elapsed:,.0f} jobs/s, "
            f"{elapsed:.2f} s wall, {cpu:.2f} s CPU in this process ({100 * cpu / elapsed:.0f}% of one core), "
            f"loop {tb.loop_name()}"
        )
        rcpu = r1["cpu"] - r0["cpu"]
        print(
            f"Redis server during the drain: {rcpu:.2f} s CPU ({100 * rcpu / elapsed:.0f}% of one core), "
            f"{1e6 * rcpu / args.jobs:.1f} µs CPU per job (whole server: other clients count too)"
        )
        for name in sorted(set(r1["cmd"]) | set(r0["cmd"])):
            calls = r1["cmd"].get(name, (0, 0))[0] - r0["cmd"].get(name, (0, 0))[0]
            usec = r1["cmd"].get(name, (0, 0))[1] - r0["cmd"].get(name, (0, 0))[1]
            if calls > 0:
                print(f"  {name:<10} {calls:>8,} calls  {usec / calls:8.1f} µs/call  {usec / args.jobs:6.1f} µs/job")
        if profiler is not None:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        if spy is not None:
            if os.path.exists(args.out):
                print(summarize_folded(args.out))
            else:
                print("py-spy wrote nothing:", err.decode(errors="replace")[-500:])
    finally:
        await adapter.close()
        if adapter.redis_url:
            await tb.delete_prefix(adapter.redis_url, prefix)
        await adapter.close_anchor()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="profile_drain.py")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--jobs", type=tb._positive_int, default=100_000)
    parser.add_argument("--concurrency", type=tb._positive_int, default=50)
    parser.add_argument("--profiler", choices=("pyinstrument", "py-spy", "none"), default="pyinstrument")
    parser.add_argument("--out", default="drain.folded")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        return uvloop.run(main_async(args))
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
