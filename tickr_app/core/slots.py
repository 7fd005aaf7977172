"""Slot arithmetic for schedules: pure functions over epoch milliseconds, no I/O.

A schedule's *slots* are the instants it is due. Cron expressions are evaluated by cronsim in
the schedule's time zone (zoneinfo); intervals (``every``) are absolute durations anchored at
``start`` (or the Unix epoch), so time zones do not affect them.

DST rule (cron only; it is cronsim's, which follows Debian cron, and tests pin it):
- spring forward: a local time that does not exist that day (02:30 when clocks jump 02:00 →
  03:00) runs **once, at the first valid instant after the gap** (03:00 local);
- fall back: a local time that happens twice (02:30 when clocks go 03:00 → 02:00) runs **once,
  at its first occurrence**. Expressions with a wildcard hour (``0 * * * *``) follow real time:
  one slot per real hour, so the repeated hour has its own slot, never the same instant twice.
Slots are strictly increasing instants, so no slot can fire twice whatever the zone does.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import InvalidRequest

Misfire = Literal["skip", "once", "all"]
Overlap = Literal["allow", "skip"]
MISFIRE_POLICIES: tuple[Misfire, ...] = ("skip", "once", "all")
OVERLAP_POLICIES: tuple[Overlap, ...] = ("allow", "skip")

MIN_EVERY_MS = 10
MAX_EVERY_MS = 10 * 365 * 24 * 3600 * 1000
DEFAULT_GRACE_MS = 60_000
"""A slot fired within this long after its time is late, not missed: it always fires. Later
than that it is a *misfire* (nobody ran a scheduler) and the schedule's policy decides."""
DEFAULT_MAX_CATCHUP = 100
MAX_CATCHUP_LIMIT = 10_000
MAX_FIRE_PER_TICK = 500
"""Slots fired per schedule per script call; the rest follow in the next call at once."""
_COUNT_LIMIT = 100_000
"""Missed cron slots counted one by one at most (a year of minutes is 525,600)."""


CRON_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _ci(word: str) -> str:
    """``word`` matched case-insensitively without flags (JSON Schema patterns have none)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def _names(names: str) -> str:
    return "|".join(_ci(n) for n in names.split())


def _field(value: str, extra_atoms: str = "", extra_items: str = "") -> str:
    """One cron field as cronsim reads it: a list of items; an item is ``*``, a value or a
    range of values, with an optional ``/step`` (step at least 1); ``extra`` adds L, LW, 5L, 1#2."""
    atom = rf"(?:\*|(?:{value})(?:-(?:{value}))?{extra_atoms})"
    item = rf"(?:{atom}(?:/0*[1-9][0-9]*)?{extra_items})"
    return rf"{item}(?:,{item})*"


_SECOND = _field(r"0*[1-5]?[0-9]")
_HOUR = _field(r"0*(?:1?[0-9]|2[0-3])")
_DAY = _field(r"0*(?:[1-9]|[12][0-9]|3[01])", extra_atoms=rf"|{_ci('LW')}|{_ci('L')}")
_MONTH = _field(rf"0*(?:[1-9]|1[0-2])|{_names('JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC')}")
_DOW_VALUE = rf"0*[0-7]|{_names('SUN MON TUE WED THU FRI SAT')}"
_DOW = _field(_DOW_VALUE, extra_items=rf"|0*[0-7][Ll]|(?:{_DOW_VALUE})#0*[1-5]")
_SEP = r"[ \t]+"
CRON_PATTERN = (
    rf"^[ \t]*(?:(?:{_SECOND}{_SEP})?{_SECOND}{_SEP}{_HOUR}{_SEP}{_DAY}{_SEP}{_MONTH}{_SEP}{_DOW}"
    rf"|@(?:{_names(' '.join(n[1:] for n in CRON_NICKNAMES))}))[ \t]*$"
)
"""Every cron expression cronsim can read, as a regular expression (5 fields, or 6 with seconds
first; names and L, LW, 5L, 1#2 as cronsim has them; @nicknames), for the OpenAPI document and
request validation. What a pattern cannot say stays a 422 from make_timing: a range going
backwards (5-3, FRI-MON), a day no month of the expression has (30 2 *), fields that never meet."""


