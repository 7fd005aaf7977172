"""Sleeping until a due time to the millisecond, or until woken: shared by the delayed-job
promoter and the schedule runner, which must fire with the same precision."""

from __future__ import annotations

import asyncio
import time

IDLE_RECHECK_S = 5.0
"""With nothing due, re-check this often anyway, in case a wake message was lost."""

SPIN_WINDOW_S = 0.002
"""Event-loop timers fire up to ~1 ms off (epoll and libuv count whole milliseconds). The last
stretch before a due time is spent yielding to the loop instead, so the promote call starts
within one loop turn of the due time; other tasks keep running meanwhile."""


async def sleep_until_woken(wake: asyncio.Event, timeout: float) -> None:
    """Return after ``timeout`` s, or as soon as ``wake`` is set."""
    deadline = time.monotonic() + timeout
    coarse = timeout - SPIN_WINDOW_S
    if coarse > 0:
        try:
            await asyncio.wait_for(wake.wait(), coarse)
            return
        except TimeoutError:
            pass
    while not wake.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0)
