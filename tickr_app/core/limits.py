"""Flow-control values: rate limits ("100/s", "10/min"), concurrency limits, and the state the
fetch script keeps for them (see lua/_common.lua, "Flow control").

Limits live in Redis under the queue's hash tag, so the fetch script reads them in one Cluster
slot: a per-type limit is therefore scoped to one queue (a type that runs in two queues has two
independent limits). A value set live (facade, HTTP, CLI, TUI) beats the default a job type
declares on ``@job(rate_limit=..., concurrency=...)``; clearing the live value lets the declared
default apply again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import InvalidRequest

MAX_RATE: Final = 100_000
"""Most starts per period: the sliding log keeps one entry per start in the window."""
MIN_PER_MS: Final = 10
MAX_PER_MS: Final = 999_999 * 86_400_000
MAX_CONCURRENCY: Final = 1_000_000
MAX_RETRY_AFTER_S: Final = 86_400.0

_UNITS_MS: Final = {
    "ms": 1,
    "s": 1000,
    "sec": 1000,
    "secs": 1000,
    "second": 1000,
    "seconds": 1000,
    "m": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "h": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "days": 86_400_000,
}
_LONG_UNITS = "|".join(sorted((u for u in _UNITS_MS if u != "ms"), key=len, reverse=True))
RATE_PATTERN: Final = rf"^([1-9][0-9]{{0,4}}|100000)/(([1-9][0-9]{{1,5}})ms|([1-9][0-9]{{0,5}})?({_LONG_UNITS}))$"
"""The one rate syntax (engine, HTTP schema, CLI): a count of 1-100,000, '/', then an optional
whole number and a unit; in ms the period is at least 10 ms."""
_RATE = re.compile(RATE_PATTERN)
RATE_RULE: Final = (
    "a rate is 'N/unit' or 'N/<k><unit>' (N 1-100000, unit ms, s, min, h or d; at least 10 ms), "
    "e.g. '100/s', '10/min', '5/30s'"
)


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` jobs started in any window of ``per_ms``."""

    count: int
    per_ms: int

    def __str__(self) -> str:
        for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
            if self.per_ms % ms == 0:
                k = self.per_ms // ms
                return f"{self.count}/{unit}" if k == 1 else f"{self.count}/{k}{unit}"
        return f"{self.count}/{self.per_ms}ms"

    @property
    def per_second(self) -> float:
        return self.count * 1000 / self.per_ms


def parse_rate(value: object, per: float | None = None) -> Rate:
    """A ``Rate`` from "100/s", "10/min", "5/30s", or a count with ``per`` seconds (default 1);
    ``InvalidRequest`` naming the rule otherwise."""
    if isinstance(value, Rate):
        return value
    if isinstance(value, bool):
        raise InvalidRequest(f"invalid rate {value!r}: {RATE_RULE}")
    if isinstance(value, int):
        count, per_ms = value, round((1.0 if per is None else _number(per, "per")) * 1000)
    elif isinstance(value, str):
        if per is not None:
            raise InvalidRequest("per goes with a numeric rate; a rate text like '100/s' names its own period")
        m = _RATE.fullmatch(value)
        if m is None:
            raise InvalidRequest(f"invalid rate {value[:40]!r}: {RATE_RULE}")
        if m.group(3):
            per_ms = int(m.group(3))
        else:
            per_ms = int(m.group(4) or 1) * _UNITS_MS[m.group(5)]
        count = int(m.group(1))
    else:
        raise InvalidRequest(f"invalid rate {str(value)[:40]!r}: {RATE_RULE}")
    if not 1 <= count <= MAX_RATE:
        raise InvalidRequest(f"invalid rate {str(value)[:40]!r}: the count must be 1 to {MAX_RATE:,}")
    if not MIN_PER_MS <= per_ms <= MAX_PER_MS:
        raise InvalidRequest(f"invalid rate {str(value)[:40]!r}: the period must be at least 10 ms")
    return Rate(count, per_ms)


