"""Starting `tickr` subprocesses for tests and waiting on what they write."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from timing import deadline

TESTS_DIR = Path(__file__).parent


def spawn_tickr(args: list[str], *, log_path: Path, home: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH", "")]))
    env["TICKR_TEST_LOG"] = str(log_path)
    env["TICKR_HOME"] = str(home)
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "tickr_app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until ``predicate()``; ``timeout`` is a quiet-machine budget (scaled)."""
    timeout = deadline(timeout)
    until = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_until_async(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    timeout = deadline(timeout)
    until = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=deadline(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out.decode(errors="replace")
