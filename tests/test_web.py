"""``tickr web`` for real: the command serves the TUI with textual-serve, a headless Chromium
loads the page, the terminal renders the app, a key press switches panes, and every tab is an
attached TUI on the one engine that ``tickr web`` runs.

The browser is Debian's ``chromium`` driven over the Chrome DevTools Protocol (a websocket,
with aiohttp): no browser download, no webdriver. The terminal draws on a canvas, so what the
app shows is read from the websocket frames the page receives (``Network.webSocketFrameReceived``,
the app's terminal output) and what it sends (``Network.webSocketFrameSent``, the key presses).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from timing import deadline

from tickr_app.web import tab_command

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "screenshots" / "web.png"
WIDTH, HEIGHT = 1280, 800


def find_chromium() -> str | None:
    explicit = os.environ.get("TICKR_TEST_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; or set TICKR_TEST_CHROMIUM)"
)

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def attached_tabs(prefix: str) -> list[int]:
    """Pids of the ``tickr tui --attach`` processes on this prefix (one per open browser tab)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--attach" in argv and prefix.encode() in argv and b"tui" in argv:
            pids.append(int(entry.name))
    return pids


async def eventually(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    timeout = deadline(timeout)  # a quiet-machine budget, scaled
    until = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


# -- a small Chrome DevTools Protocol client -------------------------------------------------


_KEY_CODES = {"[": ("BracketLeft", 219), "]": ("BracketRight", 221)}


class Page:
    """One browser tab: commands over its DevTools websocket, and the terminal traffic."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, target_id: str) -> None:
        self.ws = ws
        self.target_id = target_id
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.received: list[tuple[float, str]] = []
        """Terminal output frames (decoded), with the monotonic time they arrived."""
        self.sent: list[str] = []
        """What the page sent to the app (stdin, resize, ...)."""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(RuntimeError(f"CDP error: {data['error']}"))
                    else:
                        fut.set_result(data.get("result", {}))
            elif data.get("method") == "Network.webSocketFrameReceived":
                frame = data["params"]["response"]
                payload = frame["payloadData"]
                if frame.get("opcode") == 2:
                    payload = base64.b64decode(payload).decode("utf-8", "replace")
                self.received.append((time.monotonic(), payload))
            elif data.get("method") == "Network.webSocketFrameSent":
                self.sent.append(data["params"]["response"]["payloadData"])

    async def call(self, method: str, **params: Any) -> Any:
        msg_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self.ws.send_json({"id": msg_id, "method": method, "params": params})
        return await asyncio.wait_for(fut, deadline(30))

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def screen_text(self, since: float = 0.0) -> str:
        return ANSI.sub("", "".join(text for t, text in self.received if t >= since))

    async def press(self, key: str) -> float:
        """Type one printable key into the terminal; returns the time just before it."""
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        at = time.monotonic()
        code, vk = _KEY_CODES.get(key) or ((f"Digit{key}" if key.isdigit() else f"Key{key.upper()}"), ord(key.upper()))
        await self.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, text=key, windowsVirtualKeyCode=vk)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)
        return at

    async def screenshot(self) -> bytes:
        shot = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()


class Browser:
    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.profile = tempfile.mkdtemp(prefix="tickr-chromium-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--mute-audio",
                f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                f"--window-size={WIDTH},{HEIGHT}", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        active = Path(self.profile) / "DevToolsActivePort"

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "chromium exited at startup"
            return active.exists() and len(active.read_text().split()) >= 2

        await eventually(ready, 30, "chromium's DevTools port")
        self.port = int(active.read_text().split()[0])
        self.http = aiohttp.ClientSession()

    async def open(self, url: str) -> Page:
        """A new tab with the terminal traffic recorded from before the page loads."""
        assert self.http is not None
        async with self.http.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as resp:
            target = await resp.json(content_type=None)
        ws = await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(ws, target["id"])
        await page.call("Network.enable")
        await page.call("Page.enable")
        await page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
        # The page links a web font from Google: with no network it must not stall the test.
        await page.call("Network.setBlockedURLs", urls=["*fonts.googleapis.com*", "*fonts.gstatic.com*"])
        await page.call("Page.navigate", url=url)
        return page

    async def close_tab(self, page: Page) -> None:
        assert self.http is not None
        await page.close()
        async with self.http.get(f"http://127.0.0.1:{self.port}/json/close/{page.target_id}") as resp:
            await resp.read()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(deadline(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# -- the tickr web process -------------------------------------------------------------------


class WebServer:
    def __init__(self, redis_url: str, prefix: str, home: Path, log_path: Path) -> None:
        self.api_port = free_port()
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}/"
        self.api = f"http://127.0.0.1:{self.api_port}/api/v1"
        self.log_path = log_path
        env = dict(os.environ)
        env.pop("TICKR_REDIS_URL", None)
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "tickr_app", "web", "--redis", redis_url, "--prefix", prefix,
                "--home", str(home), "--port", str(self.api_port), "--web-port", str(self.web_port),
                "--workers", "2", "--grace", "2",
            ],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self, http: aiohttp.ClientSession) -> None:
        until = time.monotonic() + deadline(30)
        while True:
            assert self.proc.poll() is None, f"tickr web exited ({self.proc.returncode}):\n{self.output()}"
            try:
                async with http.get(self.api + "/health") as health, http.get(self.url) as page:
                    if health.status == 200 and page.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < until, f"tickr web did not come up:\n{self.output()}"
            await asyncio.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(deadline(30))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


@pytest.fixture
async def browser() -> Any:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; or set TICKR_TEST_CHROMIUM)")
    b = Browser(CHROMIUM)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@needs_chromium
@pytest.mark.timeout(120)
async def test_tickr_web_serves_attached_tuis_on_one_engine(
    browser: Browser, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    server = WebServer(redis_url, prefix, tmp_path / "home", tmp_path / "web.log")
    try:
        async with aiohttp.ClientSession() as http:
            await server.wait_ready(http)
            # Some work on the engine, so the dashboard has something to show: delayed jobs
            # stay waiting, a report runs on the web process's own workers.
            for i in range(3):
                async with http.post(server.api + "/jobs", json={
                    "type": "email", "delay": 600,
                    "payload": {"to": f"user{i}@example.com", "subject": f"Reminder {i}", "body": "hi"},
                }) as resp:
                    assert resp.status == 202, await resp.text()
            async with http.post(server.api + "/jobs", json={"type": "report", "payload": {"steps": 2, "step_delay": 0.05}}) as resp:
                report = await resp.json()
            async with http.get(server.api + "/workers") as resp:
                workers = await resp.json()
            worker_list = workers["workers"] if isinstance(workers, dict) else workers
            engine_worker = [w["id"] for w in worker_list if w["pid"] == server.proc.pid]
            assert engine_worker, f"the engine of tickr web (pid {server.proc.pid}) has no worker: {workers}"

            # Tab 1: the terminal renders the app, attached.
            page = await browser.open(server.url)
            await eventually(lambda: "Tickr" in page.screen_text() and "attached" in page.screen_text(), 30,
                             "the app (title 'Tickr', attached) in the terminal")
            loaded = await page.evaluate(
                "document.body.className + '|' + !!document.querySelector('.xterm-screen canvas')"
            )
            assert "-first-byte" in loaded and loaded.endswith("|true"), loaded
            assert len(attached_tabs(prefix)) == 1, "one browser tab, one attached app process"
            # Let the Queues pane fill in (3 waiting, 1 processed), then keep the picture.
            # The queue table's row: name, ready, waiting, ...
            await eventually(lambda: re.search(r"default\s+\d+\s+3\s", page.screen_text()), 15,
                             "the Queues pane to count the 3 waiting jobs")
            async with http.get(f"{server.api}/jobs/{report['id']}") as resp:
                assert (await resp.json())["status"] in ("active", "succeeded")
            # "[" shows the previous job table: the waiting jobs, for the picture.
            at = await page.press("[")
            await eventually(lambda: "Runs" in page.screen_text(at) and "email" in page.screen_text(at), 10,
                             "the Waiting table with the delayed emails")
            await asyncio.sleep(1.0)
            before = await page.screenshot()
            assert before.startswith(b"\x89PNG"), "the browser returned no PNG"
            # The README's picture is refreshed on request only, so a test run leaves the tree clean:
            # TICKR_WRITE_SCREENSHOTS=1 pytest tests/test_web.py
            if os.environ.get("TICKR_WRITE_SCREENSHOTS") == "1":
                SCREENSHOT.parent.mkdir(exist_ok=True)
                SCREENSHOT.write_bytes(before)

            # A key press reaches the app: 3 switches to the Workers pane, which lists the
            # worker pool running inside the tickr web process.
            at = await page.press("3")
            await eventually(lambda: '["stdin","3"]' in page.sent, 5, "the key press to be sent to the app")
            await eventually(
                lambda: "Worker processes" in page.screen_text(at) and engine_worker[0] in page.screen_text(at),
                10, f"the Workers pane listing the engine's worker {engine_worker[0]}",
            )
            await asyncio.sleep(0.5)
            after = await page.screenshot()
            assert after != before, "the screen did not change after the key press"

            # Tab 2: a second attached app, no fight over a port; the engine is still the one.
            page2 = await browser.open(server.url)
            await eventually(lambda: "Tickr" in page2.screen_text() and "attached" in page2.screen_text(), 30,
                             "the app in a second tab")
            assert len(attached_tabs(prefix)) == 2
            assert server.proc.poll() is None
            async with http.get(server.api + "/health") as resp:
                assert resp.status == 200

            # Closing a tab ends its app process.
            await browser.close_tab(page2)
            await eventually(lambda: len(attached_tabs(prefix)) == 1, 15, "the closed tab's app to exit")

        # SIGINT: tabs are closed, jobs drained, exit 0, no tab process left behind.
        code = server.stop()
        assert code == 0, server.output()
        assert attached_tabs(prefix) == [], "tab processes outlived tickr web"
        output = server.output()
        assert "Traceback" not in output, output
        closed = await page.evaluate("document.body.className")
        assert "-closed" in closed, f"the page did not show the session ended: {closed!r}"
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        server.log_file.close()
        for pid in attached_tabs(prefix):
            os.kill(pid, signal.SIGKILL)


def test_tab_command_attaches_with_the_same_prefix_home_and_job_modules(tmp_path: Path) -> None:
    from tickr_app.settings import RuntimeOptions

    options = RuntimeOptions(
        redis_url="redis://:secret@127.0.0.1:6379/0", home=tmp_path / "my home", prefix="p1",
        job_modules=["myapp.jobs"], queues=["mail"],
    )
    command = tab_command(options, "INFO")
    assert command.startswith("exec ")
    argv = __import__("shlex").split(command[len("exec "):])
    assert argv[:5] == [sys.executable, "-m", "tickr_app", "tui", "--attach"]
    assert argv[argv.index("--prefix") + 1] == "p1"
    assert argv[argv.index("--home") + 1] == str(tmp_path / "my home")
    assert argv[argv.index("--jobs") + 1] == "myapp.jobs"
    assert argv[argv.index("--queue") + 1] == "mail"
    assert "secret" not in command, "the Redis password must not be on a command line"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "loopback"),
        (["--web-port", "99999"], "port must be"),
    ],
)
def test_tickr_web_refuses_bad_setups_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickr_app", "web", "--redis", "redis://127.0.0.1:1/0", "--home", str(tmp_path), *args],
        capture_output=True, text=True, timeout=deadline(60),
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
