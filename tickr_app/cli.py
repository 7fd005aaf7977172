"""The ``tickr`` command. Every failure a user can cause ends in one clear line and a
non-zero exit, never a traceback.

Start-up matters (a supervisor replacing killed workers recovers only as fast as a new one is
ready), so this module imports only what parsing needs: each command imports its own modules
(``worker`` never imports the API, Textual or httpx; see tests/test_startup_imports.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .core import defaults
from .core.errors import TickrError
from .core.home import tickr_home
from .core.keys import DEFAULT_PREFIX
from .settings import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_WORKERS, RuntimeOptions, env

EXIT_USAGE = 2


class CliError(Exception):
    """A problem to report as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise CliError(f"TICKR_{name} must be a whole number, got {raw!r}") from None


def _common(parser: argparse.ArgumentParser, *, engine: bool = True, api: bool = True) -> None:
    g = parser.add_argument_group("connection")
    g.add_argument("--redis", metavar="URL", help="Redis URL (TICKR_REDIS_URL); none: embedded Redis under TICKR_HOME")
    g.add_argument("--prefix", metavar="NAME", help=f"key prefix (TICKR_PREFIX, default {DEFAULT_PREFIX!r})")
    g.add_argument("--home", metavar="DIR", help="data folder (TICKR_HOME, default ~/.local/share/tickr)")
    if api:
        g.add_argument("--host", help=f"API host (TICKR_HOST, default {DEFAULT_HOST})")
        g.add_argument("--port", type=_port, help=f"API port (TICKR_PORT, default {DEFAULT_PORT})")
        g.add_argument("--token", help="API bearer token (TICKR_API_TOKEN); required for a non-loopback host")
    if engine:
        e = parser.add_argument_group("engine")
        e.add_argument("--workers", type=_positive_int, help=f"concurrency (TICKR_WORKERS, default {DEFAULT_WORKERS})")
        e.add_argument("--queue", action="append", metavar="NAME", help="queue to serve (repeatable; default: all of the job types')")
        e.add_argument("--jobs", action="append", metavar="MODULE", help="import MODULE to register job types (repeatable; TICKR_JOBS, comma-separated)")
        e.add_argument("--lease", type=_seconds, help="lease length in seconds (default 30)")
        e.add_argument("--grace", type=_seconds, help="graceful-shutdown period in seconds (default 30)")
        e.add_argument("--lag-threshold", type=_seconds, metavar="S", help=f"log event-loop stalls at least this long, naming the job (TICKR_LAG_THRESHOLD, default {defaults.LAG_THRESHOLD_S})")
    parser.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"), help="logging level (default INFO)")


