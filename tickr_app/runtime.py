"""The runtime one process runs: the engine, and optionally the HTTP API, in one event loop.

``tickr serve``, ``tickr worker`` and ``tickr tui`` all build a ``Runtime``, so the headless
and the interactive product are the same code path.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import socket
import sys
from typing import Any, Protocol

from .core.connection import mask_url
from .core.engine import Tickr
from .core.errors import InvalidRequest
from .core.home import short_path
from .core.loopback import is_loopback
from .core.queue_policy import parse_queue_args
from .core.registry import default_registry
from .settings import RuntimeOptions

log = logging.getLogger("tickr")


def import_job_modules(modules: list[str]) -> list[str]:
    """Import user modules whose ``@job`` decorators register job types; returns those that
    registered none (a wrong module, or jobs on a ``Registry`` of their own), for a warning.
    A module imported before is not checked again."""
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    empty: list[str] = []
    for name in modules:
        known = name in sys.modules
        before = {t.name for t in default_registry}
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure is the user's module: say which, briefly
            raise InvalidRequest(f"cannot import job module {name!r}: {type(exc).__name__}: {exc}") from None
        if not known and {t.name for t in default_registry} <= before:
            empty.append(name)
    return empty


def warn_empty_job_modules(modules: list[str], *, print_too: bool = False) -> None:
    """Import ``--jobs`` modules now and warn, one line each, about those that registered no
    job types: without it such a process starts and serves nothing, without a word. The log
    goes to stderr for serve/worker; the TUI logs to a file, so it also prints (``print_too``)."""
    for name in import_job_modules(modules):
        message = f"job module {name!r} registered no job types (decorate functions with @tickr_app.job)"
        log.warning(message)
        if print_too:
            print(f"tickr: warning: {message}", file=sys.stderr)


def check_options(options: RuntimeOptions, *, attach: bool = False) -> None:
    """Refuse what cannot be served safely, before anything starts: an API on a non-loopback
    host needs a token."""
    if options.api and not attach and not options.token and not is_loopback(options.host):
        raise InvalidRequest(
            f"refusing to serve the API on non-loopback host {options.host!r} without a token; "
            "pass --token or set TICKR_API_TOKEN"
        )


class StartupProgress(Protocol):
    """Where ``Runtime.start`` reports its steps (the TUI's start-up view; nothing headless)."""

    def step(self, text: str) -> None:
        """A step begins (the one before it is done)."""

    def done(self, text: str | None = None) -> None:
        """The current step is done; ``text`` replaces its line (e.g. with the result)."""

    def note(self, text: str) -> None:
        """A line about something that is already done."""


class _Quiet:
    def step(self, text: str) -> None:
        pass

    def done(self, text: str | None = None) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class Runtime:
    def __init__(self, options: RuntimeOptions, *, attach: bool = False) -> None:
        self.options = options
        self.attach = attach
        import_job_modules(options.job_modules)
        self.tickr = Tickr(
            options.redis_url,
            workers=0 if attach else options.workers,
            queues=parse_queue_args(options.queues) or None,
            strict=options.strict,
            prefix=options.prefix,
            home=options.home,
            lease=options.lease,
            grace_period=options.grace_period,
            loop_lag_threshold=options.lag_threshold,
            scheduler=False if attach else options.scheduler,
        )
        self.api: Any = None

    @property
    def api_url(self) -> str | None:
        return self.api.url if self.api is not None else None

    @property
    def embedded_redis(self) -> bool:
        return self.options.redis_url is None

    async def start(self, progress: StartupProgress | None = None) -> None:
        """Start the engine, then bind the API; ``progress`` hears each step (``tickr tui``
        shows them). The one start path of ``serve``, ``worker``, ``tui`` and ``web``.

        With an API, the API module is imported and its port checked *before* the engine
        starts: the pool leases jobs as soon as it runs, and a start that then failed on a taken
        port would strand them until their leases expired, each losing an attempt. If binding
        still fails (the port was taken in between), whatever the pool leased goes straight
        back to ready without counting the attempt (a zero grace period)."""
        steps = progress or _Quiet()
        options, tickr = self.options, self.tickr
        check_options(options, attach=self.attach)
        serve_api = options.api and not self.attach
        if serve_api:
            from .api import start_api

            await check_port_free(options.host, options.port)
        try:
            if self.embedded_redis:
                steps.step(f"Starting the embedded Redis under {short_path(options.home)}")
            else:
                steps.step(f"Connecting to Redis at {mask_url(options.redis_url or '')}")
            await tickr.start()
            if self.embedded_redis:
                steps.done(f"Embedded Redis ready under {short_path(options.home)} (data kept between runs)")
            else:
                steps.done(f"Connected to Redis at {mask_url(options.redis_url or '')}")
            queues = ", ".join(tickr.queues)
            state = tickr.pool_state()
            if state is not None:
                steps.note(f"Scheduler and {state.concurrency} workers on queue(s) {queues}")
            else:
                steps.note(f"Attached: no workers of our own; watching queue(s) {queues} (prefix {tickr.prefix!r})")
            if serve_api:
                steps.step(f"Starting the HTTP API on {options.host}:{options.port}")
                self.api = await start_api(tickr, host=options.host, port=options.port, token=options.token)
                steps.done(f"API on {self.api_url}")
        except BaseException:
            if tickr.running:
                await tickr.stop(grace_period=0)
            raise

    async def stop(self, *, graceful: bool = True, grace_period: float | None = None) -> None:
        if self.api is not None:
            await self.api.stop()
            self.api = None
        await self.tickr.stop(graceful=graceful, grace_period=grace_period)


async def check_port_free(host: str, port: int) -> None:
    """Raise ``ApiBindError`` (the API's own one-line message) if ``host:port`` cannot be bound.

    Binds a throwaway socket per address the host resolves to, with SO_REUSEADDR as the API's
    listener has, so a port in TIME_WAIT is not reported as taken. Port 0 is always free."""
    if port == 0:
        return
    from .api.server import ApiBindError, bind_message

    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ApiBindError(bind_message(host, port, exc)) from None
    for family, kind, proto, _name, address in infos:
        probe = socket.socket(family, kind, proto)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)
        except OSError as exc:
            raise ApiBindError(bind_message(host, port, exc)) from None
        finally:
            probe.close()


