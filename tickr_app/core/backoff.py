"""Retry delays: exponential with full jitter, so a burst of failures does not retry in lockstep."""

from __future__ import annotations

import random


def full_jitter_ms(base_ms: int, cap_ms: int, attempt: int, rnd: float | None = None) -> int:
    """Uniform in [0, min(cap, base * 2**(attempt-1))] (the Lua recover script does the same)."""
    ceiling = min(cap_ms, base_ms * 2 ** max(0, attempt - 1))
    return int(ceiling * (random.random() if rnd is None else rnd))


class Reconnect:
    """Backoff for upkeep loops that lost Redis: 50 ms doubling to 2 s, reset on success."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self._next = self.first
