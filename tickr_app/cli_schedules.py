"""``tickr schedules list|show|add|remove|trigger|pause|resume``: schedules through the HTTP API,
for scripts. Errors are one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any

import orjson

from .settings import DEFAULT_HOST, DEFAULT_PORT, env

ACTIONS = ("list", "show", "add", "remove", "trigger", "pause", "resume")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("schedules", help="list, add, remove, trigger, pause or resume schedules (through the HTTP API)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))

    def api_flags(a: argparse.ArgumentParser) -> None:
        a.add_argument("--url", default=None, help="API base URL (TICKR_URL, default http://127.0.0.1:8000)")
        a.add_argument("--token", help="API bearer token (TICKR_API_TOKEN)")
        a.add_argument("--json", action="store_true", help="print the API's JSON")

    api_flags(actions.add_parser("list", help="every schedule with its next and last run"))
    for name, text in (
        ("show", "one schedule with its next five runs"),
        ("remove", "remove a schedule (jobs it fired stay)"),
        ("trigger", "run a schedule's job once now; prints the job id"),
        ("pause", "pause a schedule for every process"),
        ("resume", "resume a schedule"),
    ):
        a = actions.add_parser(name, help=text)
        a.add_argument("id")
        api_flags(a)

    add = actions.add_parser("add", help="create or update (upsert) a schedule")
    add.add_argument("id", help="schedule id: letters, digits and . _ : @ + -")
    add.add_argument("type", help="job type, e.g. report")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help="cron expression, e.g. '0 9 * * MON-FRI' (6 fields: seconds first)")
    when.add_argument("--every", help="interval: 30s, 5m, 1h30m, 2d, 250ms or seconds")
    add.add_argument("--tz", help="IANA time zone of --cron (default UTC)")
    add.add_argument("--payload", default="{}", help="payload of every run, a JSON object (default {})")
    add.add_argument("--start", help="no run before (ISO 8601 with offset, or epoch seconds)")
    add.add_argument("--end", help="no run after (ISO 8601 with offset, or epoch seconds)")
    add.add_argument("--paused", action="store_true", help="create (or set) it paused")
    add.add_argument(
        "--misfire", choices=("skip", "once", "all"), help="runs missed while no scheduler ran (default skip)"
    )
    add.add_argument("--misfire-grace", type=float, help="seconds late before a run counts as missed (default 60)")
    add.add_argument("--max-catchup", type=int, help="--misfire all runs at most this many (default 100)")
    add.add_argument("--overlap", choices=("allow", "skip"), help="skip a run while the previous is unfinished")
    add.add_argument("--queue")
    api_flags(add)


def _time(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _timing(s: dict[str, Any]) -> str:
    if s.get("cron"):
        return f"cron {s['cron']} ({s['tz']})"
    from .core.slots import format_interval

    return f"every {format_interval(round(s['every'] * 1000))}"


def _line(s: dict[str, Any]) -> str:
    state = "paused" if s["paused"] else ("ended" if s["next_run_at"] is None else "active")
    last = f"{_when(s['last_run_at'])} {s['last_status'] or ''}".strip() if s["last_run_at"] else "never"
    return f"{s['id']}\t{s['type']}\t{_timing(s)}\t{state}\tnext {_when(s['next_run_at'])}\tlast {last}"


def run(args: argparse.Namespace) -> int:
    from .client import ApiError, Client, ConnectionFailed
    from .core.slots import parse_interval

    url = args.url or env("URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    token = args.token or env("API_TOKEN")
    prog = f"tickr schedules {args.action}"
    try:
        with Client(url, token=token) as client:
            if args.action == "list":
                result: Any = client.schedules()
                if not args.json:
                    print("\n".join(_line(s) for s in result) if result else "no schedules")
                    return 0
            elif args.action == "show":
                result = client.get_schedule(args.id)
                if not args.json:
                    print(_line(result))
                    for ms in result["upcoming"]:
                        print(f"  {_when(ms)}")
                    return 0
            elif args.action == "add":
                try:
                    payload = orjson.loads(args.payload)
                except orjson.JSONDecodeError as exc:
                    return _fail(prog, f"--payload is not valid JSON: {exc}")
                if not isinstance(payload, dict):
                    return _fail(prog, "--payload must be a JSON object")
                every = None
                if args.every is not None:
                    every = parse_interval(args.every) / 1000
                result = client.put_schedule(
                    args.id,
                    args.type,
                    payload,
                    cron=args.cron,
                    every=every,
                    tz=args.tz,
                    start=_time(args.start),
                    end=_time(args.end),
                    paused=True if args.paused else None,
                    misfire=args.misfire,
                    misfire_grace=args.misfire_grace,
                    max_catchup=args.max_catchup,
                    overlap=args.overlap,
                    queue=args.queue,
                )
                if not args.json:
                    print(f"{result['id']}: next run {_when(result['next_run_at'])}")
                    return 0
            elif args.action == "remove":
                result = client.delete_schedule(args.id)
                if not args.json:
                    print(f"removed {args.id}")
                    return 0
            elif args.action == "trigger":
                result = client.trigger_schedule(args.id)
                if not args.json:
                    print(result["job_id"])
                    return 0
            else:
                result = client.pause_schedule(args.id) if args.action == "pause" else client.resume_schedule(args.id)
                if not args.json:
                    print(f"{args.id}: {'paused' if result['paused'] else 'resumed'}")
                    return 0
    except ConnectionFailed as exc:
        return _fail(prog, str(exc))
    except ApiError as exc:
        fields = ""
        if isinstance(exc.details, list):
            parts = [f"{d.get('field', '?')}: {d.get('message', '')}" for d in exc.details if isinstance(d, dict)]
            fields = " — " + "; ".join(parts) if parts else ""
        return _fail(prog, f"{exc.message} ({exc.status} {exc.code}){fields}")
    except Exception as exc:  # InvalidRequest from parse_interval, for one
        message = getattr(exc, "message", None) or str(exc)
        return _fail(prog, message)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)
    return 1
