"""The runtime one process runs: the engine, and optionally the HTTP API, in one event loop.

``tickr serve``, ``tickr worker`` and ``tickr tui`` all build a ``Runtime``, so the headless
and the interactive product are the same code path.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
from typing import Any

from .core.engine import Tickr
from .core.errors import InvalidRequest
from .settings import RuntimeOptions, is_loopback

log = logging.getLogger("tickr")


def import_job_modules(modules: list[str]) -> None:
    """Import user modules whose ``@job`` decorators register job types."""
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure is the user's module: say which, briefly
            raise InvalidRequest(f"cannot import job module {name!r}: {type(exc).__name__}: {exc}") from None


class Runtime:
    def __init__(self, options: RuntimeOptions, *, attach: bool = False) -> None:
        self.options = options
        self.attach = attach
        import_job_modules(options.job_modules)
        self.tickr = Tickr(
            options.redis_url,
            workers=0 if attach else options.workers,
            queues=options.queues or None,
            prefix=options.prefix,
            home=options.home,
            lease=options.lease,
            grace_period=options.grace_period,
            scheduler=False if attach else options.scheduler,
        )
        self.api: Any = None

    @property
    def api_url(self) -> str | None:
        return self.api.url if self.api is not None else None

    async def start(self) -> None:
        if self.options.api and not self.attach and not self.options.token and not is_loopback(self.options.host):
            raise InvalidRequest(
                f"refusing to serve the API on non-loopback host {self.options.host!r} without a token; "
                "pass --token or set TICKR_API_TOKEN"
            )
        await self.tickr.start()
        if self.options.api and not self.attach:
            from .api import start_api

            try:
                self.api = await start_api(
                    self.tickr, host=self.options.host, port=self.options.port, token=self.options.token
                )
            except BaseException:
                await self.tickr.stop(graceful=False)
                raise

    async def stop(self, *, graceful: bool = True) -> None:
        if self.api is not None:
            await self.api.stop()
            self.api = None
        await self.tickr.stop(graceful=graceful)


async def run_headless(runtime: Runtime) -> int:
    """Run until SIGINT/SIGTERM; the first drains gracefully, a second stops at once."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = 0
    draining: asyncio.Future[None] | None = None

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info("%s received: finishing in-flight jobs (send again to stop at once)", sig.name)
            stop_requested.set()
        else:
            log.warning("%s received again: stopping now; leases will bring running jobs back", sig.name)
            if draining is not None:
                draining.cancel()

    await runtime.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    t = runtime.tickr
    parts = [f"redis {t.redis_url and _safe(t.redis_url)}", f"prefix {t.prefix!r}", f"queues {', '.join(t.queues)}"]
    if t.pool is not None:
        parts.append(f"{t.pool.concurrency} workers ({t.worker_id})")
    if runtime.api_url:
        parts.insert(0, f"API {runtime.api_url}/api/v1")
    log.info("tickr running: %s", "; ".join(parts))
    try:
        await stop_requested.wait()
        draining = asyncio.ensure_future(runtime.stop(graceful=True))
        try:
            await draining
        except asyncio.CancelledError:
            await runtime.stop(graceful=False)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("tickr stopped")
    return 0



def _safe(url: str) -> str:
    from .core.connection import mask_url

    return mask_url(url)