def field_error(field_name: str, message: str) -> InvalidRequest:
    """An InvalidRequest naming the offending field (the API turns it into a 422 with details)."""
    return InvalidRequest(
        f"{field_name}: {message}", details=[{"field": field_name, "message": message, "type": "value_error"}]
    )


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule is due: a cron expression in a zone, or a fixed interval; within
    [start, end] (epoch ms, inclusive) when given."""

    cron: str | None = None
    every_ms: int | None = None
    tz: str = "UTC"
    start_ms: int | None = None
    end_ms: int | None = None

    @property
    def signature(self) -> str:
        """Equal for equal timings: the stored next slot is kept when an upsert leaves it alone."""
        return f"{self.cron or ''}|{self.every_ms or ''}|{self.tz}|{_opt(self.start_ms)}|{_opt(self.end_ms)}"

    def describe(self) -> str:
        if self.cron:
            return f"cron {self.cron} ({self.tz})"
        return f"every {format_interval(self.every_ms or 0)}"


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def make_timing(
    *,
    cron: str | None = None,
    every_ms: int | None = None,
    tz: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Timing:
    """Validate and build a Timing; raises InvalidRequest naming the field at fault."""
    if (cron is None) == (every_ms is None):
        raise field_error("cron", "give exactly one of cron and every")
    zone_name = tz or "UTC"
    try:
        zone: ZoneInfo | timezone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # "Europe" is a folder: IsADirectoryError
        raise field_error(
            "tz", f"unknown time zone {zone_name[:60]!r} (use an IANA name such as Europe/Berlin)"
        ) from None
    if cron is not None:
        cron = " ".join(cron.split())
        cron = CRON_NICKNAMES.get(cron.lower(), cron)
        if not cron or len(cron) > 200:
            raise field_error("cron", "must be a cron expression of 5 fields (or 6, seconds first)")
        try:
            CronSim(cron, datetime(2030, 1, 1, tzinfo=timezone.utc))
        except (CronSimError, ValueError, KeyError, IndexError) as exc:
            raise field_error("cron", f"invalid cron expression {cron[:60]!r}: {exc}") from None
    if every_ms is not None and not (MIN_EVERY_MS <= every_ms <= MAX_EVERY_MS):
        raise field_error("every", f"must be between {MIN_EVERY_MS / 1000:g} s and 10 years")
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise field_error("end", "must not be before start")
    del zone
    timing = Timing(cron, every_ms, zone_name, start_ms, end_ms)
    if cron is not None and next_after(timing, (start_ms or 0) - 1) is None and end_ms is None:
        raise field_error("cron", f"the expression {cron!r} never matches")
    return timing


def to_ms(value: datetime | float | int | None, field_name: str) -> int | None:
    """A datetime (aware) or epoch seconds as epoch ms."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise field_error(field_name, "a datetime needs a time zone (e.g. datetime(..., tzinfo=timezone.utc))")
        return round(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value <= 1e11):
        raise field_error(field_name, "must be an aware datetime or epoch seconds")
    return round(value * 1000)


def interval_ms(value: timedelta | float | int | None, field: str = "every") -> int | None:
    """A duration in milliseconds; ``field`` is what a refusal names (``every``, ``misfire_grace``)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return round(value.total_seconds() * 1000)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (-1e12 <= value <= 1e12):
        raise field_error(field, "must be a timedelta or a number of seconds up to 10 years")
    return round(value * 1000)


# -- slots ---------------------------------------------------------------------------------


def _dt(ms: int, zone: ZoneInfo | timezone) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(zone)


def _ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def _zone(t: Timing) -> ZoneInfo:
    return ZoneInfo(t.tz)  # zoneinfo caches instances by name


def next_after(t: Timing, after_ms: int) -> int | None:
    """The first slot strictly after ``after_ms`` (and not before start); None past the end."""
    if t.start_ms is not None and after_ms < t.start_ms:
        after_ms = t.start_ms - 1
    if t.every_ms:
        anchor = t.start_ms or 0
        if after_ms < anchor:
            slot = anchor
        else:
            slot = anchor + ((after_ms - anchor) // t.every_ms + 1) * t.every_ms
    else:
        assert t.cron is not None
        try:
            slot = _ms(next(iter(CronSim(t.cron, _dt(after_ms, _zone(t))))))
        except (StopIteration, CronSimError):
            return None
        # cronsim works in whole seconds: a slot within the same second as after_ms may repeat.
        while slot <= after_ms:
            try:
                slot = _ms(next(iter(CronSim(t.cron, _dt(slot, _zone(t))))))
            except (StopIteration, CronSimError):
                return None
    if t.end_ms is not None and slot > t.end_ms:
        return None
    return slot


def prev_before(t: Timing, before_ms: int) -> int | None:
    """The last slot strictly before ``before_ms`` (not before start, not after end); None if none."""
    if t.end_ms is not None and before_ms > t.end_ms:
        before_ms = t.end_ms + 1
    if t.every_ms:
        anchor = t.start_ms or 0
        if before_ms <= anchor:
            return None
        slot = anchor + ((before_ms - anchor - 1) // t.every_ms) * t.every_ms
    else:
        assert t.cron is not None
        try:
            it = CronSim(t.cron, _dt(before_ms, _zone(t)), reverse=True)
            slot = _ms(next(it))
            while slot >= before_ms:
                slot = _ms(next(it))
        except (StopIteration, CronSimError):
            return None
    if t.start_ms is not None and slot < t.start_ms:
        return None
    return slot


def upcoming(t: Timing, after_ms: int, n: int) -> list[int]:
    """The next ``n`` slots after ``after_ms`` (fewer when the schedule ends)."""
    out: list[int] = []
    cursor = after_ms
    while len(out) < n:
        slot = next_after(t, cursor)
        if slot is None:
            break
        out.append(slot)
        cursor = slot
    return out


def count_slots(t: Timing, first_ms: int, before_ms: int) -> int:
    """How many slots lie in [first_ms, before_ms) (cron: counted up to a limit)."""
    if before_ms <= first_ms:
        return 0
    if t.every_ms:
        anchor = t.start_ms or 0
        lo = max(first_ms, anchor)
        if t.end_ms is not None:
            before_ms = min(before_ms, t.end_ms + 1)
        if before_ms <= lo:
            return 0
        first_k = -((anchor - lo) // t.every_ms)  # ceil((lo - anchor) / every)
        last_k = (before_ms - 1 - anchor) // t.every_ms
        return max(0, last_k - first_k + 1)
    n = 0
    slot: int | None = next_after(t, first_ms - 1)
    while slot is not None and slot < before_ms and n < _COUNT_LIMIT:
        n += 1
        slot = next_after(t, slot)
    return n


# -- what to fire now ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What one scheduler tick does for one schedule: fire these slots, count ``skipped`` as
    missed, and move the schedule's next slot to ``next_ms`` (-1: the schedule has ended)."""

    fire: tuple[int, ...]
    skipped: int
    next_ms: int


