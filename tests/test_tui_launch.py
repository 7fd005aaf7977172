"""``tickr tui`` start-up: the app opens at once, shows each start step, then the panes and the
first-run welcome; a failed start ends as one line on stderr with exit code 1 and a restored
terminal. Real engine, real API, real Redis (the test prefix)."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import shlex
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import pilot_wait_for
from textual.pilot import Pilot
from timing import deadline

from tickr_app.api import ApiBindError
from tickr_app.core.errors import InvalidRequest, RedisUnavailable
from tickr_app.runtime import Runtime
from tickr_app.settings import RuntimeOptions
from tickr_app.tui import TickrApp
from tickr_app.tui.launch import RuntimeStarter, run_tui, stop_runtime, tui_app
from tickr_app.tui.screens.drain import DrainScreen
from tickr_app.tui.screens.help import HelpScreen
from tickr_app.tui.screens.welcome import WelcomeScreen, is_first_run
from tickr_app.tui.widgets.startup_view import StartupView

SIZE = (80, 24)
UNREACHABLE = "redis://127.0.0.1:1/0"


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    return await pilot_wait_for(pilot, predicate, what, timeout)


def options(redis_url: str | None, prefix: str, home: Path, **kwargs: Any) -> RuntimeOptions:
    kwargs.setdefault("port", 0)
    kwargs.setdefault("workers", 2)
    kwargs.setdefault("grace_period", 2.0)
    return RuntimeOptions(redis_url=redis_url, home=home, prefix=prefix, **kwargs)


def launch(opts: RuntimeOptions) -> tuple[Runtime, RuntimeStarter, TickrApp]:
    runtime = Runtime(opts)
    starter = RuntimeStarter(runtime)
    return runtime, starter, tui_app(runtime, starter)


def gate_start(runtime: Runtime) -> asyncio.Event:
    """Hold the engine's start until the test sets the event (a slow embedded Redis)."""
    gate = asyncio.Event()
    start = runtime.tickr.start

    async def gated() -> Any:
        await gate.wait()
        return await start()

    runtime.tickr.start = gated  # type: ignore[method-assign]
    return gate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_app_opens_at_once_shows_each_step_then_panes_and_a_welcome_whose_example_works(
    redis_url: str, prefix: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKR_SMTP_URL", raising=False)  # the email job writes to the outbox
    runtime, starter, app = launch(options(redis_url, prefix, home))
    gate = gate_start(runtime)
    try:
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(StartupView)
            await wait_for(pilot, lambda: view.lines, "the first start step")
            assert view.lines == [f"• Connecting to Redis at {redis_url}"]
            assert not app.started and app.sub_title == "starting…"
            await pilot.press("2", "w", "p")  # pane and engine keys wait for the engine
            assert not app.query("#panes") and not isinstance(app.screen, WelcomeScreen)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)  # the keys are there from the start
            await pilot.press("escape")

            gate.set()
            await wait_for(pilot, lambda: app.started, "the engine to start")
            api_url = runtime.api_url
            assert api_url and not api_url.endswith(":0") and app.api_url == api_url
            assert view.lines == [
                f"✓ Connected to Redis at {redis_url}",
                f"✓ Scheduler and 2 workers on queue(s) {', '.join(runtime.tickr.queues)}",
                f"✓ API on {api_url}",
            ]
            assert not app.query(StartupView) and app.query("#panes")
            assert f"API {api_url}" in app.sub_title

            # A fresh home: the welcome, with this process's real URL in the example.
            await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the first-run welcome")
            welcome = app.screen
            assert isinstance(welcome, WelcomeScreen)
            line = welcome.info.submit_line
            assert line is not None and line.endswith(f" --url {api_url}")

            # The example, run as printed, submits a job that this process's workers run.
            argv = shlex.split(line)
            assert argv[0] == "tickr"
            env = {k: v for k, v in os.environ.items() if k not in ("TICKR_URL", "TICKR_API_TOKEN")}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tickr_app", *argv[1:],
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            )
            out, err = await asyncio.wait_for(proc.communicate(), deadline(30))
            assert proc.returncode == 0, err.decode()
            job = await runtime.tickr.wait(out.decode().strip(), timeout=deadline(10))
            assert job.status == "succeeded"
            assert list((home / "outbox").glob("*.eml"))

            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, WelcomeScreen), "the welcome to close")
            assert not is_first_run(home)
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, DrainScreen) or not app.is_running, "the drain")
    finally:
        await stop_runtime(runtime, starter)
    assert app.startup_error is None and app.return_code in (None, 0)
    assert not runtime.tickr.running and runtime.api is None


