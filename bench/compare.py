"""Tickr against arq and SAQ: the same workloads, the same Redis, the same run.

    pip install -e '.[bench]'          # arq and saq; never a runtime dependency of tickr
    python bench/compare.py --redis redis://127.0.0.1:6379/0

The workload code is ``tickr_app.bench``'s (drain, single enqueue, bulk enqueue, latency at a
fixed rate, delayed-job lateness); this file only adds an adapter per library. Everything runs
in this one process and event loop: each library's workers run in-process next to its
producer, as arq's ``Worker`` and SAQ's ``Worker`` allow.

Isolation: Tickr runs under a fresh random key prefix on the given database and deletes
exactly those keys. arq and SAQ have fixed key names (``arq:*``, ``saq:*``), so each gets its
own Redis database (default 9 and 10 on the same server); the run refuses to start unless
both are empty (DBSIZE 0), and since only this run wrote to them, it empties them between
phases and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tickr_app import bench as tb
from tickr_app.core.errors import TickrError

PEER_JOBS = 2_000
DEFAULT_CONCURRENCY = 10


class Refused(Exception):
    """A reason not to run, for one line on stderr."""


def url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join([q for q in parts.query.split("&") if q and not q.startswith("db=")] + [f"db={db}"])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


async def ensure_empty(redis: Any, db: int, name: str) -> None:
    size = await redis.dbsize()
    if size:
        raise Refused(
            f"Redis database {db} (for {name}) is not empty ({size} keys); pick an empty one with --{name}-db"
        )


# -- arq -------------------------------------------------------------------------------------


async def _arq_noop(ctx: dict[str, Any], data: dict[str, Any] | None = None) -> None:
    return None


async def _arq_lat(ctx: dict[str, Any], data: dict[str, Any]) -> None:
    tb.record_latency(data["t"])


async def _arq_late(ctx: dict[str, Any], data: dict[str, Any]) -> None:
    tb.record_lateness(data["due_ms"])


class ArqAdapter:
    """arq: ``ArqRedis.enqueue_job`` to submit, an in-process ``Worker`` (no signal handlers)."""

    def __init__(self, url: str, db: int, *, poll_delay: float | None = None, label: str = "arq") -> None:
        self.url = url_with_db(url, db)
        self.db = db
        self.poll_delay = poll_delay
        self.name = label
        self.pool: Any = None
        self.worker: Any = None
        self.worker_task: asyncio.Task[None] | None = None
        self._done_before = 0

    async def open(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.settings = RedisSettings.from_dsn(self.url)
        self.settings.conn_retries = 0
        self.pool = await create_pool(self.settings)
        await ensure_empty(self.pool, self.db, "arq")

    async def reset(self, phase: str) -> None:
        await self.stop_workers()
        await self.pool.flushdb()  # our own database, checked empty at the start

    async def submit(self, kind: str, data: dict[str, Any], run_at: float | None = None) -> None:
        if run_at is None:
            await self.pool.enqueue_job(kind, data)
        else:
            await self.pool.enqueue_job(kind, data, _defer_until=datetime.fromtimestamp(run_at, tz=timezone.utc))

    async def submit_bulk(self, kind: str, datas: Sequence[dict[str, Any]]) -> None:
        # arq has no batch enqueue: the closest is many concurrent enqueue_job calls.
        await asyncio.gather(*(self.pool.enqueue_job(kind, d) for d in datas))

    async def start_workers(self, concurrency: int) -> None:
        from arq import Worker, func
        from arq.connections import create_pool

        await self.stop_workers()
        options: dict[str, Any] = {}
        if self.poll_delay is not None:
            options["poll_delay"] = self.poll_delay
        worker_pool = await create_pool(self.settings)
        self.worker = Worker(
            functions=[func(_arq_noop, name="noop"), func(_arq_lat, name="lat"), func(_arq_late, name="late")],
            redis_pool=worker_pool,
            max_jobs=concurrency,
            handle_signals=False,
            **options,
        )
        self.worker_task = asyncio.create_task(self.worker.async_run())

    async def stop_workers(self) -> None:
        if self.worker is None:
            return
        worker, task = self.worker, self.worker_task
        self.worker, self.worker_task = None, None
        self._done_before += worker.jobs_complete
        try:
            await worker.close()
        except asyncio.CancelledError:
            # close() gathers the job tasks it has just cancelled; only ours may propagate.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def completed(self) -> int:
        return self._done_before + (self.worker.jobs_complete if self.worker is not None else 0)

    async def close(self) -> None:
        await self.stop_workers()
        if self.pool is not None:
            try:
                await self.pool.flushdb()
            finally:
                await self.pool.aclose()
                self.pool = None


# -- SAQ -------------------------------------------------------------------------------------


async def _saq_noop(ctx: dict[str, Any], **kwargs: Any) -> None:
    return None


async def _saq_lat(ctx: dict[str, Any], *, t: float) -> None:
    tb.record_latency(t)


async def _saq_late(ctx: dict[str, Any], *, due_ms: int) -> None:
    tb.record_lateness(due_ms)


class SaqAdapter:
    """SAQ: ``Queue.enqueue`` to submit, an in-process ``Worker`` on the same queue object."""

    name = "saq"

    def __init__(self, url: str, db: int) -> None:
        self.url = url_with_db(url, db)
        self.db = db
        self.queue: Any = None
        self.worker: Any = None
        self.worker_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        from saq import Queue

        self.queue = Queue.from_url(self.url)
        await ensure_empty(self.queue.redis, self.db, "saq")

    async def reset(self, phase: str) -> None:
        await self.stop_workers()
        await self.queue.redis.flushdb()  # our own database, checked empty at the start

    async def submit(self, kind: str, data: dict[str, Any], run_at: float | None = None) -> None:
        if run_at is None:
            await self.queue.enqueue(kind, **data)
        else:
            await self.queue.enqueue(kind, scheduled=run_at, **data)

    async def submit_bulk(self, kind: str, datas: Sequence[dict[str, Any]]) -> None:
        # SAQ has no batch enqueue: concurrent enqueue calls (throttled by max_concurrent_ops).
        await asyncio.gather(*(self.queue.enqueue(kind, **d) for d in datas))

    async def start_workers(self, concurrency: int) -> None:
        from saq import Worker

        await self.stop_workers()
        worker = Worker(
            self.queue,
            functions=[("noop", _saq_noop), ("lat", _saq_lat), ("late", _saq_late)],
            concurrency=concurrency,
        )
        worker.SIGNALS = []  # in-process: leave the host's signal handling alone
        self.worker = worker
        self.worker_task = asyncio.create_task(worker.start())

    async def stop_workers(self) -> None:
        if self.worker is None:
            return
        worker, task = self.worker, self.worker_task
        self.worker, self.worker_task = None, None
        await worker.stop()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def completed(self) -> int:
        return int(self.queue.complete)

    async def close(self) -> None:
        await self.stop_workers()
        if self.queue is not None:
            try:
                await self.queue.redis.flushdb()
            finally:
                await self.queue.disconnect()
                self.queue = None


# -- the run ---------------------------------------------------------------------------------


async def run_suite(
    adapter: Any, *, jobs: int, enqueue_jobs: int, concurrency: int, skip: set[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "drain" not in skip:
        out["drain"] = await tb.workload_drain(adapter, jobs, concurrency, timeout=max(120.0, jobs / 20))
    if "enqueue" not in skip:
        out["enqueue"] = await tb.workload_enqueue(adapter, enqueue_jobs)
    if "bulk" not in skip:
        out["bulk"] = await tb.workload_bulk(adapter, jobs)
    if "latency" not in skip:
        out["latency"] = await tb.workload_latency(adapter, concurrency)
    if "delayed" not in skip:
        out["delayed"] = await tb.workload_delayed(adapter, concurrency)
    await adapter.reset("done")
    return out


METRICS: list[tuple[str, str, str, bool]] = [
    # (phase, key, label, higher is better)
    ("drain", "jobs_per_s", "drain jobs/s", True),
    ("enqueue", "jobs_per_s", "enqueue jobs/s (1 awaited)", True),
    ("bulk", "jobs_per_s", "bulk enqueue jobs/s", True),
    ("latency", "p50_ms", "latency p50 ms", False),
    ("latency", "p99_ms", "latency p99 ms", False),
    ("delayed", "p50_ms", "delayed lateness p50 ms", False),
    ("delayed", "p99_ms", "delayed lateness p99 ms", False),
    ("delayed", "max_ms", "delayed lateness max ms", False),
    ("delayed", "early", "delayed early (count)", False),
]


def median_results(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric field over repeated runs of one library."""
    if len(runs) == 1:
        return runs[0]
    merged: dict[str, Any] = {}
    for phase in runs[0]:
        merged[phase] = {}
        for key, value in runs[0][phase].items():
            values = [r[phase].get(key) for r in runs if phase in r]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and all(
                isinstance(v, (int, float)) for v in values
            ):
                merged[phase][key] = round(statistics.median(values), 3)
                merged[phase][key + "_all"] = values
            else:
                merged[phase][key] = value
    return merged


