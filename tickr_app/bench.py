"""``tickr bench``: throughput and latency of the engine on a real Redis.

Workloads (all no-op jobs, one process, the public ``Tickr`` engine):

- **drain**: N jobs are enqueued first with ``submit_many``; then an engine with
  ``--concurrency`` workers starts and the clock runs until Redis counts N succeeded jobs.
- **enqueue**: N/4 sequential ``await tickr.submit(...)``, one at a time.
- **bulk**: N jobs with ``submit_many`` in chunks of 1000.
- **latency**: workers running, jobs submitted open-loop at a fixed rate (200/s for 5 s);
  enqueue-to-start time measured in-process with ``perf_counter``.
- **delayed**: 500 jobs due 0.1-2 s from now; lateness = handler start - due time
  (the job's own due time, wall clock, same host); early jobs are counted (must be 0).
- **http**: ``POST /api/v1/jobs`` against the in-process aiohttp API from keep-alive clients
  driven by a separate process (so the driver does not share the server's event loop).

Every run works under its own fresh key prefix and deletes exactly those keys afterwards
(SCAN MATCH + UNLINK, never FLUSH). The workload functions are generic over a small adapter
interface so ``bench/compare.py`` runs the very same code against arq and SAQ.

This module must not import textual; the HTTP driver uses aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import resource
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from .bench_schedules import sched, workload_schedules

PHASES = ("drain", "enqueue", "bulk", "latency", "delayed", "schedules", "http")
DEFAULT_JOBS = 20_000
DEFAULT_CONCURRENCY = 50
LATENCY_RATE = 200.0
LATENCY_SECONDS = 5.0
DELAYED_JOBS = 500
DELAYED_MIN_S = 0.1
DELAYED_MAX_S = 2.0
HTTP_CLIENTS = 24
HTTP_SECONDS = 5.0
HTTP_WARMUP_S = 0.5
BULK_CHUNK = 1000
POLL_S = 0.005

TARGETS = {
    "drain": "≥ 10,000 jobs/s",
    "enqueue": "≥ 6,000 jobs/s",
    "bulk": "≥ 50,000 jobs/s",
    "latency": "p50 ≤ 1 ms, p99 ≤ 2 ms",
    "delayed": "p50 ≤ 1 ms, p99 ≤ 2 ms, 0 early",
    "schedules": "as delayed; 0 duplicates, 0 skipped",
    "http": "≥ 3,000 req/s, 0 errors",
}


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


# -- progress on stderr ----------------------------------------------------------------------


class Progress:
    """One line per phase on stderr with a text bar; redrawn in place on a terminal."""

    WIDTH = 24

    def __init__(self, label: str, total: float, unit: str = "jobs", *, stream: Any = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._last = 0.0
        if not self.tty:
            self._write(f"{self.label:<22} ...\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _bar(self, done: float) -> str:
        frac = min(1.0, max(0.0, done / self.total))
        filled = int(frac * self.WIDTH)
        return "[" + "#" * filled + "." * (self.WIDTH - filled) + "]"

    def update(self, done: float, note: str = "") -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        total = f"{int(self.total):,}" if self.unit else f"{self.total:g}"
        count = f"{int(done):,}/{total} {self.unit}".strip()
        self._write(f"\r{self.label:<22} {self._bar(done)} {count} {note}\x1b[K")

    def finish(self, summary: str) -> None:
        elapsed = time.perf_counter() - self.started
        prefix = "\r" if self.tty else ""
        end = "\x1b[K\n" if self.tty else "\n"
        self._write(f"{prefix}{self.label:<22} {self._bar(self.total)} {summary} ({elapsed:.1f} s){end}")


class _NullProgress(Progress):
    def __init__(self, *a: Any, **k: Any) -> None:  # noqa: D401 - silent variant
        self.total = 1

    def update(self, done: float, note: str = "") -> None:
        pass

    def finish(self, summary: str) -> None:
        pass


ProgressFactory = Callable[..., Progress]


# -- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rss_mb() -> float:
    """Resident set size of this process now, in MB (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


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


# -- Tickr ----------------------------------------------------------------------------------


class _Empty(BaseModel):
    pass


class _Stamp(BaseModel):
    t: float


class _Due(BaseModel):
    due_ms: int


async def _noop(payload: _Empty) -> None:
    return None


async def _lat(payload: _Stamp) -> None:
    record_latency(payload.t)


async def _late(payload: _Due) -> None:
    record_lateness(payload.due_ms)


def bench_registry() -> Any:
    from .core.registry import Registry

    registry = Registry()
    registry.job("noop")(_noop)
    registry.job("lat")(_lat)
    registry.job("late")(_late)
    registry.job("sched")(sched)
    return registry


class TickrAdapter:
    """Tickr through its public engine: a producer-only ``Tickr(workers=0)`` submits, a second
    ``Tickr(workers=N)`` in the same event loop runs the pool and the scheduler."""

    name = "tickr"

    def __init__(self, redis_url: str | None, base_prefix: str) -> None:
        self.redis_url = redis_url
        self.base_prefix = base_prefix
        self.registry = bench_registry()
        self.prefix = f"{base_prefix}:setup"
        self.producer: Any = None
        self.worker: Any = None
        self._anchor: Any = None

    def _engine(self, workers: int, prefix: str | None = None) -> Any:
        from . import Tickr

        return Tickr(
            self.redis_url,
            workers=workers,
            prefix=prefix or self.prefix,
            registry=self.registry,
            builtin_jobs=False,
            retention=600,  # a killed run's records expire by themselves
        )

    async def open(self) -> str:
        """Connect (starting the embedded Redis when no URL was given); returns the URL."""
        if self.redis_url is None:
            # The engine's default: an embedded Redis. This engine owns it for the whole run.
            self._anchor = self._engine(0, f"{self.base_prefix}:anchor")
            await self._anchor.start()
            self.redis_url = self._anchor.redis_url
        self.producer = self._engine(0)
        await self.producer.start()
        return self.redis_url or ""

    async def redis_info(self) -> dict[str, Any]:
        return await self.producer.server_info("server")

    async def reset(self, phase: str) -> None:
        await self.stop_workers()
        if self.producer is not None:
            await self.producer.stop()
        self.prefix = f"{self.base_prefix}:{phase}"
        self.producer = self._engine(0)
        await self.producer.start()

    async def submit(self, kind: str, data: dict[str, Any], run_at: float | None = None) -> None:
        await self.producer.submit(kind, data, run_at=run_at)

    async def submit_bulk(self, kind: str, datas: Sequence[dict[str, Any]]) -> None:
        from . import JobRequest

        await self.producer.submit_many([JobRequest(kind, d) for d in datas])

    async def start_workers(self, concurrency: int) -> None:
        await self.stop_workers()
        self.worker = self._engine(concurrency)
        await self.worker.start()

    async def stop_workers(self) -> None:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            await worker.stop(grace_period=5.0)

    async def completed(self) -> int:
        stats = await self.producer.stats()
        return sum(s.succeeded for s in stats.values())

    async def close(self) -> None:
        await self.stop_workers()
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await producer.stop()

    async def close_anchor(self) -> None:
        if self._anchor is not None:
            anchor, self._anchor = self._anchor, None
            await anchor.stop()


# -- HTTP ----------------------------------------------------------------------------------


HTTP_DRIVER_CODE = "from tickr_app.bench import _http_driver_main; _http_driver_main()"


def _http_driver_main() -> None:
    """Entry point of the separate HTTP load process: argv = url clients seconds warmup."""
    url, clients, seconds, warmup = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    try:
        import uvloop

        runner: Any = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner = asyncio.run
        loop_name = "asyncio"
    result = runner(_http_drive(url, clients, seconds, warmup))
    result["driver_loop"] = loop_name
    result["driver_pid"] = os.getpid()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


async def _http_drive(base_url: str, clients: int, seconds: float, warmup: float) -> dict[str, Any]:
    import aiohttp

    endpoint = base_url.rstrip("/") + "/api/v1/jobs"
    body = b'{"type":"noop","payload":{}}'
    headers = {"Content-Type": "application/json"}
    counts = {"ok": 0, "errors": 0, "warmup_ok": 0}
    statuses: dict[str, int] = {}
    lat: list[float] = []
    clock = time.perf_counter  # uvloop's loop.time() only has millisecond resolution
    t_start = clock()
    t_measure = t_start + warmup
    t_end = t_measure + seconds
    connector = aiohttp.TCPConnector(limit=clients, force_close=False, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=30)

    async def client(session: aiohttp.ClientSession) -> None:
        while True:
            t0 = clock()
            if t0 >= t_end:
                return
            try:
                async with session.post(endpoint, data=body, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status == 202
                    if not ok:
                        statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                ok = False
                name = type(exc).__name__
                statuses[name] = statuses.get(name, 0) + 1
            t1 = clock()
            if t0 < t_measure:
                if ok:
                    counts["warmup_ok"] += 1
                continue
            if ok:
                counts["ok"] += 1
                lat.append(t1 - t0)
            else:
                counts["errors"] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    elapsed = clock() - t_measure
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, Any] = {
        "driver_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "clients": clients,
        "seconds": round(elapsed, 3),
        "requests": counts["ok"] + counts["errors"],
        "ok": counts["ok"],
        "errors": counts["errors"],
        "warmup_ok": counts["warmup_ok"],
        "req_per_s": round(counts["ok"] / elapsed, 1) if elapsed > 0 else 0.0,
        "error_kinds": statuses,
    }
    if lat:
        ms = [x * 1000 for x in lat]
        out["p50_ms"] = round(percentile(ms, 50), 3)
        out["p99_ms"] = round(percentile(ms, 99), 3)
    return out


async def workload_http(
    adapter: TickrAdapter,
    clients: int = HTTP_CLIENTS,
    seconds: float = HTTP_SECONDS,
    progress: ProgressFactory = Progress,
) -> dict[str, Any]:
    """POST /api/v1/jobs on the in-process API, load from a separate process."""
    try:
        from .api import start_api  # type: ignore[attr-defined]
    except Exception as exc:  # not built yet, or mid-edit: skip with a note, never fail the run
        return {"skipped": "tickr_app.api.start_api is not available", "detail": f"{type(exc).__name__}: {exc}"}
    await adapter.reset("http")
    server = await start_api(adapter.producer, host="127.0.0.1", port=0, token=None)
    try:
        bar = progress("tickr http", HTTP_WARMUP_S + seconds, unit="s")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HTTP_DRIVER_CODE,
            str(server.url),
            str(clients),
            str(seconds),
            str(HTTP_WARMUP_S),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        communicate = asyncio.ensure_future(proc.communicate())
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        while not communicate.done():
            bar.update(min(time.perf_counter() - t0, HTTP_WARMUP_S + seconds))
            await asyncio.wait({communicate}, timeout=0.1)
        stdout, stderr = communicate.result()
        server_cpu = time.process_time() - cpu0
        if proc.returncode != 0 or not stdout.strip():
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            bar.finish("driver failed")
            return {"skipped": f"HTTP driver process failed (exit {proc.returncode})", "detail": tail[0]}
        result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        stats = await adapter.producer.stats()
        result["enqueued_in_redis"] = sum(s.enqueued for s in stats.values())
        result["server_cpu_s"] = round(server_cpu, 2)
        result["driver"] = "separate process (asyncio subprocess), aiohttp keep-alive clients"
        result["server"] = "in-process aiohttp API on the bench's event loop, engine workers=0"
        bar.finish(f"{result['req_per_s']:,.0f} req/s, {result['errors']} errors")
        return result
    finally:
        await server.stop()


# -- run ----------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _phase_list(text: str) -> list[str]:
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown workload {', '.join(unknown)} (choose from {', '.join(PHASES)})")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add bench flags to a parser that already has ``--redis`` and ``--prefix``."""
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"jobs for the drain and bulk workloads; N/4 for single submits (default {DEFAULT_JOBS:,})",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"workers in the pool (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    parser.add_argument(
        "--skip",
        type=_phase_list,
        default=[],
        metavar="LIST",
        help="comma list of workloads to skip: " + ",".join(PHASES),
    )


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


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` (SCAN + UNLINK; never FLUSH)."""
    from .core.connection import connect

    if not prefix:
        return 0
    redis = connect(redis_url)
    deleted = 0
    try:
        batch: list[str] = []
        async for key in redis.scan_iter(match=f"{_glob_escape(prefix)}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await redis.unlink(*batch)
                batch.clear()
        if batch:
            deleted += await redis.unlink(*batch)
    finally:
        await redis.aclose()
    return deleted


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


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
        else:  # http
            label = f"http POST /api/v1/jobs ({r['clients']} clients)"
            text = f"{_fmt_rate(r['req_per_s'], 'req/s')}  errors {r['errors']}"
            if "p50_ms" in r:
                text += f"  p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms"
        rows.append((label, text, TARGETS[phase]))
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


async def run(args: argparse.Namespace) -> int:
    """Run the selected workloads; print a table (or one JSON object with ``--json``)."""
    from redis.exceptions import RedisError

    from . import __version__
    from .core.connection import mask_text, mask_url
    from .core.errors import TickrError

    jobs = int(getattr(args, "jobs", DEFAULT_JOBS) or DEFAULT_JOBS)
    concurrency = int(getattr(args, "concurrency", DEFAULT_CONCURRENCY) or DEFAULT_CONCURRENCY)
    as_json = bool(getattr(args, "json", False))
    skip = set(getattr(args, "skip", None) or [])
    user_prefix = getattr(args, "prefix", None)
    run_id = secrets.token_hex(4)
    # Always a fresh sub-prefix, so deleting "<prefix>:*" at the end only removes our keys
    # even when --prefix names a live Tickr's prefix.
    prefix = f"{user_prefix}:bench-{run_id}" if user_prefix else f"tickrbench-{run_id}"
    adapter = TickrAdapter(getattr(args, "redis", None), prefix)
    report: dict[str, Any] = {
        "tickr_version": __version__,
        "jobs": jobs,
        "concurrency": concurrency,
        "prefix": prefix,
        "loop": loop_name(),
        "machine": machine_info(),
        "results": {},
    }
    opened = False
    try:
        try:
            url = await adapter.open()
            info = await adapter.redis_info()
            opened = True
        except TickrError as exc:
            print(f"tickr bench: {exc}", file=sys.stderr)
            return 1
        except (OSError, RedisError) as exc:
            print(f"tickr bench: cannot reach Redis: {mask_text(str(exc))}", file=sys.stderr)
            return 1
        except Exception as exc:  # e.g. a broken embedded Redis: one line, not a traceback
            print(f"tickr bench: could not connect: {type(exc).__name__}: {mask_text(str(exc))}", file=sys.stderr)
            return 1
        report["redis"] = mask_url(url)
        report["redis_version"] = info.get("redis_version", "?")
        report["command"] = "tickr bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else " ".join(sys.argv)
        results = report["results"]
        phases: list[tuple[str, Callable[[], Any]]] = [
            ("drain", lambda: workload_drain(adapter, jobs, concurrency)),
            ("enqueue", lambda: workload_enqueue(adapter, max(1, jobs // 4))),
            ("bulk", lambda: workload_bulk(adapter, jobs)),
            ("latency", lambda: workload_latency(adapter, concurrency)),
            ("delayed", lambda: workload_delayed(adapter, concurrency)),
            ("schedules", lambda: workload_schedules(adapter, concurrency)),
            ("http", lambda: workload_http(adapter)),
        ]
        for name, make in phases:
            if name in skip:
                results[name] = {"skipped": "--skip"}
                continue
            try:
                results[name] = await make()
            except TickrError as exc:
                print(f"tickr bench: {name}: {exc}", file=sys.stderr)
                results[name] = {"error": str(exc)}
                if exc.code == "redis_unavailable":
                    return 1
            except (OSError, RedisError) as exc:
                print(f"tickr bench: {name}: Redis is unavailable: {mask_text(str(exc))}", file=sys.stderr)
                results[name] = {"error": str(exc)}
                return 1
        end_rss = rss_mb()
        report["memory"] = {"end_rss_mb": round(end_rss, 1), "peak_rss_mb": round(max(end_rss, peak_rss_mb()), 1)}
    finally:
        try:
            await adapter.close()
            if opened and adapter.redis_url:
                report["deleted_keys"] = await delete_prefix(adapter.redis_url, prefix)
        except Exception as exc:  # cleanup must not mask the result; say what is left
            print(f"tickr bench: could not delete keys under {prefix}:* ({exc})", file=sys.stderr)
        await adapter.close_anchor()
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(render_table(report) + "\n")
    sys.stdout.flush()
    return 0