async def test_a_fresh_machine_starts_the_embedded_redis_and_says_so(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    runtime, starter, app = launch(options(None, "tickr", home, workers=1))  # type: ignore[arg-type]
    gate = gate_start(runtime)
    try:
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(StartupView)
            await wait_for(pilot, lambda: view.lines, "the first start step")
            assert view.lines == [f"• Starting the embedded Redis under {home}"]
            gate.set()
            await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen), "the first-run welcome", timeout=30)
            assert view.lines[0] == f"✓ Embedded Redis ready under {home} (data kept between runs)"
            assert view.lines[-1] == f"✓ API on {runtime.api_url}"
            welcome = app.screen
            assert isinstance(welcome, WelcomeScreen)
            assert welcome.info.redis == f"the embedded Redis under {home}"
            await pilot.press("escape", "q")
            await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    finally:
        await stop_runtime(runtime, starter)
    assert not runtime.tickr.running and not is_first_run(home)


async def test_unreachable_redis_ends_the_app_with_the_error(prefix: str, home: Path) -> None:
    runtime, starter, app = launch(options(UNREACHABLE, prefix, home))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.startup_error is not None, "the start to fail")
    finally:
        await stop_runtime(runtime, starter)
    assert isinstance(app.startup_error, RedisUnavailable)
    assert app.return_code == 1 and not app.started and is_first_run(home)


async def test_a_taken_api_port_ends_the_app_and_stops_the_engine(redis_url: str, prefix: str, home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        runtime, starter, app = launch(options(redis_url, prefix, home, port=taken.getsockname()[1]))
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.startup_error is not None, "the start to fail")
                assert not runtime.tickr.running  # the engine that did start was stopped at once
        finally:
            await stop_runtime(runtime, starter)
    assert isinstance(app.startup_error, ApiBindError) and app.return_code == 1


async def test_quitting_during_the_start_exits_then_stops_what_started(redis_url: str, prefix: str, home: Path) -> None:
    runtime, starter, app = launch(options(redis_url, prefix, home))
    gate = gate_start(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one(StartupView).lines, "the first start step")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert starter.interrupted
    stopping = asyncio.ensure_future(stop_runtime(runtime, starter))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # the start is never cut half way (an embedded Redis would be orphaned)
    gate.set()
    await asyncio.wait_for(stopping, deadline(10))
    assert starter.task is not None and starter.task.result().startswith("http://127.0.0.1:")  # no error
    assert not runtime.tickr.running and runtime.api is None
    assert app.startup_error is None


async def test_a_public_host_without_token_is_refused_before_the_app_opens(home: Path) -> None:
    with pytest.raises(InvalidRequest, match="without a token"):
        await run_tui(RuntimeOptions(redis_url=UNREACHABLE, home=home, host="0.0.0.0"))


# -- the real command in a terminal --------------------------------------------------------

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9]|[=>])")


def run_in_terminal(args: list[str], home: Path, timeout: float = 30.0) -> tuple[int, bytes]:
    """Run ``tickr ARGS`` on a pseudo-terminal (80×24); its exit code and everything it wrote."""
    master, slave = pty.openpty()
    import fcntl
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKR_")}
    env.update(TICKR_HOME=str(home), TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickr_app", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    out = b""
    until = time.monotonic() + deadline(timeout)  # the app exits on its own; this only bounds a hang
    try:
        while time.monotonic() < until:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(deadline(10))
    return proc.returncode, out


def after_the_app(out: bytes) -> str:
    """What the terminal shows once the app has left the alternate screen."""
    leave = out.rfind(b"\x1b[?1049l")
    assert leave != -1, "the app never restored the terminal"
    assert out.rfind(b"\x1b[?1049h") < leave
    return ESCAPES.sub(b"", out[leave:]).decode(errors="replace").strip()


@pytest.mark.parametrize("case", ["unreachable-redis", "port-taken"])
def test_tickr_tui_start_errors_are_one_line_and_the_terminal_is_restored(
    case: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if case == "unreachable-redis":
            args = ["--redis", UNREACHABLE, "--port", str(free_port())]
            expected = f"tickr: cannot reach Redis at {UNREACHABLE}"
        else:
            args = ["--redis", redis_url, "--prefix", prefix, "--port", str(taken.getsockname()[1])]
            expected = f"tickr: cannot listen on 127.0.0.1:{taken.getsockname()[1]}"
        code, out = run_in_terminal(["tui", *args], tmp_path / "home")
    shown = after_the_app(out)
    assert code == 1, shown
    assert shown.startswith(expected) and len(shown.splitlines()) == 1, shown
    assert b"Traceback" not in out
