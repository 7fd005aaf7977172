"""Where a handler runs: on the loop (``async def``), on a thread (``def``) or in a process.

``Runners.call`` is the one hook the worker pool awaits in place of the handler; it keeps the
slot's accounting simple: a cancel of the awaiting slot task always returns at once, whatever
the handler is doing (a thread keeps running and keeps its seat; a process is killed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..context import JobContext
from ..loop_monitor import LoopMonitor
from .child import DEFAULT_NICE
from .processes import ProcessDied, ProcessRunner
from .threads import ThreadRunner

if TYPE_CHECKING:
    from ..registry import JobType

__all__ = ["ProcessDied", "ProcessRunner", "Runners", "ThreadRunner"]


class Runners:
    def __init__(self, limit: Callable[[], int], *, process_nice: int = DEFAULT_NICE) -> None:
        self.threads = ThreadRunner(limit)
        self._limit = limit
        self._nice = process_nice
        self._processes: ProcessRunner | None = None
        self._monitor: LoopMonitor | None = None

    @property
    def monitor(self) -> LoopMonitor | None:
        """Set by the pool while it runs: ``async def`` handlers are registered for blame."""
        return self._monitor

    @monitor.setter
    def monitor(self, monitor: LoopMonitor | None) -> None:
        if self._monitor is not None and self._seats in self._monitor.thread_jobs:
            self._monitor.thread_jobs.remove(self._seats)
        self._monitor = monitor
        if monitor is not None:
            monitor.thread_jobs.append(self._seats)

    def _seats(self) -> int:
        return self.threads.seats_taken

    @property
    def processes(self) -> ProcessRunner:
        """Made on first use: a pool with no process jobs never starts a process."""
        if self._processes is None:
            self._processes = ProcessRunner(self._limit, nice=self._nice)
        return self._processes

    async def call(self, job_type: JobType, payload: Any, ctx: JobContext) -> Any:
        handler: Any = job_type.handler
        if job_type.run_in == "loop":
            coro = handler(payload, ctx) if job_type.takes_context else handler(payload)
            monitor = self._monitor
            frame = getattr(coro, "cr_frame", None)
            if monitor is None or frame is None:
                return await coro
            # A stall with this frame on the loop's stack is blamed on this job (inline, not a
            # context manager: this is every loop job's path, and costs well under a microsecond).
            monitor.jobs[frame] = (job_type.name, ctx.id)
            try:
                return await coro
            finally:
                del monitor.jobs[frame]
        ctx._loop = asyncio.get_running_loop()
        try:
            if job_type.run_in == "process":
                return await self.processes.run(handler, payload, ctx, job_type.takes_context)
            args = (payload, ctx) if job_type.takes_context else (payload,)
            return await self.threads.run(handler, *args, label=f"job {job_type.name} {ctx.id}")
        except asyncio.CancelledError:
            ctx.cancelled.set()  # a thread still running sees it (shutdown does not set it itself)
            raise

    async def close(self) -> None:
        self.monitor = None
        self.threads.close()
        if self._processes is not None:
            await self._processes.close()
