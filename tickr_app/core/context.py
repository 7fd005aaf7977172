"""What a running handler sees of its job: identity, attempt, progress and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ProgressSink = Callable[["JobContext", float, str], Awaitable[bool]]
StatsSource = Callable[[], Awaitable[dict[str, dict[str, Any]]]]


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
    _progress_sink: ProgressSink
    _stats_source: StatsSource
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a cancel was requested; the handler is also cancelled, this lets cleanup code check."""

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    async def progress(self, percent: float, message: str = "") -> None:
        """Record progress (0-100) on the job; shown by the API, the TUI and ``Tickr.get``."""
        percent = max(0.0, min(100.0, float(percent)))
        await self._progress_sink(self, percent, message)

    async def queue_stats(self) -> dict[str, dict[str, Any]]:
        """Counts per queue (ready, waiting, active, dead, processed, ...), e.g. for reports."""
        return await self._stats_source()