class TwoStageSignals:
    """SIGINT/SIGTERM handling for headless processes: the first signal asks for a graceful
    stop, a second one cancels the graceful stop in progress (leases bring the jobs back)."""

    def __init__(self, first_message: str = "finishing in-flight jobs") -> None:
        self.stop_requested = asyncio.Event()
        self._first_message = first_message
        self._count = 0
        self._draining: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self._on_signal, sig)

    def remove(self) -> None:
        if self._loop is not None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._count += 1
        if self._count == 1:
            log.info("%s received: %s (send again to stop at once)", sig.name, self._first_message)
            self.stop_requested.set()
        else:
            log.warning("%s received again: stopping now; leases will bring running jobs back", sig.name)
            if self._draining is not None:
                self._draining.cancel()

    async def stop_runtime(self, runtime: Runtime) -> None:
        """Graceful stop that a second signal turns into an immediate one."""
        self._draining = asyncio.ensure_future(runtime.stop(graceful=True))
        try:
            await self._draining
        except asyncio.CancelledError:
            await runtime.stop(graceful=False)


def describe(runtime: Runtime) -> str:
    """One line on what this process runs, for its start-up log (passwords masked)."""
    t = runtime.tickr
    parts = [f"redis {_safe(t.redis_url) if t.redis_url else 'embedded'}", f"prefix {t.prefix!r}", f"queues {', '.join(t.queues)}"]
    if (state := t.pool_state()) is not None:
        parts.append(f"{state.concurrency} workers ({t.worker_id})")
    if runtime.api_url:
        parts.insert(0, f"API {runtime.api_url}/api/v1")
    return "; ".join(parts)


async def run_headless(runtime: Runtime) -> int:
    """Run until SIGINT/SIGTERM; the first drains gracefully, a second stops at once."""
    signals = TwoStageSignals()
    signals.install()  # before starting: a SIGTERM during start-up drains right after it
    try:
        await runtime.start()
        log.info("tickr running: %s", describe(runtime))
        await signals.stop_requested.wait()
        await signals.stop_runtime(runtime)
    finally:
        signals.remove()
    log.info("tickr stopped")
    return 0


def _safe(url: str) -> str:
    return mask_url(url)
