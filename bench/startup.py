"""Start-up time: from exec to "ready to take jobs", for the real commands.

A restart loop (a supervisor replacing killed workers) recovers only as fast as a new process
gets ready, so this is measured on the real console entry point in fresh processes:

- ``worker``: ``python -m tickr_app worker``, until its ready line (``tickr running: ...``).
- ``serve``: ``python -m tickr_app serve --port 0``, until the ready line and then until
  ``GET /api/v1/health`` answers 200 on the port it names.
- ``worker-embedded``: ``worker`` with no ``--redis`` and a fresh ``TICKR_HOME``, so the time
  includes starting the embedded redis-server (a cold first start).
- ``tui``: ``python -m tickr_app`` in a pseudo-terminal, until the header shows the running
  engine (the app sets it when the panes are mounted and the engine runs).
- ``tui-embedded``: ``tui`` with no ``--redis`` and a fresh ``TICKR_HOME``: what a new user's
  first ``tickr`` does.

Each process is stopped with SIGTERM after it is ready (a killed TUI is SIGKILLed after 10 s).

    python bench/startup.py --redis redis://127.0.0.1:6379/0 [--runs 7] [--commands worker,serve,tui]
        [--src DIR --src DIR2]   # several checkouts side by side (e.g. a `git worktree` of main)
        [--json]

``--src DIR`` runs ``tickr_app`` from that checkout (``PYTHONPATH=DIR``, same interpreter);
give it twice to compare a base and a change. Keys are written under a fresh
``startupbench-<hex>`` prefix per run and deleted afterwards (SCAN + UNLINK, never FLUSH).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

READY = re.compile(rb"tickr running: (?:API (http://\S+?)/api/v1;)?")
COMMANDS = ("worker", "serve", "worker-embedded", "tui", "tui-embedded")
TIMEOUT_S = 120.0


@dataclass
class Series:
    command: str
    src: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | str]:
        ordered = sorted(self.seconds)
        p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
        return {
            "command": self.command,
            "src": self.src,
            "runs": len(ordered),
            "median_s": round(statistics.median(ordered), 3),
            "p90_s": round(p90, 3),
            "min_s": round(ordered[0], 3),
            "cpu_median_s": round(statistics.median(self.cpu), 3),
        }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far: on a shared machine this varies far
    less than wall time, which includes waiting for a CPU."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _env(src: str | None, home: str) -> dict[str, str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    env["TICKR_HOME"] = home
    # As installed: bytecode cached (a warm-up run per variant writes it), not recompiled.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("TICKR_REDIS_URL", None)
    env["TERM"] = env.get("TERM") or "xterm-256color"
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _health(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/api/v1/health did not answer 200")
        time.sleep(0.002)


def time_headless(command: str, redis_url: str | None, src: str | None, home: str) -> tuple[float, float]:
    """Wall seconds from exec to ready, and the CPU seconds the process used until then."""
    prefix = f"startupbench-{uuid.uuid4().hex[:10]}"
    sub = "serve" if command == "serve" else "worker"
    args = [sys.executable, "-m", "tickr_app", sub, "--prefix", prefix, "--workers", "5"]
    if redis_url and command != "worker-embedded":
        args += ["--redis", redis_url]
    if sub == "serve":
        args += ["--port", "0"]
    t0 = time.perf_counter()
    env = _env(src, home)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=src or None)
    assert proc.stderr is not None
    deadline = time.monotonic() + TIMEOUT_S
    try:
        seen = b""
        while True:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError(f"{command} exited before its ready line:\n{seen.decode(errors='replace')}")
            seen += line
            found = READY.search(line)
            if found:
                if sub == "serve":
                    if not found[1]:
                        raise RuntimeError(f"serve ready line names no API URL: {line!r}")
                    _health(found[1].decode(), deadline)
                elapsed = time.perf_counter() - t0
                cpu = _cpu_seconds(proc.pid)
                break
    finally:
        _stop(proc)
        _cleanup(redis_url if command != "worker-embedded" else None, prefix)
    return elapsed, cpu


def time_tui(redis_url: str | None, src: str | None, home: str) -> tuple[float, float]:
    """The TUI in a pty: ready when the header shows ``prefix <ours>`` (set once the panes are up)."""
    prefix = f"startupbench-{uuid.uuid4().hex[:10]}"
    args = [sys.executable, "-m", "tickr_app", "tui", "--prefix", prefix, "--workers", "5", "--port", "0"]
    if redis_url:
        args += ["--redis", redis_url]
    env = _env(src, home)
    env["COLUMNS"], env["LINES"] = "200", "50"
    master, slave = pty.openpty()
    _set_size(slave, 50, 200)
    marker = f"prefix {prefix}".encode()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, stdin=slave, stdout=slave, stderr=slave, cwd=src or None, start_new_session=True
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while marker not in out:
            if time.monotonic() > deadline:
                raise RuntimeError("the TUI did not show its panes in time")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    raise RuntimeError(f"the TUI exited: {out[-2000:]!r}") from None
        elapsed = time.perf_counter() - t0
        cpu = _cpu_seconds(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < end:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
        _cleanup(redis_url, prefix)
        if redis_url is None:
            # The TUI does not stop on SIGTERM as the headless commands do; stop its embedded
            # Redis like an operator would (`tickr redis stop --force`).
            from tickr_app.core.embedded import stop_server

            stop_server(Path(home), force=True)
    return elapsed, cpu


def _welcomed(home: str) -> None:
    """The first-run welcome would cover the panes; its marker says it was seen."""
    Path(home).mkdir(parents=True, exist_ok=True)
    (Path(home) / ".welcomed").write_text("welcomed by bench/startup.py\n")


def _set_size(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _cleanup(redis_url: str | None, prefix: str) -> None:
    if not redis_url:
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        batch = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        batch += list(client.scan_iter(match=f"{{{prefix}:*", count=1000))  # hash-tagged keys
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis", default=os.environ.get("TICKR_REDIS_URL"), help="Redis URL (default TICKR_REDIS_URL)"
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--commands", default="worker,serve,tui", help=f"comma list of {','.join(COMMANDS)}")
    parser.add_argument(
        "--src", action="append", help="checkout to run tickr_app from (repeatable; default: installed)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    commands = [c for c in args.commands.split(",") if c]
    unknown = set(commands) - set(COMMANDS)
    if unknown:
        parser.error(f"unknown command(s): {', '.join(sorted(unknown))}")
    if not args.redis and any(not c.endswith("-embedded") for c in commands):
        parser.error("--redis (or TICKR_REDIS_URL) is needed for worker, serve and tui")
    sources = args.src or [None]
    series = {(c, s): Series(c, s or "installed") for c in commands for s in sources}
    with tempfile.TemporaryDirectory(prefix="tickr-startup-") as tmp:
        for command in commands:  # warm-up, not counted: writes bytecode, warms the page cache
            for src in sources:
                home = os.path.join(tmp, f"warmup-{command}-{sources.index(src)}")
                if command.startswith("tui"):
                    _welcomed(home)
                    time_tui(args.redis if command == "tui" else None, src, home)
                else:
                    time_headless(command, args.redis, src, home)
        for run in range(args.runs):
            for command in commands:
                for src in sources:  # interleaved, so load changes hit every variant alike
                    home = os.path.join(tmp, f"home-{run}-{command}-{sources.index(src)}")
                    if command.startswith("tui"):
                        _welcomed(home)
                        seconds, cpu = time_tui(args.redis if command == "tui" else None, src, home)
                    else:
                        seconds, cpu = time_headless(command, args.redis, src, home)
                    series[(command, src)].seconds.append(seconds)
                    series[(command, src)].cpu.append(cpu)
                    print(
                        f"run {run + 1}/{args.runs} {command:<16} {src or 'installed'}: "
                        f"{seconds * 1000:7.0f} ms, cpu {cpu * 1000:5.0f} ms",
                        file=sys.stderr,
                    )
    rows = [s.summary() for s in series.values()]
    if args.json:
        print(json.dumps({"runs": args.runs, "results": rows}, indent=2))
        return 0
    print(f"{'command':<16} {'source':<40} {'median':>8} {'p90':>8} {'min':>8} {'cpu med':>8}")
    for r in rows:
        print(
            f"{r['command']:<16} {str(r['src'])[-40:]:<40} {r['median_s'] * 1000:6.0f}ms {r['p90_s'] * 1000:6.0f}ms"
            f" {r['min_s'] * 1000:6.0f}ms {r['cpu_median_s'] * 1000:6.0f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