def _fmt(value: Any, key: str) -> str:
    if value is None:
        return "-"
    if key == "jobs_per_s":
        return f"{value:,.0f}"
    if key == "early":
        return f"{int(value)}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def render(report: dict[str, Any]) -> str:
    libs = list(report["results"])
    tickr = report["results"].get("tickr", {})
    peers = [lib for lib in libs if lib != "tickr"]
    header = ["metric", *libs, *(f"tickr vs {p}" for p in peers)]
    rows = [header]
    for phase, key, label, higher in METRICS:
        cells = [label]
        for lib in libs:
            cells.append(_fmt(report["results"][lib].get(phase, {}).get(key), key))
        t = tickr.get(phase, {}).get(key)
        for p in peers:
            v = report["results"][p].get(phase, {}).get(key)
            if t is None or v is None or key == "early":
                cells.append("")
            elif higher:
                cells.append(f"{t / v:.1f}× faster" if v else "")
            else:
                cells.append(f"{v / t:.0f}× lower" if t > 0 and v / t >= 10 else (f"{v / t:.1f}× lower" if t > 0 else ""))
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    m = report["machine"]
    lines.append(
        f"Tickr vs peers — Redis {report['redis_version']} at {report['redis']}; {m['cpus']} × {m['cpu']}, "
        f"Python {m['python']}, loop {report['loop']}"
    )
    lines.append(
        f"concurrency {report['concurrency']} for every library; drain/enqueue jobs: tickr {report['tickr_jobs']:,}, "
        f"peers {report['peer_jobs']:,}; latency {tb.LATENCY_RATE:g}/s for {tb.LATENCY_SECONDS:g} s; "
        f"delayed {tb.DELAYED_JOBS} jobs due {tb.DELAYED_MIN_S:g}-{tb.DELAYED_MAX_S:g} s; "
        f"repeats {report['repeat']} (medians)"
    )
    lines.append("peers' 'bulk' = 1000 concurrent enqueue calls (neither has a batch enqueue); tickr's = submit_many")
    lines.append(f"versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}")
    lines.append("")
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(r)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