def plan_due(
    t: Timing,
    next_ms: int,
    now_ms: int,
    *,
    misfire: Misfire = "skip",
    grace_ms: int = DEFAULT_GRACE_MS,
    max_catchup: int = DEFAULT_MAX_CATCHUP,
) -> Plan:
    """Decide what to fire at ``now_ms`` for a schedule whose stored next slot is ``next_ms``.

    Slots at most ``grace_ms`` late fire, each once. Older ones were missed (no scheduler ran):
    ``skip`` drops them, ``once`` fires one job for all of them (the latest missed slot), and
    ``all`` fires each, keeping the ``max_catchup`` latest. Never fires a slot after ``now_ms``.
    """
    if next_ms < 0 or next_ms > now_ms:
        return Plan((), 0, next_ms)
    cutoff = now_ms - grace_ms
    fire: list[int] = []
    skipped = 0
    if next_ms < cutoff:
        missed = count_slots(t, next_ms, cutoff) or 1
        if misfire == "once":
            latest = prev_before(t, cutoff)
            fire.append(latest if latest is not None and latest >= next_ms else next_ms)
            skipped = missed - 1
        elif misfire == "all":
            keep = min(missed, max(1, max_catchup), MAX_FIRE_PER_TICK)
            recent: deque[int] = deque()
            cursor = cutoff
            while len(recent) < keep:
                slot = prev_before(t, cursor)
                if slot is None or slot < next_ms:
                    break
                recent.appendleft(slot)
                cursor = slot
            fire.extend(recent)
            skipped = missed - len(recent)
        else:
            skipped = missed
        slot = next_after(t, cutoff - 1)
    else:
        slot = next_ms
    while slot is not None and slot <= now_ms:
        if len(fire) >= MAX_FIRE_PER_TICK:
            # The rest on the next call: the next slot stays a due one, nothing is skipped.
            return Plan(tuple(fire), skipped, slot)
        fire.append(slot)
        slot = next_after(t, slot)
    return Plan(tuple(fire), skipped, -1 if slot is None else slot)


def format_interval(ms: int) -> str:
    if ms % 86_400_000 == 0:
        return f"{ms // 86_400_000}d"
    if ms % 3_600_000 == 0:
        return f"{ms // 3_600_000}h"
    if ms % 60_000 == 0:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def parse_interval(text: str) -> int:
    """'90s', '5m', '1h30m', '2d', '250ms' or plain seconds ('1.5') as ms, for the CLI and TUI."""
    import re

    s = text.strip().lower().replace(" ", "")
    if not s:
        raise field_error("every", "empty interval")
    try:
        seconds = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise field_error("every", f"cannot read interval {text[:40]!r} (e.g. 30s, 5m, 1h30m, 2d)")
        return round(seconds * 1000)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise field_error("every", f"cannot read interval {text[:40]!r} (e.g. 30s, 5m, 1h30m, 2d)")
    unit = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    return round(sum(float(n) * unit[u] for n, u in parts))
