"""``tickr tui``: open the app at once, start the runtime (engine + API) in the same event loop
while the app shows each step, then the panes.

A failed start (unreachable Redis, embedded Redis that cannot start, API port taken) ends the
app, restores the terminal, stops what did start, and re-raises the ``TickrError`` for the CLI
to print as one line with exit code 1.
"""

from __future__ import annotations

import asyncio
import logging

from ..runtime import Runtime, check_options
from ..settings import RuntimeOptions
from .app import TickrApp
from .widgets.startup_view import StartupProgress

log = logging.getLogger("tickr.tui")


class RuntimeStarter:
    """Starts a ``Runtime`` step by step for the app's start-up view.

    The start runs in a task of its own, shielded from the app: quitting during the start ends
    the app at once, and ``settle()`` then waits for the start to finish, so an embedded Redis
    half way through starting is never orphaned."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.task: asyncio.Future[str | None] | None = None

    @property
    def embedded(self) -> bool:
        return self.runtime.embedded_redis

    async def __call__(self, progress: StartupProgress) -> str | None:
        self.task = asyncio.ensure_future(self._start(progress))
        return await asyncio.shield(self.task)

    async def _start(self, progress: StartupProgress) -> str | None:
        await self.runtime.start(progress)  # the same start as `tickr serve`, with its steps shown
        return self.runtime.api_url

    @property
    def interrupted(self) -> bool:
        """The app ended before the start did (quit during the start)."""
        return self.task is not None and not self.task.done()

    async def settle(self) -> None:
        """Let a start the app no longer waits for finish (its outcome no longer matters)."""
        if self.task is None:
            return
        await asyncio.wait([self.task])
        if not self.task.cancelled() and self.task.exception() is not None:
            log.debug("start finished after the app had ended", exc_info=self.task.exception())


def tui_app(runtime: Runtime, starter: RuntimeStarter, *, show_welcome: bool | None = None) -> TickrApp:
    """The app ``tickr tui`` runs: it starts ``runtime`` itself and shows the steps."""
    return TickrApp(
        runtime.tickr,
        attach=runtime.attach,
        show_welcome=show_welcome,
        startup=starter,
        embedded_redis=starter.embedded,
        api_token=bool(runtime.options.token),
        tune_gc=True,
    )


async def stop_runtime(runtime: Runtime, starter: RuntimeStarter) -> None:
    """After the app: stop everything that started. The quit dialog has already drained the
    pool; after a quit during the start, running jobs go straight back to ready."""
    interrupted = starter.interrupted
    await starter.settle()
    await runtime.stop(graceful=True, grace_period=0 if interrupted else None)


async def run_tui(options: RuntimeOptions, *, attach: bool = False) -> int:
    check_options(options, attach=attach)
    runtime = Runtime(options, attach=attach)
    starter = RuntimeStarter(runtime)
    app = tui_app(runtime, starter)
    try:
        await app.run_async()
    finally:
        await stop_runtime(runtime, starter)
    if app.startup_error is not None:
        raise app.startup_error
    return app.return_code or 0