JOB_TYPE_MAX: Final = 200
JOB_TYPE_PATTERN: Final = r"^[^\x00-\x1f\x7f]{1,200}$"
"""A per-type scope: 1-200 characters, no control characters. The type need not be known to
the process that sets the limit (a worker elsewhere may run it)."""
_JOB_TYPE = re.compile(JOB_TYPE_PATTERN)


def check_job_type_name(name: str | None) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not _JOB_TYPE.fullmatch(name):
        raise InvalidRequest(
            f"invalid job type name {str(name)[:80]!r}: 1-{JOB_TYPE_MAX} characters, no control characters"
        )
    return name


def check_concurrency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidRequest(f"invalid concurrency {str(value)[:40]!r}: an integer from 1 to {MAX_CONCURRENCY:,}")
    return value


def check_retry_after(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_RETRY_AFTER_S:
        raise ValueError(f"retry_after must be 0 to {MAX_RETRY_AFTER_S:.0f} seconds, not {value!r}")
    return float(value)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"invalid {name} {str(value)[:40]!r}: a number of seconds")
    return float(value)


@dataclass(slots=True)
class LimitState:
    """One scope's limits (a queue, or a job type within it) and what they hold back now."""

    rate: str | None = None
    """The rate in force ("100/s"): the live one, else the declared one."""
    concurrency: int | None = None
    live_rate: str | None = None
    live_concurrency: int | None = None
    declared_rate: str | None = None
    declared_concurrency: int | None = None
    started: int | None = None
    """Jobs started in the rate's current window (None without a rate limit)."""
    current_rate: float | None = None
    """``started`` per second."""
    running: int = 0
    held: int = 0
    """Jobs of a type waiting in its held list for the limit to free."""
    paused_ms: int = 0
    """Time left of a pause a handler asked for with RateLimited (of this type, or of the whole
    queue with ``scope="queue"``)."""
    throttled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "concurrency": self.concurrency,
            "live_rate": self.live_rate,
            "live_concurrency": self.live_concurrency,
            "declared_rate": self.declared_rate,
            "declared_concurrency": self.declared_concurrency,
            "started": self.started,
            "current_rate": self.current_rate,
            "running": self.running,
            "held": self.held,
            "paused_ms": self.paused_ms,
            "throttled": self.throttled,
        }


@dataclass(slots=True)
class QueueLimits:
    """A queue's own limits and those of each job type limited (or held) in it."""

    queue: str
    limits: LimitState = field(default_factory=LimitState)
    types: dict[str, LimitState] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        s = self.limits
        return bool(s.rate or s.concurrency or self.types)

    @property
    def throttled(self) -> bool:
        return self.limits.throttled or any(t.throttled for t in self.types.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            **self.limits.to_dict(),
            "types": {name: state.to_dict() for name, state in sorted(self.types.items())},
        }


def rate_text(count: str | None, per_ms: str | None) -> str | None:
    if count is None or per_ms is None:
        return None
    return str(Rate(int(count), int(per_ms)))


def scope_config(cfg: dict[str, str], scope: str) -> LimitState:
    """The configured part of a ``LimitState`` from the limits hash (scope '' or '|type')."""
    live_rate = rate_text(cfg.get("rate" + scope), cfg.get("per" + scope))
    declared_rate = rate_text(cfg.get("drate" + scope), cfg.get("dper" + scope))
    live_conc = cfg.get("conc" + scope)
    declared_conc = cfg.get("dconc" + scope)
    return LimitState(
        rate=live_rate or declared_rate,
        concurrency=int(live_conc) if live_conc else (int(declared_conc) if declared_conc else None),
        live_rate=live_rate,
        live_concurrency=int(live_conc) if live_conc else None,
        declared_rate=declared_rate,
        declared_concurrency=int(declared_conc) if declared_conc else None,
    )


def limited_types(cfg: dict[str, str]) -> set[str]:
    """Job types the limits hash says anything about."""
    out = set()
    for name in cfg:
        what, sep, jtype = name.partition("|")
        if sep and what in ("rate", "conc", "drate", "dconc", "pause"):
            out.add(jtype)
    return out
