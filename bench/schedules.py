"""Schedule firing lateness, duplicates and skips with 1, 3 and 10 scheduler processes.

For each process count: start that many ``Tickr`` engines (2 workers and a scheduler each) in
separate processes on a fresh key prefix, upsert one interval schedule with exactly ``--slots``
slots (``start``/``end``), and after the last slot read every slot's job by its deterministic
id. Reported per run:
- fire lateness: job created (Redis clock, ms) - slot time; negative would be early;
- start lateness: handler start (host clock, µs) - slot time, as the delayed-jobs bench does;
- skipped slots (no job), duplicates (a job executed more than once, or more jobs than slots).

    python bench/schedules.py --redis redis://127.0.0.1:6379/0 [--slots 500 --every 0.05 --procs 1,3,10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

LIST_SUFFIX = ":bench:starts"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# -- child: one engine with a scheduler ---------------------------------------------------


async def child(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    from tickr_app import JobContext, Registry, Tickr

    registry = Registry()
    starts = aioredis.Redis.from_url(redis_url)
    key = prefix + LIST_SUFFIX

    @registry.job("beat")
    async def beat(payload: dict, ctx: JobContext) -> None:
        await starts.rpush(key, f"{ctx.id} {time.time() * 1000:.3f}")

    tickr = await Tickr(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=2).start()
    print("ready", flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    finally:
        await tickr.stop(grace_period=2)
        await starts.aclose()


# -- parent --------------------------------------------------------------------------------


async def run_one(redis_url: str, procs: int, slots: int, every: float) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from tickr_app import Registry, Tickr
    from tickr_app.core.keys import queue_keys
    from tickr_app.core.schedules import slot_job_id

    prefix = f"tickrbench-sched-{uuid.uuid4().hex[:8]}"
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "--redis", redis_url, "--prefix", prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    registry = Registry()

    @registry.job("beat")
    async def beat(payload: dict) -> None:  # the producer only needs the type to validate
        return None

    producer = await Tickr(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=0).start()
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)  # an admin client of our own
    try:
        for c in children:
            assert c.stdout is not None
            line = await asyncio.to_thread(c.stdout.readline)
            if line.strip() != "ready":
                raise RuntimeError(f"a scheduler process did not start: {line!r}")
        now_ms = await producer.redis_time_ms()
        step = round(every * 1000)
        start = (now_ms // 1000 + 2) * 1000
        end = start + (slots - 1) * step
        await producer.schedule("bench", "beat", {}, every=every, start=start / 1000, end=end / 1000)
        deadline = time.monotonic() + (end - now_ms) / 1000 + 30
        while time.monotonic() < deadline:
            s = await producer.get_schedule("bench")
            if s.next_run_at is None and await redis.llen(prefix + LIST_SUFFIX) >= s.fired:
                break
            await asyncio.sleep(0.2)
        s = await producer.get_schedule("bench")
        keys = queue_keys(prefix, "default")
        pipe = redis.pipeline(transaction=False)
        slot_list = list(range(start, end + 1, step))
        for slot in slot_list:
            pipe.hmget(keys.job(slot_job_id("default", "bench", slot)), "created_at", "id")
        rows = await pipe.execute()
        fire = [int(c) - slot for slot, (c, _i) in zip(slot_list, rows) if c is not None]
        skipped = sum(1 for c, _i in rows if c is None)
        slot_of = {i: slot for slot, (_c, i) in zip(slot_list, rows) if i is not None}
        entries = [e.split() for e in await redis.lrange(prefix + LIST_SUFFIX, 0, -1)]
        runs = Counter(job_id for job_id, _t in entries)
        started: dict[str, float] = {}
        for job_id, t in entries:
            started.setdefault(job_id, float(t) - slot_of.get(job_id, float("nan")))
        start_late = [v for v in started.values() if not math.isnan(v)]
        return {
            "processes": procs,
            "slots": slots,
            "every_s": every,
            "fired": s.fired,
            "skipped": skipped + s.skipped,
            "duplicates": sum(n - 1 for n in runs.values()) + max(0, s.fired - slots),
            "early": sum(1 for x in fire if x < 0),
            "fire_p50_ms": _pct(fire, 50),
            "fire_p99_ms": _pct(fire, 99),
            "fire_max_ms": max(fire) if fire else None,
            "start_p50_ms": round(_pct(start_late, 50), 2),
            "start_p99_ms": round(_pct(start_late, 99), 2),
            "start_max_ms": round(max(start_late), 2) if start_late else None,
        }
    finally:
        for c in children:
            assert c.stdin is not None
            c.stdin.close()
        for c in children:
            try:
                c.wait(30)
            except subprocess.TimeoutExpired:
                c.kill()
        keys_left = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys_left), 500):
            await redis.delete(*keys_left[i : i + 500])
        await producer.stop()
        await redis.aclose()


async def main(args: argparse.Namespace) -> int:
    results = []
    for procs in [int(p) for p in args.procs.split(",")]:
        r = await run_one(args.redis, procs, args.slots, args.every)
        results.append(r)
        print(
            f"{procs:>2} scheduler process(es), {r['slots']} slots every {args.every * 1000:g} ms: "
            f"fire p50 {r['fire_p50_ms']} ms p99 {r['fire_p99_ms']} ms (Redis clock, whole ms); "
            f"start p50 {r['start_p50_ms']} ms p99 {r['start_p99_ms']} ms; "
            f"early {r['early']}, duplicates {r['duplicates']}, skipped {r['skipped']}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default=os.environ.get("TICKR_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--slots", type=int, default=500)
    parser.add_argument("--every", type=float, default=0.05, help="seconds between slots (default 0.05)")
    parser.add_argument("--procs", default="1,3,10")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    a = parser.parse_args()
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    if a.child:
        run(child(a.redis, a.prefix))
    else:
        sys.exit(run(main(a)))
