"""What a running handler sees of its job: identity, attempt, progress and cancellation.

The same context serves every kind of handler. On the loop ``await ctx.progress(...)`` records
progress; from a ``def`` handler on a thread ``ctx.progress(...)`` (no ``await``) hands the write
to the loop with ``run_coroutine_threadsafe`` and returns at once; in a worker process it goes
down the pipe to the parent, which records it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ProgressSink = Callable[["JobContext", float, str], Awaitable[bool]]
StatsSource = Callable[[], Awaitable[dict[str, dict[str, Any]]]]
RemoteProgress = Callable[[float, str], None]


@dataclass(slots=True)
class JobContext:
    id: str
    type: str
    queue: str
    attempt: int
    max_attempts: int
    token: str
    home: Path
    """Tickr's data folder (``TICKR_HOME``): where built-in jobs write their files."""
    _progress_sink: ProgressSink | None
    _stats_source: StatsSource | None
    cancelled: asyncio.Event | threading.Event = field(default_factory=asyncio.Event)
    """Set when a cancel was requested (``ctx.cancelled.is_set()`` works from a thread too); an
    ``async def`` handler is also cancelled, a ``def`` handler on a thread should check it."""
    _loop: asyncio.AbstractEventLoop | None = None
    """The event loop that owns the job; progress from any other thread is handed to it."""
    _remote: RemoteProgress | None = None
    """In a worker process: sends progress to the parent (there is no loop there)."""
    workflow_id: str | None = None
    """The workflow this job is a node of (None for a plain job)."""
    node: int | None = None
    """Its node index in the workflow (``WorkflowNode.index``)."""
    parent_results: list[Any] = field(default_factory=list)
    """Results of the nodes this one waited for, in tree order: in ``chain(a, b)`` b gets
    ``[a's result]``; in ``group(a, b).then(c)`` c gets ``[a's, b's]``. Empty for a first node
    and for a plain job."""

    @property
    def previous(self) -> Any:
        """The previous step's result: the one parent's result, the list of them after a group,
        None for a first node or a plain job."""
        if not self.parent_results:
            return None
        return self.parent_results[0] if len(self.parent_results) == 1 else self.parent_results

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def progress(self, percent: float, message: str = "") -> Any:
        """Record progress (0-100) on the job; shown by the API, the TUI and ``Tickr.get``.

        ``await`` it in an ``async def`` handler. In a ``def`` handler call it plainly: it
        returns at once (a ``concurrent.futures.Future[bool]`` you may ``.result()`` on)."""
        percent = max(0.0, min(100.0, float(percent)))
        message = str(message)
        if self._remote is not None:
            self._remote(percent, message)
            return _done(True)
        if self._progress_sink is None:
            return _done(False)
        loop = self._loop
        if loop is None or _running_loop() is loop:
            return self._progress_sink(self, percent, message)
        return asyncio.run_coroutine_threadsafe(self._progress_sink(self, percent, message), loop)

    def queue_stats(self) -> Any:
        """Counts per queue (ready, waiting, active, dead, processed, ...), e.g. for reports.
        ``await`` it on the loop; from a thread it blocks that thread (never the loop) and
        returns the dict. Not available in a worker process."""
        if self._stats_source is None:
            raise RuntimeError("queue_stats() is not available in a worker process")
        loop = self._loop
        if loop is None or _running_loop() is loop:
            return self._stats_source()
        return asyncio.run_coroutine_threadsafe(self._stats_source(), loop).result(30)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _done(value: bool) -> concurrent.futures.Future[bool]:
    future: concurrent.futures.Future[bool] = concurrent.futures.Future()
    future.set_result(value)
    return future
