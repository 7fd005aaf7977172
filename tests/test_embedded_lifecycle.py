"""The embedded Redis lives exactly as long as Tickr processes use it (#17 item 5), with real
``tickr worker`` processes: the last one out stops it whoever started it, a crash leaves it to
``tickr redis stop``, and the next start brings it up cleanly either way."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cliproc import READY_TIMEOUT_S, TickrProcess

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while _alive(pid):
        assert time.monotonic() < deadline, f"redis-server {pid} still running"
        time.sleep(0.02)


def _server_pid(home: Path) -> int:
    return int((home / "redis" / "redis.pid").read_text().strip())


def _worker(home: Path, prefix: str) -> TickrProcess:
    proc = TickrProcess(["worker", "--prefix", prefix, "--workers", "1", "--grace", "2"], home=home)
    proc.wait_ready()
    return proc


def _tickr_redis(home: Path, *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "tickr_app", "redis", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT_S,
    )
    return done.returncode, [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


@pytest.fixture
def short_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eh") / "home"


def test_the_last_tickr_process_out_stops_the_embedded_redis_whoever_started_it(short_home: Path, prefix: str) -> None:
    first = _worker(short_home, prefix)
    pid = _server_pid(short_home)
    second = _worker(short_home, prefix)
    try:
        assert _server_pid(short_home) == pid, "the second worker attaches to the running server"
        assert first.terminate() == 0, first.output
        assert _alive(pid), "the second worker still uses it"
        code, lines = _tickr_redis(short_home, "status")
        assert code == 0 and f"pid {second.proc.pid})" in lines[0] and "used by 1 Tickr process" in lines[0], lines
    finally:
        assert second.terminate() == 0, second.output
    _wait_gone(pid)
    code, lines = _tickr_redis(short_home, "status")
    assert code == 3 and lines[0].startswith("embedded Redis: not running"), lines

    third = _worker(short_home, prefix)  # the next start brings up a fresh server cleanly
    new_pid = _server_pid(short_home)
    assert new_pid != pid and _alive(new_pid)
    assert third.terminate() == 0, third.output
    _wait_gone(new_pid)


def test_tickr_redis_stop_refuses_while_in_use_and_stops_what_a_crash_left(short_home: Path, prefix: str) -> None:
    worker = _worker(short_home, prefix)
    pid = _server_pid(short_home)
    try:
        code, lines = _tickr_redis(short_home, "stop")
        assert code == 1 and len(lines) == 1, lines
        assert f"pid {worker.proc.pid}" in lines[0] and "--force" in lines[0]
        assert _alive(pid)
    finally:
        worker.proc.send_signal(signal.SIGKILL)  # a crash: nobody left to stop the server
        worker.kill()
    assert _alive(pid)
    code, lines = _tickr_redis(short_home, "status")
    assert code == 0 and "used by no Tickr process" in lines[0], lines

    code, lines = _tickr_redis(short_home, "stop")
    folder = (short_home / "redis").resolve()
    assert code == 0 and lines == [f"embedded Redis stopped (pid {pid}); data kept in {folder}"]
    _wait_gone(pid)
    assert _tickr_redis(short_home, "stop")[0] == 0, "stopping a stopped server is fine"

    again = _worker(short_home, prefix)
    assert _alive(_server_pid(short_home))
    again_pid = _server_pid(short_home)
    assert again.terminate() == 0, again.output
    _wait_gone(again_pid)


def test_tickr_redis_stop_force_stops_it_under_a_running_worker(short_home: Path, prefix: str) -> None:
    worker = _worker(short_home, prefix)
    pid = _server_pid(short_home)
    try:
        code, lines = _tickr_redis(short_home, "stop", "--force")
        assert code == 0 and lines[0].startswith(f"embedded Redis stopped (pid {pid})"), lines
        _wait_gone(pid)
    finally:
        worker.proc.send_signal(signal.SIGKILL)
        worker.kill()
