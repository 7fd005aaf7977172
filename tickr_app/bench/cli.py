"""``tickr bench``'s flags and its run: workloads in order, one table or JSON object, and the
run's keys deleted afterwards."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable
from typing import Any

from .adapter import TickrAdapter
from .http import workload_http
from .limits import workload_ratelimit
from .measure import peak_rss_mb, rss_mb
from .report import loop_name, machine_info, render_table
from .schedules import workload_schedules
from .workflows import CHAIN_NODES, FAN_IN_MEMBERS, workload_workflows
from .workloads import (
    PHASES,
    workload_bulk,
    workload_delayed,
    workload_drain,
    workload_enqueue,
    workload_latency,
)

DEFAULT_JOBS = 20_000
DEFAULT_CONCURRENCY = 50


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
    parser.add_argument(
        "--workflow-chain",
        type=_positive_int,
        default=CHAIN_NODES,
        metavar="N",
        help=f"nodes of the workflows workload's chain (default {CHAIN_NODES})",
    )
    parser.add_argument(
        "--workflow-fan-in",
        type=_positive_int,
        default=FAN_IN_MEMBERS,
        metavar="N",
        help=f"members of the workflows workload's fan-in (default {FAN_IN_MEMBERS:,})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    parser.add_argument(
        "--skip",
        type=_phase_list,
        default=[],
        metavar="LIST",
        help="comma list of workloads to skip: " + ",".join(PHASES),
    )


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` (SCAN + UNLINK; never FLUSH)."""
    from ..core.connection import connect

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


async def run(args: argparse.Namespace) -> int:
    """Run the selected workloads; print a table (or one JSON object with ``--json``)."""
    from redis.exceptions import RedisError

    from .. import __version__
    from ..core.connection import mask_text, mask_url
    from ..core.errors import TickrError

    jobs = int(getattr(args, "jobs", DEFAULT_JOBS) or DEFAULT_JOBS)
    concurrency = int(getattr(args, "concurrency", DEFAULT_CONCURRENCY) or DEFAULT_CONCURRENCY)
    chain_nodes = int(getattr(args, "workflow_chain", CHAIN_NODES) or CHAIN_NODES)
    fan_in = int(getattr(args, "workflow_fan_in", FAN_IN_MEMBERS) or FAN_IN_MEMBERS)
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
        report["command"] = (
            "tickr bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else " ".join(sys.argv)
        )
        results = report["results"]
        phases: list[tuple[str, Callable[[], Any]]] = [
            ("drain", lambda: workload_drain(adapter, jobs, concurrency)),
            ("enqueue", lambda: workload_enqueue(adapter, max(1, jobs // 4))),
            ("bulk", lambda: workload_bulk(adapter, jobs)),
            ("latency", lambda: workload_latency(adapter, concurrency)),
            ("delayed", lambda: workload_delayed(adapter, concurrency)),
            ("schedules", lambda: workload_schedules(adapter, concurrency)),
            ("workflows", lambda: workload_workflows(adapter, concurrency, chain_nodes, fan_in)),
            ("ratelimit", lambda: workload_ratelimit(adapter, concurrency)),
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
