"""Small text helpers shared by the widgets: ids, durations, countdowns, progress bars.

Everything returns plain ``str`` or ``rich.text.Text`` (never markup strings), so job data such
as error messages containing ``[`` is shown verbatim.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.text import Text

BAR_WIDTH = 10


def now_ms() -> int:
    return int(time.time() * 1000)


def short_id(job_id: str | None, n: int = 8) -> str:
    return (job_id or "")[:n]


def duration(seconds: float) -> str:
    """Compact, fixed-ish width: 0.4s, 12s, 3m05s, 2h07m, 3d04h."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def ago(ms: int | None, now: int | None = None) -> str:
    if not ms:
        return ""
    now = now_ms() if now is None else now
    return f"{duration((now - ms) / 1000)} ago"


def countdown(due_ms: int | None, now: int | None = None) -> str:
    if not due_ms:
        return ""
    now = now_ms() if now is None else now
    left = (due_ms - now) / 1000
    return "due" if left <= 0 else f"in {duration(left)}"


def clock(ms: int | None) -> str:
    """Local date and time of an epoch-ms timestamp."""
    if not ms:
        return "—"
    t = time.localtime(ms / 1000)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{ms % 1000:03d}"


def progress_bar(percent: float, style: str = "", width: int = BAR_WIDTH) -> Text:
    """``━━━━━━━━━━  52%`` as Text: the filled part in ``style``, the rest dim."""
    percent = max(0.0, min(100.0, percent))
    full = round(percent / 100 * width)
    text = Text(no_wrap=True)
    text.append("━" * full, style=style or "bold")
    text.append("━" * (width - full), style="dim")
    text.append(f" {percent:3.0f}%")
    return text


def one_line(value: Any, limit: int = 80) -> str:
    """A value (str or JSON-able) on one line, cut to ``limit`` characters."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty_json(value: Any) -> str:
    if value is None:
        return "null"
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def plain(value: Any, style: str = "") -> Text:
    """Text that is never parsed as markup."""
    return Text("" if value is None else str(value), style=style, no_wrap=True, overflow="ellipsis")


def lag_ms(value: float) -> str:
    """An event-loop lag: 3 ms, 120 ms, 1.4 s."""
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def loop_lag_text(current_ms: float, offender: str, offender_ms: float) -> str:
    """``loop 2 ms`` and, after a stall, who held the loop last: ``· last stall 320 ms: job x 1a2b3c4d``."""
    text = f"loop {lag_ms(current_ms)}"
    if offender:
        who = offender
        if who.startswith("job "):
            _, job_type, *rest = who.split(" ")
            who = f"job {job_type} {short_id(rest[0]) if rest else ''}".rstrip()
        elif len(who) > 60:
            who = who[:59] + "…"
        text += f" · last stall {lag_ms(offender_ms)}: {who}"
    return text


def pool_state(paused: bool, concurrency: int, colors: dict[str, str]) -> Text:
    """A pool's state word: ``paused``, ``scaled to 0`` (no slot takes jobs), or ``running``."""
    if paused:
        return Text("paused", style=f"bold {colors.get('warning', '')}")
    if concurrency <= 0:
        return Text("scaled to 0", style=f"bold {colors.get('warning', '')}")
    return Text("running", style=colors.get("success", ""))
