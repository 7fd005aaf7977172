"""The event loop watches itself: how late its timers run, and who held it when it stalled.

A timer callback every ``interval`` measures its own lateness (the loop lag); a quiet watchdog
thread notices a stall while it is happening and samples the loop thread's stack. The frame of
each running ``async def`` handler is registered (``jobs``), so a stall is blamed on the job
type and job id whose code is on that stack, or else on the callback that held the loop ("not a
job"). Nothing is added to a handler's steps: a job pays one dict insert and one delete. One
warning per stall, rate-limited.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from .records import LagStats

log = logging.getLogger("tickr.loop")

INTERVAL_S = 0.1
WINDOW = 600
"""Lag samples kept for the percentile (a minute at the default interval)."""
WARN_EVERY_S = 5.0
"""At most one stall warning this often; the next one says how many were not logged."""


class LoopMonitor:
    """One per event loop (shared by the engines on it); see ``for_loop``."""

    _by_loop: ClassVar[dict[asyncio.AbstractEventLoop, LoopMonitor]] = {}

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, threshold: float = 0.1, interval: float = INTERVAL_S
    ) -> None:
        self.loop = loop
        self.threshold = threshold
        self.interval = interval
        self.lease_s: float | None = None
        self.jobs: dict[Any, tuple[str, str]] = {}
        """Frames of the ``async def`` handlers running on this loop -> (job type, job id); the
        runner adds a handler's ``cr_frame`` before awaiting it and removes it after."""
        self.observers: list[Callable[[float], None]] = []
        """Called with every lag sample (seconds), e.g. a Prometheus histogram's observe."""
        self.thread_jobs: list[Callable[[], int]] = []
        """Counts of thread jobs running (one per pool): named in a stall warning, as the GIL's holders."""
        self._samples: deque[float] = deque(maxlen=WINDOW)
        self._since_snapshot = 0.0
        self._due = 0.0
        self._beat = time.monotonic()
        self._handle: asyncio.TimerHandle | None = None
        self._users = 0
        self._thread_id = 0
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()
        self._seen: tuple[float, str] | None = None
        """What the watchdog saw the loop thread doing during the current stall."""
        self.stalls = 0
        self.lease_risks = 0
        self.offender = ""
        self.offender_ms = 0.0
        self._warned_at = 0.0
        self._unwarned = 0

    # -- sharing one monitor per loop ------------------------------------------------------

    @classmethod
    def for_loop(cls, threshold: float = 0.1, lease_s: float | None = None) -> LoopMonitor:
        """The running loop's monitor, started on first use; pair with ``release``."""
        loop = asyncio.get_running_loop()
        monitor = cls._by_loop.get(loop)
        if monitor is None:
            monitor = cls._by_loop[loop] = cls(loop, threshold=threshold)
        monitor.threshold = min(monitor.threshold, threshold) if monitor._users else threshold
        if lease_s is not None:
            monitor.lease_s = lease_s if monitor.lease_s is None else min(monitor.lease_s, lease_s)
        monitor._users += 1
        if monitor._users == 1:
            monitor._start()
        return monitor

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            self._halt()
            self._by_loop.pop(self.loop, None)

    def _start(self) -> None:
        self._thread_id = threading.get_ident()
        self._due = self.loop.time() + self.interval
        self._beat = time.monotonic()
        self._handle = self.loop.call_at(self._due, self._tick)
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="tickr-loop-watchdog", daemon=True)
        self._watchdog.start()

    def _halt(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._stop.set()

    # -- measuring -------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self.loop.time()
        lag = max(0.0, now - self._due)
        beat, self._beat = self._beat, time.monotonic()
        self._samples.append(lag)
        self._since_snapshot = max(self._since_snapshot, lag)
        for observe in self.observers:
            try:
                observe(lag)
            except Exception:
                log.exception("loop lag observer failed")
        seen, self._seen = self._seen, None
        if lag >= self.threshold:
            # A sample taken during this stall (stamped with the beat it followed), not a late
            # write from the previous one.
            self._stalled(lag, seen[1] if seen is not None and seen[0] == beat else None)
        self._due = now + self.interval
        self._handle = self.loop.call_at(self._due, self._tick)

    def _stalled(self, lag: float, seen: str | None) -> None:
        blocked = lag + self.interval  # the loop was busy from about one interval before the timer was due
        if seen is not None:
            offender = seen
        else:
            offender = "not a job: a callback that was not caught in the act (shorter than the watchdog's period)"
        self.stalls += 1
        self.offender = offender
        self.offender_ms = round(blocked * 1000, 1)
        risk = ""
        if self.lease_s is not None and lag >= self.lease_s / 3:
            self.lease_risks += 1
            risk = (
                f"; lease heartbeats (every {self.lease_s / 3:g} s) were held up: leases of {self.lease_s:g} s "
                "are at risk and their jobs may run twice"
            )
        now = time.monotonic()
        if now - self._warned_at < WARN_EVERY_S and not risk:
            self._unwarned += 1
            return
        more = f" ({self._unwarned} more stalls not logged)" if self._unwarned else ""
        self._warned_at = now
        self._unwarned = 0
        advice = ""
        if offender.startswith("job "):
            advice = ": move blocking code into a def handler (runs on a thread) or run_in='process'"
        else:
            threads = sum(count() for count in self.thread_jobs)
            if threads:
                advice = (
                    f" ({threads} thread jobs were running: pure-Python CPU work in def handlers holds the GIL "
                    "the loop needs; give such jobs run_in='process')"
                )
        log.warning("event loop blocked for %.3f s by %s%s%s%s", blocked, offender, advice, risk, more)

    def _watch(self) -> None:
        """Runs on its own thread: while the loop is late, record what its thread is doing."""
        period = max(0.01, min(self.interval, self.threshold) / 2)
        while not self._stop.wait(period):
            beat = self._beat
            late = time.monotonic() - beat - self.interval
            seen = self._seen if self._seen is not None and self._seen[0] == beat else None
            if late >= self.threshold / 2 and (seen is None or not seen[1].startswith("job ")):
                # Keep sampling through the stall: a job's frame, once seen, is the answer (a slow
                # callback may have made the loop late before the job's step blocked it for long).
                try:
                    sample = self._describe_loop_thread()
                except Exception as exc:  # the watchdog must outlive any one bad sample
                    log.debug("loop watchdog could not read the loop's stack", exc_info=exc)
                    sample = f"not a job: unknown ({type(exc).__name__})"
                if seen is None or sample.startswith("job "):
                    self._seen = (beat, sample)

    def _describe_loop_thread(self) -> str:
        frame = sys._current_frames().get(self._thread_id)
        if frame is None:
            return "not a job: unknown"
        jobs = self.jobs
        stack: list[Any] = []
        while frame is not None:
            job = jobs.get(frame)
            if job is not None:
                return f"job {job[0]} {job[1]}"
            stack.append(frame)
            frame = frame.f_back
        stack.reverse()  # outermost first
        # The callback is the frame the loop called: after asyncio's Handle._run, or (uvloop, whose
        # loop is C) after the frames that started the loop.
        runner = -1
        for i, f in enumerate(stack):
            if _runs_the_loop(f):
                runner = i
        entry = stack[runner + 1] if 0 <= runner < len(stack) - 1 else None
        if entry is None:
            return "not a job: the event loop's own C code (polling, or waiting for the GIL)"
        innermost = stack[-1]
        own = next((f for f in reversed(stack[runner + 1 :]) if not _in_stdlib(f)), None)
        via = f", in {_where(own)}" if own is not None and own is not entry else ""
        inner = f", blocked at {_where(innermost)}" if innermost not in (entry, own) else ""
        return f"not a job: callback {_where(entry)}{via}{inner}"

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self, *, reset: bool = True) -> LagStats:
        """The figures now; ``reset`` starts the next "largest lag since" period (the worker
        record's heartbeat does; a reader that only looks passes ``reset=False``)."""
        samples = sorted(self._samples)
        p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))] if samples else 0.0
        lag = self._since_snapshot
        if reset:
            self._since_snapshot = 0.0
        return LagStats(
            lag_ms=round(lag * 1000, 1),
            p99_ms=round(p99 * 1000, 1),
            max_ms=round((samples[-1] if samples else 0.0) * 1000, 1),
            stalls=self.stalls,
            offender=self.offender,
            offender_ms=self.offender_ms,
            lease_risks=self.lease_risks,
        )

    @property
    def current_lag_ms(self) -> float:
        return round((self._samples[-1] if self._samples else 0.0) * 1000, 1)


def _where(frame: Any) -> str:
    code = frame.f_code
    return f"{code.co_qualname if hasattr(code, 'co_qualname') else code.co_name} ({_short(code.co_filename)}:{frame.f_lineno})"


_STDLIB = sysconfig.get_paths()["stdlib"]
_LOOP_FRAMES = {
    os.path.join("asyncio", "events.py"): {"_run"},
    os.path.join("asyncio", "base_events.py"): {"_run_once", "run_forever", "run_until_complete"},
    os.path.join("asyncio", "runners.py"): {"run"},
}


def _runs_the_loop(frame: Any) -> bool:
    """A frame of the machinery that calls callbacks (asyncio's, or what started uvloop's C loop)."""
    path = frame.f_code.co_filename
    if "uvloop" in path:
        return True
    return any(path.endswith(tail) and frame.f_code.co_name in names for tail, names in _LOOP_FRAMES.items())


def _in_stdlib(frame: Any) -> bool:
    path = frame.f_code.co_filename
    return path.startswith(_STDLIB) and "site-packages" not in path or path.startswith("<frozen")


def _short(path: str) -> str:
    parts = path.split(os.sep)
    return os.sep.join(parts[-2:])
