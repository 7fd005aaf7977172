"""How fast the TUI answers a key while jobs flood through the pool of the same event loop.

A real engine (workers in this process, as `tickr` runs them) drains a stream of no-op jobs
that a producer keeps topping up, while the real app switches panes with keys delivered as the
terminal driver delivers them. Two times per key press: until the pane is the active one (the
app has handled the key), and until the next frame with it has been drawn (what the user sees).
Also reported: a key that acts on the pool (+/-), the jobs/s processed during the measurement,
and how late the event loop ran a 10 ms timer (its lag).

By default the app draws to a real terminal (a pseudo-terminal this script opens and reads), so
every frame is also encoded to escape sequences and written, as in `tickr`; `--driver headless`
uses Textual's test driver, which skips that step.

    python bench/tui_responsiveness.py --redis redis://127.0.0.1:6379/0 [--presses 60] [--rate 1200]
        [--gc tuned|default] [--driver terminal|headless] [--loop uvloop|asyncio]

Without `--rate` a backlog keeps the pool running flat out (the worst case for the UI: every
spare cycle goes to jobs); `--rate 1200` offers a steady 1,200 jobs/s instead.

`--cpu-load process|thread|async|idle` replaces the no-op flood with the CPU-bound load of
bench/blocking_jobs.py: five ~50 ms pure-Python CPU handlers back to back, as process jobs, thread
jobs or a careless blocking `async def` (`idle`: no jobs at all, the baseline).

`--gc tuned` (the default) applies the collector settings `tickr` applies (tickr_app/gc_policy.py);
`--gc default` keeps CPython's, to see what they cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pty
import resource
import statistics
import struct
import sys
import termios
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from textual import events

from tickr_app import Registry, Tickr
from tickr_app.bench import delete_prefix
from tickr_app.tui.app import TickrApp


class Empty(BaseModel):
    pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def succeeded_and_ready(producer: Tickr) -> tuple[int, int]:
    stats = await producer.queue_stats("default")
    return stats.succeeded, stats.ready


async def keep_fed(producer: Tickr, stop: asyncio.Event, backlog: int, limit: int = 400_000) -> None:
    """Keep about `backlog` jobs ready so the pool never runs dry (at most `limit` in all)."""
    submitted = 0
    while not stop.is_set() and submitted < limit:
        if (await succeeded_and_ready(producer))[1] < backlog:
            await producer.submit_many([{"type": "noop", "payload": {}} for _ in range(backlog)])
            submitted += backlog
        await asyncio.sleep(0.02)


async def pace(producer: Tickr, stop: asyncio.Event, rate: float, every: float = 0.02) -> None:
    """Offer `rate` jobs/s, in a batch every `every` seconds, on schedule (a late batch is bigger)."""
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while not stop.is_set():
        due = int((loop.time() - start) * rate) - sent
        if due > 0:
            await producer.submit_many([{"type": "noop", "payload": {}} for _ in range(due)])
            sent += due
        await asyncio.sleep(every)


CPU_CHAINS = 5


async def cpu_chains(producer: Tickr, stop: asyncio.Event, job_type: str) -> None:
    """Five CPU handlers running back to back: each chain submits its next job when the last ends."""

    async def chain() -> None:
        while not stop.is_set():
            j = await producer.submit(job_type, {"ms": 50})
            await producer.wait(j.id, timeout=120)

    await asyncio.gather(*(chain() for _ in range(CPU_CHAINS)))


def register_cpu_jobs(registry: Registry) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the job processes import blockjobs
    import blockjobs

    registry.job("cpu_process", run_in="process", timeout=60)(blockjobs.cpu_process)
    registry.job("cpu_thread", timeout=60)(blockjobs.cpu_thread)
    registry.job("cpu_async", timeout=60)(blockjobs.cpu_async)


async def loop_lag(samples: list[float], stop: asyncio.Event, every: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(every)
        samples.append((loop.time() - start - every) * 1000)


PANES = {"1": "submit", "2": "queues", "3": "workers"}
SIZE = (120, 36)


@dataclass
class Results:
    switched: list[float] = field(default_factory=list)
    drawn: list[float] = field(default_factory=list)
    by_pane: dict[str, list[float]] = field(default_factory=dict)
    scales: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    rate: float = 0.0


@contextlib.asynccontextmanager
async def on_a_terminal(app: TickrApp) -> AsyncIterator[None]:
    """Run `app` with Textual's real driver on a pseudo-terminal of SIZE; a thread drains what it
    writes. fds 0-2 point at the terminal meanwhile; restored after."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))

    def drain() -> None:
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    os.environ["COLUMNS"], os.environ["LINES"] = str(SIZE[0]), str(SIZE[1])  # shutil reads these first
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    for fd in (0, 1, 2):  # the driver reads stdin, writes stderr and sizes itself from stdout
        os.dup2(slave, fd)
    task = asyncio.create_task(app.run_async())
    try:
        while not app.is_running or not app.query("#panes"):
            if task.done():
                task.result()
                raise SystemExit("the app ended before its panes appeared")
            await asyncio.sleep(0.01)
        yield
    finally:
        app.exit()
        await task
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((0, 1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(slave)
        reader.join(timeout=5)  # reads until the terminal closes
        os.close(master)


@contextlib.asynccontextmanager
async def headless(app: TickrApp) -> AsyncIterator[None]:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        yield


async def press(app: TickrApp, key: str, char: str | None = None) -> None:
    app.post_message(events.Key(key, char if char is not None else key))  # as the driver delivers it


async def measure(app: TickrApp, worker: Tickr, producer: Tickr, presses: int, out: Results) -> None:
    def concurrency() -> int:
        state = worker.pool_state()
        assert state is not None
        return state.concurrency

    await press(app, "2")  # the Queues pane, the busiest one, first
    await asyncio.sleep(1.0)  # let the flood reach its pace before measuring
    before = (await succeeded_and_ready(producer))[0]
    t_start = time.perf_counter()
    keys = ["3", "2", "1", "2"]
    for i in range(presses):
        key = keys[i % len(keys)]
        drawn = asyncio.Event()
        t0 = time.perf_counter()
        await press(app, key)
        while app.pane != PANES[key]:
            await asyncio.sleep(0.001)
        out.switched.append((time.perf_counter() - t0) * 1000)
        app.call_after_refresh(drawn.set)
        await drawn.wait()
        out.drawn.append((time.perf_counter() - t0) * 1000)
        out.by_pane.setdefault(PANES[key], []).append(out.drawn[-1])
        await asyncio.sleep(0.05)
    # A light key: scaling the pool from the Workers pane (the effect is the pool's size).
    await press(app, "3")
    while app.pane != "workers":
        await asyncio.sleep(0.001)
    for i in range(presses):
        key, char, want = ("plus", "+", concurrency() + 1) if i % 2 == 0 else ("minus", "-", concurrency() - 1)
        t0 = time.perf_counter()
        await press(app, key, char)
        while concurrency() != want:
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"pressing {char!r} did not scale the pool within 10 s")
            await asyncio.sleep(0.001)
        out.scales.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05)
    after = (await succeeded_and_ready(producer))[0]
    out.rate = (after - before) / (time.perf_counter() - t_start)


