"""How fast the TUI answers a key while jobs flood through the pool of the same event loop.

A real engine (workers in this process, as `tickr` runs them) drains a stream of no-op jobs
that a producer keeps topping up, while the real app, driven by Pilot, switches panes: the
time from the key press until the pane is active *and* the screen has been refreshed
(`pilot.pause()` waits for the app to go idle) is the key-to-effect latency. Also reported:
the jobs/s processed during the measurement and how late the event loop ran a timer (its lag).

    python bench/tui_responsiveness.py --redis redis://127.0.0.1:6379/0 [--presses 60] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

from pydantic import BaseModel
from textual import events

from tickr_app import Registry, Tickr
from tickr_app.tui.app import TickrApp


class Empty(BaseModel):
    pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def keep_fed(producer: Tickr, worker: Tickr, stop: asyncio.Event, backlog: int, limit: int = 200_000) -> None:
    """Keep about `backlog` jobs ready so the pool never runs dry (at most `limit` in all)."""
    submitted = 0
    while not stop.is_set() and submitted < limit:
        stats = await producer.broker.queue_stats("default")
        if stats.ready < backlog:
            await producer.submit_many([{"type": "noop", "payload": {}} for _ in range(backlog)])
            submitted += backlog
        await asyncio.sleep(0.02)


async def loop_lag(samples: list[float], stop: asyncio.Event, every: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(every)
        samples.append((loop.time() - start - every) * 1000)


async def main(args: argparse.Namespace) -> int:
    registry = Registry()

    @registry.job("noop", max_attempts=1)
    async def noop(payload: Empty) -> None:
        return None

    prefix = f"tickrbench-tui-{uuid.uuid4().hex[:8]}"
    # Short retention: finished records expire by themselves even if this run is killed.
    common: dict[str, Any] = {"prefix": prefix, "registry": registry, "builtin_jobs": False, "retention": 120}
    producer = await Tickr(args.redis, workers=0, **common).start()
    worker = await Tickr(args.redis, workers=args.concurrency, **common).start()
    stop = asyncio.Event()
    lags: list[float] = []
    presses: list[float] = []
    scales: list[float] = []
    try:
        feeder = asyncio.create_task(keep_fed(producer, worker, stop, 5000))
        lagger = asyncio.create_task(loop_lag(lags, stop))
        app = TickrApp(worker)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            await pilot.press("2")  # the Queues pane, the busiest one, first
            await asyncio.sleep(1.0)  # let the flood reach its pace before measuring
            before = (await producer.broker.queue_stats("default")).succeeded
            t_start = time.perf_counter()
            panes = {"1": "submit", "2": "queues", "3": "workers"}
            keys = ["3", "2", "1", "2"]
            for i in range(args.presses):
                key = keys[i % len(keys)]
                t0 = time.perf_counter()
                app.post_message(events.Key(key, key))  # as the terminal driver delivers it
                while app.query_one("#panes").active != panes[key]:
                    await asyncio.sleep(0.001)
                presses.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.05)
            # A light key: scaling the pool from the Workers pane (the effect is the pool's size).
            await pilot.press("3")
            while app.query_one("#panes").active != "workers":
                await asyncio.sleep(0.001)
            for i in range(args.presses):
                key, char, want = (
                    ("plus", "+", worker.pool.concurrency + 1)
                    if i % 2 == 0
                    else ("minus", "-", worker.pool.concurrency - 1)
                )
                t0 = time.perf_counter()
                app.post_message(events.Key(key, char))
                while worker.pool.concurrency != want:
                    if time.perf_counter() - t0 > 10:
                        raise SystemExit(f"pressing {char!r} did not scale the pool within 10 s")
                    await asyncio.sleep(0.001)
                scales.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t_start
            after = (await producer.broker.queue_stats("default")).succeeded
        stop.set()
        await asyncio.gather(feeder, lagger, return_exceptions=True)
    finally:
        stop.set()
        await worker.stop(grace_period=2)
        redis = producer.broker.redis
        keys_left = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys_left), 1000):
            await redis.delete(*keys_left[i : i + 1000])
        await producer.stop()
    rate = (after - before) / elapsed
    print(f"loop: {type(asyncio.get_running_loop()).__module__}; concurrency {args.concurrency}; {args.presses} key presses")
    print(f"jobs processed meanwhile: {rate:,.0f} jobs/s")
    print(
        f"key press -> pane switched: p50 {statistics.median(presses):.1f} ms, "
        f"p95 {percentile(presses, 0.95):.1f} ms, max {max(presses):.1f} ms"
    )
    print(
        f"key press -> pool scaled (+/-): p50 {statistics.median(scales):.1f} ms, "
        f"p95 {percentile(scales, 0.95):.1f} ms, max {max(scales):.1f} ms"
    )
    print(f"event-loop timer lag: p50 {statistics.median(lags):.1f} ms, p99 {percentile(lags, 0.99):.1f} ms")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=50)
    sys.exit(asyncio.run(main(parser.parse_args())))