async def main_async(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from tickr_app.core.connection import mask_url

    libs = [x.strip() for x in args.libs.split(",") if x.strip()]
    known = {"arq", "arq-10ms", "saq", "tickr"}
    unknown = [x for x in libs if x not in known]
    if unknown:
        print(f"compare.py: unknown library {', '.join(unknown)} (choose from {', '.join(sorted(known))})", file=sys.stderr)
        return 2
    missing = [m for m in ("arq", "saq") if any(lib.startswith(m) for lib in libs) and _version(m) == "not installed"]
    if missing:
        print(f"compare.py: {' and '.join(missing)} not installed; pip install -e '.[bench]'", file=sys.stderr)
        return 1
    skip = set(args.skip or [])
    report: dict[str, Any] = {
        "redis": mask_url(args.redis),
        "machine": tb.machine_info(),
        "loop": tb.loop_name(),
        "concurrency": args.concurrency,
        "tickr_jobs": args.jobs,
        "peer_jobs": args.peer_jobs,
        "repeat": args.repeat,
        "versions": {d: _version(d) for d in ("tickr", "arq", "saq", "redis", "hiredis")},
        "command": "python " + " ".join(sys.argv),
        "results": {},
    }
    order = [lib for lib in ("arq", "arq-10ms", "saq", "tickr") if lib in libs]
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in order}
    try:
        for rep in range(args.repeat):
            for lib in order:
                if lib == "tickr":
                    prefix = f"tickrbench-{secrets.token_hex(4)}"
                    adapter: Any = tb.TickrAdapter(args.redis, prefix)
                    opened = False
                    try:
                        await adapter.open()
                        opened = True
                        if "redis_version" not in report:
                            report["redis_version"] = (await adapter.redis_info()).get("redis_version", "?")
                        runs[lib].append(
                            await run_suite(
                                adapter,
                                jobs=args.jobs,
                                enqueue_jobs=max(1, args.jobs // 4),
                                concurrency=args.concurrency,
                                skip=skip,
                            )
                        )
                    finally:
                        await adapter.close()
                        if opened and adapter.redis_url:
                            await tb.delete_prefix(adapter.redis_url, prefix)
                        await adapter.close_anchor()
                    continue
                if lib == "saq":
                    adapter = SaqAdapter(args.redis, args.saq_db)
                else:
                    adapter = ArqAdapter(
                        args.redis, args.arq_db, poll_delay=0.01 if lib == "arq-10ms" else None, label=lib
                    )
                opened = False
                try:
                    await adapter.open()
                    opened = True
                    runs[lib].append(
                        await run_suite(
                            adapter,
                            jobs=args.peer_jobs,
                            enqueue_jobs=args.peer_jobs,
                            concurrency=args.concurrency,
                            skip=skip,
                        )
                    )
                finally:
                    if opened:
                        await adapter.close()
                    elif getattr(adapter, "pool", None) is not None:
                        await adapter.pool.aclose()
                    elif getattr(adapter, "queue", None) is not None:
                        await adapter.queue.disconnect()
    except Refused as exc:
        print(f"compare.py: {exc}", file=sys.stderr)
        return 1
    except (OSError, RedisError) as exc:
        print(f"compare.py: Redis is unavailable at {mask_url(args.redis)}: {exc}", file=sys.stderr)
        return 1
    except TickrError as exc:
        print(f"compare.py: {exc}", file=sys.stderr)
        return 1
    report["results"] = {lib: median_results(r) for lib, r in runs.items() if r}
    report.setdefault("redis_version", "?")
    if args.save:
        with open(args.save, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
    if args.json:
        print(json.dumps(report))
    else:
        print(render(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compare.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", metavar="URL", help="Redis server (tickr's db)")
    parser.add_argument("--arq-db", type=int, default=9, metavar="N", help="empty Redis db for arq (default 9)")
    parser.add_argument("--saq-db", type=int, default=10, metavar="N", help="empty Redis db for SAQ (default 10)")
    parser.add_argument("--libs", default="arq,arq-10ms,saq,tickr", help="comma list (default: all)")
    parser.add_argument("--jobs", type=tb._positive_int, default=tb.DEFAULT_JOBS, metavar="N", help="tickr drain/enqueue jobs")
    parser.add_argument("--peer-jobs", type=tb._positive_int, default=PEER_JOBS, metavar="N", help="arq/SAQ drain/enqueue jobs")
    parser.add_argument("--concurrency", type=tb._positive_int, default=DEFAULT_CONCURRENCY, metavar="N")
    parser.add_argument("--repeat", type=tb._positive_int, default=1, metavar="N", help="repeat and report medians")
    parser.add_argument("--skip", type=tb._phase_list, default=[], metavar="LIST")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--save", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--render", metavar="FILE", help="print the table of a saved report and exit")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    args = parser.parse_args(argv)
    if args.render:
        with open(args.render, encoding="utf-8") as fh:
            print(render(json.load(fh)))
        return 0
    runner: Any = asyncio.run
    if args.loop in ("auto", "uvloop"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            if args.loop == "uvloop":
                print("compare.py: uvloop is not installed", file=sys.stderr)
                return 1
    try:
        return runner(main_async(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"(compare.py took {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    raise SystemExit(code)
