"""``tickr web``: the TUI in a browser, served by textual-serve.

textual-serve starts one app process per browser tab, so the tabs must not each run an engine
(they would fight over the API port and each start a pool). Here the engine runs once, in this
process: a ``Runtime`` (API, scheduler, workers) and textual-serve's aiohttp server share one
event loop. Each tab runs ``tickr tui --attach`` against the same Redis, prefix and home, which
watches and commands this engine through Redis like any other attached TUI.

The browser terminal has no authentication of its own (whoever reaches the page can drive
Tickr), so it only listens on a loopback host; reach it from elsewhere through an SSH tunnel or
an authenticating reverse proxy.

Built on textual-serve 1.x: its ``Server`` (page, static files, ``_make_app``,
``_process_messages``) and ``AppService`` (one app process per tab), with our own websocket
handler so that shutdown can close every tab and no tab process outlives a closed tab.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
from typing import Any

from .core.errors import InvalidRequest
from .core.loopback import is_loopback
from .runtime import Runtime, TwoStageSignals, describe
from .settings import RuntimeOptions, env

log = logging.getLogger("tickr.web")

DEFAULT_WEB_PORT = 8080
TAB_STOP_TIMEOUT = 5.0
"""Seconds a browser tab's app process gets to quit at shutdown before it is killed."""


def tab_command(options: RuntimeOptions, log_level: str | None = None) -> str:
    """The shell command each browser tab runs: an attached TUI on this engine's Redis.

    The Redis URL is not on the command line (it may carry a password, and command lines are
    visible to every user of the machine): the tab inherits ``TICKR_REDIS_URL`` from this
    process's environment, which ``run_web`` sets. With the embedded Redis the tab finds the
    server this process started through the shared ``--home``.
    """
    argv = [sys.executable, "-m", "tickr_app", "tui", "--attach", "--prefix", options.prefix, "--home", str(options.home)]
    for module in options.job_modules:
        argv += ["--jobs", module]  # the Submit pane builds its forms from the job types
    for queue in options.queues:
        argv += ["--queue", queue]
    if options.strict:
        argv += ["--strict"]
    if log_level:
        argv += ["--log-level", log_level]
    # exec: the shell textual-serve starts becomes the app, so stopping it stops the app.
    return "exec " + shlex.join(argv)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def run_web(options: RuntimeOptions, *, web_port: int | None) -> int:
    """Run the engine and serve the TUI to browsers until SIGINT/SIGTERM; returns the exit
    code. The first signal closes the tabs and drains in-flight jobs, a second stops at once."""
    try:
        from textual_serve.server import Server  # noqa: F401
    except ImportError:
        raise InvalidRequest("tickr web needs textual-serve: pip install textual-serve") from None
    if web_port is None:
        raw = env("WEB_PORT")
        try:
            web_port = int(raw) if raw is not None else DEFAULT_WEB_PORT
        except ValueError:
            raise InvalidRequest(f"TICKR_WEB_PORT must be a port number, got {raw!r}") from None
        if not 0 <= web_port <= 65535:
            raise InvalidRequest(f"TICKR_WEB_PORT must be 0-65535, got {web_port}")
    if not is_loopback(options.host):
        raise InvalidRequest(
            f"tickr web serves a terminal without authentication, so it listens on a loopback host only "
            f"(got --host {options.host}); use an SSH tunnel or an authenticating reverse proxy"
        )
    level = logging.getLevelName(logging.getLogger().level)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_serve(options, web_port, level))
    return uvloop.run(_serve(options, web_port, level))


