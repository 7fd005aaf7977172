"""Job priorities: the one range rule (engine, registry, HTTP API, CLI) and how the Lua
scripts score a prioritised ready job (see ``push_ready`` in lua/_common.lua)."""

from __future__ import annotations

from typing import Final

from .errors import InvalidRequest

MIN_PRIORITY: Final = -100
MAX_PRIORITY: Final = 100
PRIORITY_RULE: Final = f"an integer from {MIN_PRIORITY} to {MAX_PRIORITY} (higher runs first; 0 is the default)"

_STEP: Final = 2**44
_MID: Final = 2**43


def is_priority(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_PRIORITY <= value <= MAX_PRIORITY


def check_priority(value: object, field: str = "priority") -> int:
    """``value`` if it is a valid priority, else ``InvalidRequest`` naming the field and rule."""
    if not is_priority(value):
        raise InvalidRequest(
            f"{field} must be {PRIORITY_RULE}",
            details=[{"field": field, "message": f"must be {PRIORITY_RULE}", "type": "priority"}],
        )
    return value  # type: ignore[return-value]


def priority_of_score(score: float) -> int:
    """The priority a score in a queue's priority set stands for."""
    return -round((score - _MID) / _STEP)
