"""Handlers for process-job tests: process jobs are imported by module path in the child, so
they live at the top level of a module on sys.path (this one), not inside test functions."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tickr_app import JobContext, PermanentError


class Spin(BaseModel):
    n: int = 10_000


class Flagged(BaseModel):
    """A job that writes its pid to ``pid_file`` and waits until ``release_file`` exists."""

    pid_file: str = ""
    release_file: str = ""
    seconds: float = 60.0


def _wait_for(path: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path and os.path.exists(path):
            return True
        time.sleep(0.01)
    return False


def spin(payload: Spin, ctx: JobContext) -> dict[str, int]:
    """Pure-Python CPU work; reports progress half way."""
    total = 0
    for i in range(payload.n):
        total += i * i
        if i == payload.n // 2:
            ctx.progress(50, "half way")
    return {"total": total % 1_000_003, "pid": os.getpid()}


def flagged(payload: Flagged, ctx: JobContext) -> dict[str, Any]:
    if payload.pid_file:
        Path(payload.pid_file).write_text(str(os.getpid()))
    ctx.progress(40, "waiting for the flag")
    released = _wait_for(payload.release_file, payload.seconds)
    return {"pid": os.getpid(), "released": released, "attempt": ctx.attempt, "last": ctx.is_last_attempt}


def raises(payload: dict[str, Any], ctx: JobContext) -> None:
    raise ValueError(f"bad value {payload.get('value')!r}")


def permanent(payload: dict[str, Any]) -> None:
    raise PermanentError("no point retrying")


def exits(payload: dict[str, Any], ctx: JobContext) -> None:
    if ctx.attempt == 1:
        os._exit(3)


def unpicklable(payload: dict[str, Any]) -> Any:
    return {"lock": threading.Lock()}


def pid(payload: dict[str, Any]) -> int:
    return os.getpid()


def niceness(payload: dict[str, Any]) -> int:
    return os.nice(0)


def echo_size(payload: dict[str, Any]) -> int:
    return len(payload["blob"])
