"""Sustained HTTP submit load against a `tickr serve` subprocess.

    python bench/load_http.py --redis redis://127.0.0.1:6379/0 --duration 20 --clients 64

Many concurrent aiohttp keep-alive clients (one session and one connection each) POST jobs to
/api/v1/jobs on loopback for a fixed duration, bounded by --max-requests. While they do, the
server's RSS is sampled from /proc/<pid>/status. At the end every accepted (202) job must have
been processed (status succeeded), and no request may have got a 5xx. Prints throughput,
latency percentiles, the RSS series summary and the drain time. The server runs `record` jobs
of tests/procjobs.py on its own key prefix, which is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@dataclass
class LoadResult:
    duration_s: float
    clients: int
    requests: int
    accepted: int
    statuses: dict[str, int]
    errors: int
    """Transport errors (connection refused/reset, timeouts): must be 0."""
    server_errors: int
    """5xx answers: must be 0."""
    rps: float
    latency_ms: dict[str, float]
    processed: int
    drain_s: float
    rss_mb: dict[str, float]
    rss_samples: int
    server_workers: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lat = self.latency_ms
        rss = self.rss_mb
        return (
            f"load: {self.clients} keep-alive clients for {self.duration_s:.1f} s against `tickr serve --workers {self.server_workers}`\n"
            f"  requests        {self.requests} ({self.rps:.0f}/s); statuses {self.statuses}\n"
            f"  5xx             {self.server_errors}; transport errors {self.errors}\n"
            f"  latency ms      p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  max {lat['max']:.1f}\n"
            f"  processed       {self.processed}/{self.accepted} accepted jobs succeeded, "
            f"drained {self.drain_s:.1f} s after the load stopped\n"
            f"  server RSS MB   start {rss['start']:.1f}, after warm-up {rss['warm']:.1f}, max {rss['max']:.1f}, "
            f"end {rss['end']:.1f}; growth over the 2nd half {rss['second_half_growth']:+.1f} MB "
            f"({self.rss_samples} samples)\n"
            f"  result          {'OK' if self.ok else 'FAILED: ' + '; '.join(self.problems)}"
        )


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run_load(
    redis_url: str,
    *,
    duration: float = 20.0,
    clients: int = 64,
    max_requests: int = 200_000,
    server_workers: int = 50,
    drain_timeout: float = 120.0,
    start_timeout: float = 30.0,
    workdir: Path | None = None,
    prefix: str | None = None,
    progress: Any = None,
) -> LoadResult:
    import aiohttp

    from tickr_app import Tickr
    from tickr_app.bench import delete_prefix

    say = progress or (lambda _msg: None)
    own_dir = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="tickr-load-")) if workdir is None else workdir
    folder.mkdir(parents=True, exist_ok=True)
    prefix = prefix or f"tickrload-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH", "")]))
    env["TICKR_TEST_LOG"] = str(folder / "runs.log")
    env["TICKR_HOME"] = str(folder / "home")
    env.pop("TICKR_API_TOKEN", None)
    server_log = open(folder / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tickr_app", "serve", "--redis", redis_url, "--prefix", prefix, "--port", str(port),
         "--jobs", "procjobs", "--workers", str(server_workers), "--log-level", "WARNING"],
        env=env, stdout=server_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    problems: list[str] = []
    latencies: list[float] = []
    statuses: collections.Counter[str] = collections.Counter()
    accepted: list[str] = []
    errors: list[str] = []
    rss: list[tuple[float, float]] = []
    sent = 0
    producer: Tickr | None = None
    try:
        async with aiohttp.ClientSession() as probe:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    async with probe.get(f"{base}/api/v1/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tickr serve did not come up: {(folder / 'server.log').read_text()[-2000:]}")
                await asyncio.sleep(0.05)
        say(f"server pid {server.pid} on {base}; {clients} clients for {duration:g} s")

        stop_at = time.monotonic() + duration
        started = time.monotonic()

        async def client(n: int) -> None:
            nonlocal sent
            connector = aiohttp.TCPConnector(limit=1, force_close=False)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
                i = 0
                while time.monotonic() < stop_at and sent < max_requests:
                    sent += 1
                    i += 1
                    body = {"type": "record", "payload": {"name": f"{n}-{i}"}}
                    t0 = time.perf_counter()
                    try:
                        async with session.post(f"{base}/api/v1/jobs", json=body) as r:
                            data = await r.read()
                            latencies.append(time.perf_counter() - t0)
                            statuses[str(r.status)] += 1
                            if r.status == 202:
                                accepted.append(json.loads(data)["id"])
                    except (TimeoutError, aiohttp.ClientError) as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")

        async def sampler() -> None:
            while True:
                value = rss_mb(server.pid)
                if value is not None:
                    rss.append((time.monotonic() - started, value))
                await asyncio.sleep(0.25)  # the sampling period

        sampling = asyncio.create_task(sampler())
        last = time.monotonic()
        load = asyncio.gather(*(client(n) for n in range(clients)))
        while not load.done():
            await asyncio.wait({load}, timeout=2)  # type: ignore[arg-type]
            now = time.monotonic()
            if now - last >= 2:
                say(f"  {now - started:5.1f} s: {sent} sent, {len(accepted)} accepted, RSS {rss[-1][1] if rss else 0:.1f} MB")
                last = now
        await load
        elapsed = time.monotonic() - started

        # every accepted job processed?
        producer = await Tickr(redis_url, workers=0, prefix=prefix, home=folder / "home", builtin_jobs=False).start()
        drain_started = time.monotonic()
        while (await producer.queue_stats("default")).succeeded < len(accepted):
            if time.monotonic() - drain_started > drain_timeout or server.poll() is not None:
                break
            await asyncio.sleep(0.1)
        drain = time.monotonic() - drain_started
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        processed = 0
        for start in range(0, len(accepted), 2000):
            jobs = await producer.get_many("default", accepted[start : start + 2000])
            processed += sum(1 for j in jobs if j.status == "succeeded")

        server_errors = sum(n for s, n in statuses.items() if s.startswith("5"))
        if server_errors:
            problems.append(f"{server_errors} 5xx answers")
        if errors:
            problems.append(f"{len(errors)} transport errors, e.g. {errors[0]}")
        if processed != len(accepted):
            problems.append(f"only {processed} of {len(accepted)} accepted jobs succeeded")
        if server.poll() is not None:
            problems.append(f"tickr serve exited with {server.returncode}")
        values = [v for _, v in rss]
        in_load = [(t, v) for t, v in rss if t <= elapsed]
        half = [v for t, v in in_load if t >= elapsed / 2]
        warm = next((v for t, v in in_load if t >= min(2.0, elapsed / 4)), values[0] if values else 0.0)
        rss_summary = {
            "start": values[0] if values else 0.0,
            "warm": warm,
            "max": max(values) if values else 0.0,
            "end": in_load[-1][1] if in_load else 0.0,
            "second_half_growth": (half[-1] - half[0]) if len(half) >= 2 else 0.0,
        }
        lat_sorted = sorted(x * 1000 for x in latencies)
        return LoadResult(
            duration_s=elapsed,
            clients=clients,
            requests=sum(statuses.values()) + len(errors),
            accepted=len(accepted),
            statuses=dict(sorted(statuses.items())),
            errors=len(errors),
            server_errors=server_errors,
            rps=sum(statuses.values()) / elapsed if elapsed else 0.0,
            latency_ms={
                "p50": _percentile(lat_sorted, 0.5),
                "p90": _percentile(lat_sorted, 0.9),
                "p99": _percentile(lat_sorted, 0.99),
                "max": lat_sorted[-1] if lat_sorted else 0.0,
                "mean": statistics.fmean(lat_sorted) if lat_sorted else 0.0,
            },
            processed=processed,
            drain_s=drain,
            rss_mb=rss_summary,
            rss_samples=len(rss),
            server_workers=server_workers,
            problems=problems,
        )
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        server_log.close()
        try:
            await delete_prefix(redis_url, prefix)
        finally:
            if producer is not None:
                await producer.stop()
            if own_dir:
                shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="load_http.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("TICKR_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent keep-alive clients (default 64)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="upper bound on requests (default 200000)")
    parser.add_argument("--server-workers", type=int, default=50, help="`tickr serve --workers` (default 50)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    from tickr_app.core.connection import mask_url

    print(f"load_http.py: Redis {mask_url(args.redis)}", file=sys.stderr)
    runner = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    result = runner(
        run_load(
            args.redis,
            duration=args.duration,
            clients=args.clients,
            max_requests=args.max_requests,
            server_workers=args.server_workers,
            progress=lambda msg: print(msg, file=sys.stderr),
        )
    )
    print(result.summary())
    if args.json:
        print(json.dumps(asdict(result)))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
