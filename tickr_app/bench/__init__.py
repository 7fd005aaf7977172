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
- **workflows**: a 100-long chain and a 1,000-wide fan-in, each beside the plain jobs doing the
  same work in the same run (100 submits awaited one after another; 1,000 jobs drained, then the
  callback): wall time, jobs/s and the overhead per edge.
- **http**: ``POST /api/v1/jobs`` against the in-process aiohttp API from keep-alive clients
  driven by a separate process (so the driver does not share the server's event loop).

Every run works under its own fresh key prefix and deletes exactly those keys afterwards
(SCAN MATCH + UNLINK, never FLUSH). The workload functions are generic over a small adapter
interface so ``bench/compare.py`` runs the very same code against arq and SAQ.

The package: ``workloads`` (the library-agnostic workloads and what handlers record),
``adapter`` (Tickr under test), ``schedules`` (the schedules workload), ``workflows`` (chain and fan-in), ``http`` (the http
workload and its driver process),
``progress`` and ``measure`` (stderr bars, percentiles, RSS), ``report`` (machine info and the
table), ``cli`` (flags and the run). It must not import textual; the HTTP driver uses aiohttp.
"""

from __future__ import annotations

from .adapter import TickrAdapter, bench_registry
from .cli import DEFAULT_CONCURRENCY, DEFAULT_JOBS, _phase_list, _positive_int, add_arguments, delete_prefix, run
from .http import HTTP_CLIENTS, HTTP_SECONDS, HTTP_WARMUP_S, _http_driver_main, workload_http
from .measure import peak_rss_mb, percentile, rss_mb
from .progress import Progress, ProgressFactory
from .report import TARGETS, loop_name, machine_info, render_table
from .workloads import (
    BULK_CHUNK,
    DELAYED_JOBS,
    DELAYED_MAX_S,
    DELAYED_MIN_S,
    LATENCY_RATE,
    LATENCY_SECONDS,
    PHASES,
    POLL_S,
    REC,
    Adapter,
    Recorder,
    record_latency,
    record_lateness,
    workload_bulk,
    workload_delayed,
    workload_drain,
    workload_enqueue,
    workload_latency,
)

__all__ = [
    "BULK_CHUNK",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_JOBS",
    "DELAYED_JOBS",
    "DELAYED_MAX_S",
    "DELAYED_MIN_S",
    "HTTP_CLIENTS",
    "HTTP_SECONDS",
    "HTTP_WARMUP_S",
    "LATENCY_RATE",
    "LATENCY_SECONDS",
    "PHASES",
    "POLL_S",
    "REC",
    "TARGETS",
    "Adapter",
    "Progress",
    "ProgressFactory",
    "Recorder",
    "TickrAdapter",
    "_http_driver_main",
    "_phase_list",
    "_positive_int",
    "add_arguments",
    "bench_registry",
    "delete_prefix",
    "loop_name",
    "machine_info",
    "peak_rss_mb",
    "percentile",
    "record_latency",
    "record_lateness",
    "render_table",
    "rss_mb",
    "run",
    "workload_bulk",
    "workload_delayed",
    "workload_drain",
    "workload_enqueue",
    "workload_http",
    "workload_latency",
]
