"""The http workload: ``POST /api/v1/jobs`` against the in-process API, driven by keep-alive
aiohttp clients in a separate process (so the driver does not share the server's event loop)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from typing import Any

from .adapter import TickrAdapter
from .measure import percentile
from .progress import Progress, ProgressFactory

HTTP_CLIENTS = 24
HTTP_SECONDS = 5.0
HTTP_WARMUP_S = 0.5


# -- HTTP ----------------------------------------------------------------------------------


HTTP_DRIVER_CODE = "from tickr_app.bench.http import _http_driver_main; _http_driver_main()"


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
        from ..api import start_api  # type: ignore[attr-defined]
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
