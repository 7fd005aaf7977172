"""Plain ``def`` handlers on daemon threads, at most ``limit()`` at a time.

A Python thread cannot be killed. When a thread job times out or is cancelled, the slot stops
waiting for it at once (the attempt is recorded as failed or cancelled), but the thread runs on
until the handler returns, and it keeps its *seat* until then: there are never more handler
threads than seats (the pool's concurrency), and a new thread job waits for a free seat. The
threads are daemons, so a handler that never returns cannot keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tickr.threads")

IDLE_EXIT_S = 60.0
"""An idle thread ends after this long; a busy pool keeps its threads."""
SEAT_RECHECK_S = 0.25
"""A job waiting for a seat re-reads the limit this often (the pool may have been scaled up)."""


class _Call:
    __slots__ = ("abandoned", "args", "func", "future", "label", "loop", "runner", "started")

    def __init__(self, runner: ThreadRunner, func: Callable[..., Any], args: tuple[Any, ...], label: str) -> None:
        self.runner = runner
        self.func = func
        self.args = args
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Any] = self.loop.create_future()
        self.abandoned = False
        self.label = label
        self.started = time.monotonic()

    def execute(self) -> tuple[bool, Any]:
        context = contextvars.copy_context()
        try:
            return (True, context.run(self.func, *self.args))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting slot, which records it
            return (False, exc)

    def report(self, outcome: tuple[bool, Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(self.runner._finish, self, outcome)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more


class ThreadRunner:
    """Runs blocking callables off the loop with a seat count the slot accounting can trust."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit
        self._seats_taken = 0
        self._abandoned = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._tasks: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._started = 0
        self._start_requests: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._starter: threading.Thread | None = None

    @property
    def seats_taken(self) -> int:
        """Threads running a handler now, abandoned ones included."""
        return self._seats_taken

    @property
    def abandoned(self) -> int:
        """Threads still running a handler whose attempt already ended (timeout, cancel, shutdown)."""
        return self._abandoned

    @property
    def threads(self) -> int:
        """Threads alive (busy or idle)."""
        return self._threads

    async def run(self, func: Callable[..., Any], *args: Any, label: str = "") -> Any:
        """Run ``func(*args)`` on a thread; a cancel returns at once and leaves the thread to
        finish on its own (holding its seat until it does)."""
        await self._take_seat()
        call = _Call(self, func, args, label)
        self._submit(call)
        try:
            return await call.future
        except asyncio.CancelledError:
            if not call.future.done() or call.future.cancelled():
                call.abandoned = True
                self._abandoned += 1
            raise

    async def _take_seat(self) -> None:
        loop = asyncio.get_running_loop()
        while self._seats_taken >= max(1, self._limit()):
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait([waiter], timeout=SEAT_RECHECK_S)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._seats_taken += 1

    def _finish(self, call: _Call, outcome: tuple[bool, Any]) -> None:
        self._seats_taken -= 1
        if call.abandoned:
            self._abandoned -= 1
            log.info(
                "the thread of %s returned %.1f s after its attempt ended; its seat is free again",
                call.label or "a job",
                time.monotonic() - call.started,
            )
        if not call.future.done():
            ok, value = outcome
            if ok:
                call.future.set_result(value)
            else:
                call.future.set_exception(value)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _submit(self, call: _Call) -> None:
        if not self._idle.acquire(blocking=False):
            with self._lock:
                self._threads += 1
            self._start_requests.put(1)
            if self._starter is None:
                self._starter = threading.Thread(target=self._start_threads, name="tickr-thread-starter", daemon=True)
                self._starter.start()
        self._tasks.put(call)

    def _start_threads(self) -> None:
        """Starts handler threads off the loop: ``Thread.start`` waits for the new thread to get
        the GIL, which takes long while other threads run pure-Python code."""
        while self._start_requests.get() is not None:
            self._started += 1
            threading.Thread(target=self._work, name=f"tickr-job-thread-{self._started}", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                call = self._tasks.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                # Leave only if no submitter has claimed this thread's idle token meanwhile.
                if self._idle.acquire(blocking=False):
                    break
                continue
            if call is None:
                break
            outcome = call.execute()
            # Idle before the slot hears of it: the slot's next job then reuses this thread
            # instead of starting another (a thread start waits for the GIL, on the loop).
            self._idle.release()
            call.report(outcome)
        with self._lock:
            self._threads -= 1

    def close(self) -> None:
        """Let idle threads end; busy (abandoned) ones are daemons and end with the process."""
        for _ in range(self._threads):
            self._tasks.put(None)
        self._start_requests.put(None)
        self._starter = None