def _make_server_class() -> type:
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class TickrServer(Server):
        """textual-serve's server, with the tab sessions tracked so shutdown can close them
        (and kill an app process that does not quit), and our own log line at startup."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.sessions: set[AppService] = set()
            self.sockets: set[web.WebSocketResponse] = set()
            self.closing = False

        async def on_startup(self, app: web.Application) -> None:
            pass  # textual-serve prints a banner to stdout; run_web logs one line instead

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            websocket = web.WebSocketResponse(heartbeat=15)
            if self.closing:
                raise web.HTTPServiceUnavailable(text="tickr web is shutting down")
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            await websocket.prepare(request)
            service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.sockets.add(websocket)
            self.sessions.add(service)
            log.info("browser tab connected (%d open)", len(self.sessions))
            try:
                await service.start(width, height)
                await self._process_messages(websocket, service)
            except (asyncio.CancelledError, ConnectionResetError):
                pass
            except Exception:
                log.exception("browser tab session failed")
            finally:
                await self._stop_service(service)
                self.sessions.discard(service)
                self.sockets.discard(websocket)
                if not websocket.closed:
                    await websocket.close()
                log.info("browser tab closed (%d open)", len(self.sessions))
            return websocket

        async def _stop_service(self, service: AppService) -> None:
            """Ask the tab's app to quit and wait until its process is gone; kill it if it has
            not quit within TAB_STOP_TIMEOUT.

            textual-serve stops reading the app's output as soon as a write to the closed
            browser socket fails, and an app blocked writing to a full pipe never sees the quit
            message: keep draining its output until it exits."""
            process = service._process
            stopped = False
            try:
                await asyncio.wait_for(asyncio.shield(service.stop()), TAB_STOP_TIMEOUT)
                stopped = True
            except (TimeoutError, asyncio.CancelledError, Exception):
                pass
            if process is None or process.returncode is not None:
                return
            # Once service.stop() has returned nobody reads the output any more: drain it.
            drain = asyncio.ensure_future(_discard(process.stdout if stopped else None))
            try:
                await asyncio.wait_for(process.wait(), TAB_STOP_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("browser tab app (pid %s) did not quit; killing it", process.pid)
                try:
                    process.kill()
                except ProcessLookupError:
                    pass
                await process.wait()
            finally:
                drain.cancel()

        async def close_tabs(self) -> None:
            """Close every open tab: each app process gets the quit message and the browser
            shows "Session ended"."""
            self.closing = True
            await asyncio.gather(*(ws.close() for ws in list(self.sockets)), return_exceptions=True)
            deadline = asyncio.get_running_loop().time() + 2 * TAB_STOP_TIMEOUT + 1
            while self.sessions and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)

    return TickrServer


async def _discard(stream: asyncio.StreamReader | None) -> None:
    if stream is None:
        return
    try:
        while await stream.read(65536):
            pass
    except (asyncio.CancelledError, Exception):
        pass


async def _serve(options: RuntimeOptions, web_port: int, log_level: str) -> int:
    from aiohttp import web

    signals = TwoStageSignals("closing browser tabs, finishing in-flight jobs")
    signals.install()
    runtime = Runtime(options)
    runner: web.AppRunner | None = None
    try:
        # The tabs inherit the environment: give them this engine's Redis (and not whatever
        # TICKR_REDIS_URL said, if --redis overrode it). None means the embedded Redis, which
        # the tabs find through --home.
        if options.redis_url:
            os.environ["TICKR_REDIS_URL"] = options.redis_url
        else:
            os.environ.pop("TICKR_REDIS_URL", None)
        host = options.host
        server = _make_server_class()(tab_command(options, log_level), host=host, port=web_port, title="Tickr")
        # Bind the browser port first: if it is taken, fail before the engine leases any job.
        app = await server._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, web_port)
        try:
            await site.start()
        except OSError as exc:
            raise OSError(f"cannot serve the browser UI on {host}:{web_port}: {exc.strerror or exc}") from None
        port = runner.addresses[0][1] if web_port == 0 else web_port
        server.port = port
        server.public_url = f"http://{_url_host(host)}:{port}"
        await runtime.start()
        log.info("tickr web: open %s in a browser; engine: %s", server.public_url, describe(runtime))

        await signals.stop_requested.wait()
        await site.stop()
        await server.close_tabs()
        await runner.cleanup()
        runner = None
        await signals.stop_runtime(runtime)
    finally:
        if runner is not None:
            await runner.cleanup()
        if runtime.tickr.running or runtime.api is not None:
            await runtime.stop(graceful=True)
        signals.remove()
    log.info("tickr web stopped")
    return 0
