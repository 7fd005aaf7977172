"""``tickr workflows submit FILE.json|list|show ID|cancel ID|retry ID|delete ID``: workflows through the
HTTP API, for scripts. Errors are one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .settings import DEFAULT_HOST, DEFAULT_PORT, env

MAX_FILE_BYTES = 1024**2


class BadFile(Exception):
    """The workflow file cannot be read or is not a JSON object."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("workflows", help="submit, list, show, cancel, retry or delete workflows (through the HTTP API)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(p))

    def api_flags(a: argparse.ArgumentParser) -> None:
        a.add_argument("--url", default=None, help="API base URL (TICKR_URL, default http://127.0.0.1:8000)")
        a.add_argument("--token", help="API bearer token (TICKR_API_TOKEN)")
        a.add_argument("--json", action="store_true", help="print the API's JSON")

    submit = actions.add_parser(
        "submit",
        help='submit a workflow from a JSON file (\'-\': stdin): a tree, or {"tree", "queue"?, "policy"?}',
    )
    submit.add_argument("file")
    submit.add_argument("--queue", help="the queue every node runs in")
    submit.add_argument("--policy", choices=("fail_fast", "continue"), help="failure policy (default fail_fast)")
    submit.add_argument("--wait", action="store_true", help="wait until it ends; exit 1 unless it succeeded")
    submit.add_argument(
        "--idempotency-key", help="submit once: a repeat with this key returns the first workflow (24 h, per queue)"
    )
    api_flags(submit)
    listing = actions.add_parser("list", help="workflows, newest first, with their progress")
    listing.add_argument("--queue")
    listing.add_argument("--status", choices=("running", "succeeded", "failed", "cancelled"))
    listing.add_argument("--limit", type=int, default=50)
    api_flags(listing)
    for name, text in (
        ("show", "one workflow with every node's status"),
        ("cancel", "cancel a running workflow"),
        ("retry", "run a workflow's dead and cancelled nodes again"),
        ("delete", "delete an ended workflow's record and its node jobs' records"),
    ):
        a = actions.add_parser(name, help=text)
        a.add_argument("id")
        api_flags(a)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _line(w: dict[str, Any]) -> str:
    failed = f"\tfailed at node {w['failed_node']}: {w['error']}" if w.get("failed_node") is not None else ""
    return f"{w['id']}\t{w['queue']}\t{w['status']}\t{w['done']} of {w['total']} done\t{_when(w['created_at'])}{failed}"


def _show(w: dict[str, Any]) -> str:
    lines = [_line(w)]
    for n in w.get("nodes") or []:
        took = f"{n['duration_ms']} ms" if n["duration_ms"] is not None else "-"
        after = f" after {','.join(map(str, n['parents']))}" if n["parents"] else ""
        error = f"\t{' '.join(str(n['error']).split())[:200]}" if n["error"] and n["status"] != "succeeded" else ""
        lines.append(f"  {n['index']}\t{n['name']}\t{n['status']}\t{took}{after}\t{n['job_id']}{error}")
    return "\n".join(lines)


def _read_body(path: str) -> dict[str, Any]:
    try:
        raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1) if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise BadFile(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise BadFile(f"{path} is larger than 1 MiB")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadFile(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadFile(f'{path} must hold a JSON object: a tree, or {{"tree", "queue"?, "policy"?}}')
    return data if "tree" in data else {"tree": data}


def run(args: argparse.Namespace) -> int:
    from .client import ApiError, Client, ConnectionFailed

    url = args.url or env("URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    token = args.token or env("API_TOKEN")
    prog = f"tickr workflows {args.action}"
    try:
        with Client(url, token=token) as client:
            if args.action == "submit":
                try:
                    body = _read_body(args.file)
                except BadFile as exc:
                    return _fail(prog, str(exc))
                result: Any = client.submit_workflow(
                    body["tree"],
                    queue=args.queue or body.get("queue"),
                    policy=args.policy or body.get("policy"),
                    idempotency_key=args.idempotency_key,
                )
                if args.wait:
                    result = client.wait_workflow(result["id"])
                if args.json:
                    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
                else:
                    print(_show(result) if args.wait else result["id"])
                return 0 if not args.wait or result["status"] == "succeeded" else 1
            if args.action == "list":
                result = client.list_workflows(args.queue, args.status, args.limit)
                if not args.json:
                    print("\n".join(_line(w) for w in result) if result else "no workflows")
                    return 0
            elif args.action == "show":
                result = client.get_workflow(args.id)
            elif args.action == "cancel":
                result = client.cancel_workflow(args.id)
            elif args.action == "delete":
                client.delete_workflow(args.id)
                result = {"id": args.id, "deleted": True}
                if not args.json:
                    print(f"deleted workflow {args.id}")
                    return 0
            else:
                result = client.retry_workflow(args.id)
            if not args.json:
                print(_show(result))
                return 0
    except ConnectionFailed as exc:
        return _fail(prog, str(exc))
    except ApiError as exc:
        fields = ""
        if isinstance(exc.details, list):
            parts = [f"{d.get('field', '?')}: {d.get('message', '')}" for d in exc.details if isinstance(d, dict)]
            parts = [p for p in parts if not p.startswith("(body): ")]
            fields = " — " + "; ".join(parts[:5]) if parts else ""
        return _fail(prog, f"{exc.message} ({exc.status} {exc.code}){fields}")
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: {' '.join(message.split())}", file=sys.stderr)
    return 1