def build_parser(*, with_bench: bool = True) -> argparse.ArgumentParser:
    """The whole parser; ``with_bench=False`` leaves out the bench flags (and so the import of
    the bench module), for every other command."""
    parser = _Parser(prog="tickr", description="Tickr: asyncio job queue on Redis, with a terminal dashboard.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    tui = sub.add_parser("tui", help="the terminal UI with embedded API, scheduler and workers (default)")
    _common(tui)
    tui.add_argument("--attach", action="store_true", help="run no API and no workers: watch and command a Tickr running elsewhere")

    serve = sub.add_parser("serve", help="headless API + scheduler + workers, for servers")
    _common(serve)

    worker = sub.add_parser("worker", help="scheduler + workers only, to scale out across processes and hosts")
    _common(worker, api=False)

    submit = sub.add_parser("submit", help="submit a job through the HTTP API")
    submit.add_argument("type", help="job type, e.g. email")
    submit.add_argument("--payload", default="{}", help="payload as a JSON object (default {})")
    submit.add_argument("--delay", type=_seconds, help="run after this many seconds")
    submit.add_argument("--max-attempts", type=_positive_int)
    submit.add_argument("--queue")
    submit.add_argument("--idempotency-key")
    submit.add_argument("--url", default=None, help="API base URL (TICKR_URL, default http://127.0.0.1:8000)")
    submit.add_argument("--token", help="API bearer token (TICKR_API_TOKEN)")
    submit.add_argument("--json", action="store_true", help="print the whole job as JSON")

    from .cli_schedules import add_parser as add_schedules_parser

    add_schedules_parser(sub)

    from .cli_workflows import add_parser as add_workflows_parser

    add_workflows_parser(sub)
    from .cli_limits import add_parser as add_limits_parser

    add_limits_parser(sub)

    queues = sub.add_parser("queues", help="queue housekeeping through the HTTP API")
    queue_actions = queues.add_subparsers(dest="queue_action", parser_class=_Parser, metavar="ACTION", required=True)
    forget = queue_actions.add_parser("forget", help="forget a queue that holds no jobs and that no live worker serves")
    dead = queue_actions.add_parser("delete-dead", help="delete every dead job of a queue")
    for action in (forget, dead):
        action.add_argument("name", help="queue name")
        action.add_argument("--url", default=None, help="API base URL (TICKR_URL, default http://127.0.0.1:8000)")
        action.add_argument("--token", help="API bearer token (TICKR_API_TOKEN)")

    web = sub.add_parser("web", help="serve the TUI to a browser; the engine runs once, each tab attaches")
    _common(web)
    web.add_argument("--web-port", type=_port, default=None, help="browser port (default 8080)")

    redis_cmd = sub.add_parser("redis", help="status of the embedded Redis under TICKR_HOME, or stop it")
    redis_cmd.add_argument(
        "action", choices=("status", "stop"), help="status: is it running, who uses it; stop: shut it down"
    )
    redis_cmd.add_argument("--home", metavar="DIR", help="data folder (TICKR_HOME, default ~/.local/share/tickr)")
    redis_cmd.add_argument("--force", action="store_true", help="stop: even while Tickr processes use it")

    bench = sub.add_parser("bench", help="measure throughput and latency on the configured Redis")
    bench.add_argument("--redis", metavar="URL", help="Redis URL (TICKR_REDIS_URL); none: embedded Redis")
    bench.add_argument("--prefix", metavar="NAME", help="key prefix (default: a fresh random one)")
    if with_bench:
        try:
            from . import bench as bench_module

            bench_module.add_arguments(bench)
        except (ImportError, AttributeError):
            pass
    return parser


def options_from(args: argparse.Namespace) -> RuntimeOptions:
    jobs = list(getattr(args, "jobs", None) or [])
    if not jobs and env("JOBS"):
        jobs = [m.strip() for m in (env("JOBS") or "").split(",") if m.strip()]
    host = getattr(args, "host", None) or env("HOST", DEFAULT_HOST) or DEFAULT_HOST
    port = getattr(args, "port", None)
    if port is None:
        port = _env_int("PORT", DEFAULT_PORT)
    workers = getattr(args, "workers", None)
    if workers is None:
        workers = _env_int("WORKERS", DEFAULT_WORKERS)
    lease = getattr(args, "lease", None)
    grace = getattr(args, "grace", None)
    if lease is not None and lease <= 0:
        raise CliError("--lease must be greater than 0")
    lag = getattr(args, "lag_threshold", None)
    if lag is None:
        text = env("LAG_THRESHOLD")
        try:
            lag = float(text) if text else defaults.LAG_THRESHOLD_S
        except ValueError:
            raise CliError(f"TICKR_LAG_THRESHOLD must be seconds, got {text!r}") from None
    if not lag > 0:
        raise CliError("--lag-threshold must be greater than 0")
    return RuntimeOptions(
        redis_url=getattr(args, "redis", None) or env("REDIS_URL"),
        home=tickr_home(getattr(args, "home", None)),
        prefix=getattr(args, "prefix", None) or env("PREFIX", DEFAULT_PREFIX) or DEFAULT_PREFIX,
        host=host,
        port=port,
        workers=workers,
        queues=list(getattr(args, "queue", None) or []),
        job_modules=jobs,
        token=getattr(args, "token", None) or env("API_TOKEN"),
        lease=defaults.LEASE_S if lease is None else lease,
        grace_period=defaults.GRACE_PERIOD_S if grace is None else grace,
        lag_threshold=lag,
    )


def mask_text(text: str) -> str:
    """Passwords out of a message (imports the Redis layer only when there is one to print)."""
    from .core.connection import mask_text as mask

    return mask(text)


def _setup_logging(level: str, logfile: Path | None = None) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise CliError(f"unknown log level {level!r}")
    handler: logging.Handler
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(logfile)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    logging.getLogger("aiohttp.access").setLevel(max(numeric, logging.WARNING))


def _run_loop(coro: Any) -> int:
    """uvloop when installed (the ``fast`` extra), else asyncio's loop.

    The loop runs outside the ``except ImportError`` block: run inside it, every exception a
    job raised would chain to "No module named 'uvloop'" in its stored traceback."""
    try:
        import uvloop
    except ImportError:
        uvloop = None
    if uvloop is None:
        import asyncio

        return asyncio.run(coro)
    return uvloop.run(coro)


def _headless(args: argparse.Namespace, *, api: bool) -> int:
    from .runtime import Runtime, run_headless, warn_empty_job_modules

    options = options_from(args)
    options.api = api
    _setup_logging(args.log_level)
    warn_empty_job_modules(options.job_modules)

    async def main() -> int:
        return await run_headless(Runtime(options))

    return _run_loop(main())


def _tui(args: argparse.Namespace) -> int:
    from .runtime import warn_empty_job_modules
    from .tui.launch import run_tui

    options = options_from(args)
    _setup_logging(args.log_level, options.home / "tickr.log")
    import asyncio

    warn_empty_job_modules(options.job_modules, print_too=True)
    return asyncio.run(run_tui(options, attach=bool(getattr(args, "attach", False))))


def _web(args: argparse.Namespace) -> int:
    from .web import run_web

    options = options_from(args)
    _setup_logging(args.log_level)
    return run_web(options, web_port=args.web_port)


def _submit(args: argparse.Namespace) -> int:
    import orjson

    from .client import ApiError, Client, ConnectionFailed

    try:
        payload = orjson.loads(args.payload)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"--payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise CliError("--payload must be a JSON object, e.g. '{\"to\": \"a@example.com\"}'")
    url = args.url or env("URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    token = args.token or env("API_TOKEN")
    try:
        with Client(url, token=token) as client:
            job = client.submit(
                args.type,
                payload,
                delay=args.delay,
                max_attempts=args.max_attempts,
                queue=args.queue,
                idempotency_key=args.idempotency_key,
            )
    except ConnectionFailed as exc:
        raise CliError(str(exc)) from None
    except ApiError as exc:
        print(_api_error_line("submit", exc), file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(job, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(job["id"])
    for warning in job.get("warnings", []):
        print(f"tickr submit: warning: {warning}", file=sys.stderr)
    return 0


def _api_error_line(command: str, exc: Any) -> str:
    """One line for an API error: the message, then each field's problem (an unknown job type's
    message already names the known types)."""
    line = f"tickr {command}: {exc.message}"
    if isinstance(exc.details, list) and exc.code != "unknown_job_type":
        fields = [f"{d.get('field', '?')}: {d.get('message', '')}" for d in exc.details if isinstance(d, dict)]
        if fields:
            line += " (" + "; ".join(fields) + ")"
    return f"{line} [{exc.status} {exc.code}]"


def _queues(args: argparse.Namespace) -> int:
    from .client import ApiError, Client, ConnectionFailed

    url = args.url or env("URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    token = args.token or env("API_TOKEN")
    try:
        with Client(url, token=token) as client:
            if args.queue_action == "forget":
                client.forget_queue(args.name)
                print(f"forgot queue {args.name!r}")
            else:
                print(f"deleted {client.delete_dead(args.name)} dead job(s) of queue {args.name!r}")
    except ConnectionFailed as exc:
        raise CliError(str(exc)) from None
    except ApiError as exc:
        print(_api_error_line(f"queues {args.queue_action}", exc), file=sys.stderr)
        return 1
    return 0


EXIT_NOT_RUNNING = 3  # `tickr redis status` when no server runs (as `systemctl status`)


def _redis(args: argparse.Namespace) -> int:
    """``tickr redis status|stop``: the embedded Redis of one home, for operators."""
    from .core.embedded import server_status, stop_server

    home = tickr_home(args.home)
    if args.action == "status":
        status = server_status(home)
    else:
        status = stop_server(home, force=args.force)
    users = ", ".join(str(pid) for pid in status.users)
    used_by = "used by no Tickr process"
    if status.users:
        used_by = f"used by {len(status.users)} Tickr process(es) (pid {users})"
    if status.stopped_pid is not None:
        print(f"embedded Redis stopped (pid {status.stopped_pid}); data kept in {status.folder}")
        return 0
    if not status.running:
        print(f"embedded Redis: not running (data in {status.folder})")
        return EXIT_NOT_RUNNING if args.action == "status" else 0
    if args.action == "stop":
        raise CliError(f"embedded Redis not stopped: {used_by}; stop them first, or pass --force")
    pid = f"pid {status.pid}, " if status.pid is not None else ""
    print(
        f"embedded Redis: running ({pid}{status.endpoint}); {used_by}; "
        f"{status.clients} connection(s); data in {status.folder}"
    )
    return 0


def _schedules(args: argparse.Namespace) -> int:
    from .cli_schedules import run

    return run(args)


def _workflows(args: argparse.Namespace) -> int:
    from .cli_workflows import run

    return run(args)


def _limits(args: argparse.Namespace) -> int:
    from .cli_limits import run

    return run(args)


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    if args.redis is None:
        args.redis = env("REDIS_URL")
    return _run_loop(bench.run(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["tui", *argv]
    parser = build_parser(with_bench=argv[0] == "bench")
    args = parser.parse_args(argv)
    handlers = {
        "tui": _tui,
        "serve": lambda a: _headless(a, api=True),
        "worker": lambda a: _headless(a, api=False),
        "submit": _submit,
        "schedules": _schedules,
        "workflows": _workflows,
        "limits": _limits,
        "queues": _queues,
        "web": _web,
        "redis": _redis,
        "bench": _bench,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (CliError, TickrError) as exc:
        print(f"tickr: {mask_text(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tickr: {mask_text(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug of ours: still one line, details in the log at DEBUG
        logging.getLogger("tickr").debug("unexpected error", exc_info=True)
        print(f"tickr: unexpected error: {type(exc).__name__}: {mask_text(str(exc))}", file=sys.stderr)
        return 1
