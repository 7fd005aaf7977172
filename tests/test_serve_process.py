"""`tickr serve` as a real process: the API answers, SIGTERM drains in-flight jobs, exit 0."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx
import pytest
from proc import read_lines, spawn_tickr, stop, wait_until
from timing import deadline

from tickr_app.client import Client

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=deadline(0.5)).status_code == 200
    except httpx.HTTPError:
        return False


async def test_serve_accepts_jobs_over_http_and_drains_on_sigterm(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "runs.log"
    args = ["serve", "--redis", redis_url, "--prefix", prefix, "--port", str(port), "--jobs", "procjobs", "--grace", "20"]
    server = spawn_tickr(args, log_path=log, home=home)
    try:
        await wait_until(lambda: _api_up(url) or server.poll() is not None, 30, "the API to answer")
        assert server.poll() is None, stop(server)[1]
        with Client(url) as client:
            job = client.submit("sleepy", {"name": "1.0"})
            await wait_until(lambda: any(l.startswith(f"start {job['id']}") for l in read_lines(log)), 20, "the job to start")
            rc, out = stop(server, signal.SIGTERM, timeout=30)
        assert rc == 0, out
        assert "Traceback" not in out
        assert any(l.startswith(f"done {job['id']}") for l in read_lines(log)), "the in-flight job must finish"
    finally:
        stop(server, signal.SIGKILL)


def test_serve_refuses_a_taken_port_with_one_line(redis_url: str, prefix: str, home: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = spawn_tickr(
            ["serve", "--redis", redis_url, "--prefix", prefix, "--port", str(port)], log_path=tmp_path / "x", home=home
        )
        out = proc.communicate(timeout=deadline(60))[0].decode()
        rc = proc.returncode
    assert rc == 1
    assert "Traceback" not in out
    assert "already in use" in out and "--port" in out


def test_unreachable_redis_is_one_line_and_nonzero(home: Path, tmp_path: Path) -> None:
    proc = spawn_tickr(["worker", "--redis", "redis://:s3cret@127.0.0.1:1/0"], log_path=tmp_path / "x", home=home)
    proc.wait(deadline(60))
    out = proc.stdout.read().decode()
    assert proc.returncode == 1
    assert "Traceback" not in out
    assert "cannot reach Redis" in out
    assert "s3cret" not in out, "passwords are masked"
