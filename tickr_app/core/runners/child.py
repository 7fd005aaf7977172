"""The code a worker process runs: import handlers by module path, run jobs sent down the pipe.

Kept apart from the parent's side so the child imports as little as it can before the first job.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .. import defaults

DEFAULT_NICE = defaults.PROCESS_NICE
"""Job processes run at a lower CPU priority than the loop's process (core/defaults.py)."""

# Messages, parent -> child: ("run", module, qualname, payload, fields, takes_context) | ("stop",)
# child -> parent: ("progress", percent, message) | ("ok", result)
#                  | ("error", pickled exception or None, description, traceback, permanent)


def resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def main(conn: Connection, nice: int = DEFAULT_NICE) -> None:
    """Serve jobs until told to stop or the parent goes away."""
    # Ctrl+C reaches the whole process group: the parent drains gracefully and decides when this
    # process ends (a job here is not interrupted by the terminal's SIGINT).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if nice:
            os.nice(nice)
    except OSError:
        pass
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with send_lock:
            conn.send_bytes(data)

    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, module, qualname, payload, fields, takes_context = message
        send(_run(module, qualname, payload, fields, takes_context, send))


def _run(
    module: str, qualname: str, payload: Any, fields: dict[str, Any], takes_context: bool, send: Any
) -> tuple[Any, ...]:
    from ..context import JobContext
    from ..errors import PermanentError

    try:
        handler = resolve(module, qualname)
    except Exception as exc:  # noqa: BLE001 - reported as the attempt's error
        return (
            "error",
            None,
            (
                f"cannot import job handler {module}.{qualname} in the worker process ({type(exc).__name__}: {exc}); "
                "a process job's handler must be importable by module path: define it at the top level of a "
                "module on sys.path (a script's own functions work when it starts Tickr under "
                "`if __name__ == '__main__':`; not a notebook cell, not inside a function)"
            ),
            traceback.format_exc(),
            True,
        )
    ctx = JobContext(
        fields["id"],
        fields["type"],
        fields["queue"],
        fields["attempt"],
        fields["max_attempts"],
        fields["token"],
        Path(fields["home"]),
        None,
        None,
        cancelled=threading.Event(),
        _remote=lambda percent, text: send(("progress", percent, text)),
    )
    if fields.get("workflow"):
        ctx.workflow_id, ctx.node, ctx.parent_results = fields["workflow"]
    try:
        result = handler(payload, ctx) if takes_context else handler(payload)
    except BaseException as exc:  # noqa: BLE001 - the job's failure, sent to the parent
        trace = traceback.format_exc()
        try:
            pickled: bytes | None = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(pickled)
        except Exception:  # noqa: BLE001 - not picklable: the text and traceback still go
            pickled = None
        text = str(exc)
        return (
            "error",
            pickled,
            f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
            trace,
            isinstance(exc, PermanentError),
        )
    try:
        pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - any pickling failure: one clear message
        return (
            "error",
            None,
            (
                f"the result of job type {fields['type']!r} cannot be pickled to leave the worker process "
                f"({type(exc).__name__}: {exc}); return plain data (dict, list, str, numbers)"
            ),
            traceback.format_exc(),
            True,
        )
    return ("ok", result)
