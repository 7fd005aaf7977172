"""``tickr tui``: start the runtime (engine + API) and run the app in the same event loop."""

from __future__ import annotations

import sys

from ..runtime import Runtime
from ..settings import RuntimeOptions


async def run_tui(options: RuntimeOptions, *, attach: bool = False) -> int:
    from .app import TickrApp

    if options.redis_url is None:
        print(f"Starting the embedded Redis under {options.home} ...", file=sys.stderr, flush=True)
    runtime = Runtime(options, attach=attach)
    await runtime.start()
    app = TickrApp(runtime.tickr, api_url=runtime.api_url, attach=attach)
    try:
        await app.run_async()
    finally:
        # The app's quit screen has already drained the pool; this closes the rest.
        await runtime.stop(graceful=True)
    return app.return_code or 0
