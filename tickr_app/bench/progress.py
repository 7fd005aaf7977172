"""Progress of a workload on stderr: one line per phase, a text bar redrawn on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


class Progress:
    """One line per phase on stderr with a text bar; redrawn in place on a terminal."""

    WIDTH = 24

    def __init__(self, label: str, total: float, unit: str = "jobs", *, stream: Any = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._last = 0.0
        if not self.tty:
            self._write(f"{self.label:<22} ...\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _bar(self, done: float) -> str:
        frac = min(1.0, max(0.0, done / self.total))
        filled = int(frac * self.WIDTH)
        return "[" + "#" * filled + "." * (self.WIDTH - filled) + "]"

    def update(self, done: float, note: str = "") -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        total = f"{int(self.total):,}" if self.unit else f"{self.total:g}"
        count = f"{int(done):,}/{total} {self.unit}".strip()
        self._write(f"\r{self.label:<22} {self._bar(done)} {count} {note}\x1b[K")

    def finish(self, summary: str) -> None:
        elapsed = time.perf_counter() - self.started
        prefix = "\r" if self.tty else ""
        end = "\x1b[K\n" if self.tty else "\n"
        self._write(f"{prefix}{self.label:<22} {self._bar(self.total)} {summary} ({elapsed:.1f} s){end}")


class _NullProgress(Progress):
    def __init__(self, *a: Any, **k: Any) -> None:  # noqa: D401 - silent variant
        self.total = 1

    def update(self, done: float, note: str = "") -> None:
        pass

    def finish(self, summary: str) -> None:
        pass


ProgressFactory = Callable[..., Progress]
