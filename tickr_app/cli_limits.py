"""``tickr limits show|set|clear QUEUE [--type T]``: cluster-wide rate and concurrency limits
through the HTTP API, for scripts. Errors are one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from .settings import DEFAULT_HOST, DEFAULT_PORT, env


def add_parser(sub: Any) -> None:
    p = sub.add_parser("limits", help="show, set or clear a queue's (or job type's) rate and concurrency limits")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))

    def common(a: argparse.ArgumentParser) -> None:
        a.add_argument("queue", help="queue name")
        a.add_argument("--type", dest="job_type", help="a job type in that queue (its limit is scoped to the queue)")
        a.add_argument("--url", default=None, help="API base URL (TICKR_URL, default http://127.0.0.1:8000)")
        a.add_argument("--token", help="API bearer token (TICKR_API_TOKEN)")
        a.add_argument("--json", action="store_true", help="print the API's JSON")

    common(actions.add_parser("show", help="limits in force and what they hold back now"))
    set_ = actions.add_parser("set", help="set limits live, for every process")
    set_.add_argument("--rate", help="at most N started per period: 100/s, 10/min, 5/30s")
    set_.add_argument("--concurrency", type=int, help="at most N running at once")
    common(set_)
    clear = actions.add_parser("clear", help="remove live limits (a default declared on @job applies again)")
    clear.add_argument("--rate", action="store_true", help="only the rate limit")
    clear.add_argument("--concurrency", action="store_true", help="only the concurrency limit")
    common(clear)


def _state(label: str, s: dict[str, Any]) -> str:
    parts = [label]
    parts.append(f"rate {s['rate'] or '-'}")
    if s.get("rate") and s.get("current_rate") is not None:
        parts.append(f"(now {s['started']} in window, {s['current_rate']:g}/s)")
    parts.append(f"concurrency {s['concurrency'] or '-'} (running {s['running']})")
    if s.get("held"):
        parts.append(f"held {s['held']}")
    if s.get("paused_ms"):
        parts.append(f"paused {s['paused_ms'] / 1000:.1f}s")
    if s.get("declared_rate") or s.get("declared_concurrency"):
        parts.append(f"declared {s.get('declared_rate') or '-'}/{s.get('declared_concurrency') or '-'}")
    parts.append("THROTTLED" if s["throttled"] else "ok")
    return "  ".join(parts)


def _print(result: dict[str, Any]) -> None:
    if "job_type" in result:
        print(_state(f"{result['queue']} type {result['job_type']}:", result))
        return
    print(_state(f"{result['queue']}:", result))
    for name, state in result["types"].items():
        print(_state(f"  type {name}:", state))


def run(args: argparse.Namespace) -> int:
    from .client import ApiError, Client, ConnectionFailed

    url = args.url or env("URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    token = args.token or env("API_TOKEN")
    prog = f"tickr limits {args.action}"
    try:
        with Client(url, token=token) as client:
            if args.action == "show":
                result = client.limits(args.queue, args.job_type)
            elif args.action == "set":
                if args.rate is None and args.concurrency is None:
                    return _fail(prog, "give --rate and/or --concurrency")
                result = client.set_limits(args.queue, args.job_type, rate=args.rate, concurrency=args.concurrency)
            else:
                both = not args.rate and not args.concurrency
                result = client.clear_limits(
                    args.queue, args.job_type, rate=both or args.rate, concurrency=both or args.concurrency
                )
    except ConnectionFailed as exc:
        return _fail(prog, str(exc))
    except ApiError as exc:
        fields = ""
        if isinstance(exc.details, list):
            parts = [f"{d.get('field', '?')}: {d.get('message', '')}" for d in exc.details if isinstance(d, dict)]
            fields = " — " + "; ".join(parts) if parts else ""
        return _fail(prog, f"{exc.message} ({exc.status} {exc.code}){fields}")
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(result)
    return 0


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)
    return 1