async def main(args: argparse.Namespace) -> int:
    registry = Registry()

    @registry.job("noop", max_attempts=1)
    async def noop(payload: Empty) -> None:
        return None

    prefix = f"tickrbench-tui-{uuid.uuid4().hex[:8]}"
    # Short retention: finished records expire by themselves even if this run is killed.
    common: dict[str, Any] = {"prefix": prefix, "registry": registry, "builtin_jobs": False, "retention": 120}
    if args.cpu_load:
        register_cpu_jobs(registry)
    producer = await Tickr(args.redis, workers=0, **common).start()
    worker = await Tickr(args.redis, workers=args.concurrency, **common).start()
    stop = asyncio.Event()
    out = Results()
    try:
        if args.cpu_load in ("process", "thread", "async"):
            job_type = f"cpu_{args.cpu_load}"
            if args.cpu_load == "process":  # start the processes first: startup is paid once
                warm = [await producer.submit(job_type, {"ms": 1}) for _ in range(CPU_CHAINS)]
                for j in warm:
                    await producer.wait(j.id, timeout=60)
            feeder = asyncio.create_task(cpu_chains(producer, stop, job_type))
        elif args.cpu_load == "idle":
            feeder = asyncio.create_task(stop.wait())
        else:
            feeder = asyncio.create_task(pace(producer, stop, args.rate) if args.rate else keep_fed(producer, stop, 5000))
        lagger = asyncio.create_task(loop_lag(out.lags, stop))
        app = TickrApp(worker, tune_gc=args.gc == "tuned")
        async with on_a_terminal(app) if args.driver == "terminal" else headless(app):
            await measure(app, worker, producer, args.presses, out)
        stop.set()
        await asyncio.gather(feeder, lagger, return_exceptions=True)
    finally:
        stop.set()
        await worker.stop(grace_period=2)
        await delete_prefix(args.redis, prefix)
        await producer.stop()
    report(args, out)
    return 0


def report(args: argparse.Namespace, out: Results) -> None:
    offered = f"{args.rate:,.0f} jobs/s offered" if args.rate else "backlog (flat out)"
    if args.cpu_load:
        offered = f"CPU load: {args.cpu_load}" + ("" if args.cpu_load == "idle" else f" ({CPU_CHAINS} x 50 ms handlers)")
    print(
        f"{args.driver} driver, {SIZE[0]}x{SIZE[1]}; loop {type(asyncio.get_running_loop()).__module__}; "
        f"gc {args.gc}; {offered}; concurrency {args.concurrency}; {args.presses} key presses"
    )
    print(f"jobs processed meanwhile: {out.rate:,.0f} jobs/s")

    def line(what: str, values: list[float]) -> str:
        return (
            f"{what}: p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
            f"max {max(values):.1f} ms"
        )

    print(line("key press -> pane active", out.switched))
    panes = ", ".join(f"{pane} p50 {statistics.median(v):.0f}" for pane, v in sorted(out.by_pane.items()))
    print(line("key press -> pane drawn ", out.drawn) + f"  ({panes})")
    print(line("key press -> pool scaled (+/-)", out.scales))
    print(f"event-loop timer lag: p50 {statistics.median(out.lags):.1f} ms, p99 {percentile(out.lags, 0.99):.1f} ms")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned")
    parser.add_argument(
        "--rate", type=float, default=0, help="jobs/s offered (default 0: keep a backlog, the pool runs flat out)"
    )
    parser.add_argument(
        "--cpu-load", choices=("idle", "process", "thread", "async"), default=None,
        help="five ~50 ms CPU handlers back to back instead of the no-op flood (idle: no jobs)",
    )  # fmt: skip
    parser.add_argument("--driver", choices=("terminal", "headless"), default="terminal")
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="uvloop (what `tickr` uses when installed)"
    )
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        sys.exit(uvloop.run(main(args)))
    sys.exit(asyncio.run(main(args)))
