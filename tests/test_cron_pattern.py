"""CRON_PATTERN (core/slots.py), the cron syntax the OpenAPI document states and PUT
/api/v1/schedules checks: every expression it allows is one make_timing takes, except the faults
a regular expression cannot state (a range going backwards, a day no month of it has, fields
that never meet), and what it refuses cronsim would refuse too."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickr_app.core.errors import InvalidRequest
from tickr_app.core.slots import CRON_NICKNAMES, CRON_PATTERN, make_timing

CRON = re.compile(CRON_PATTERN)
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def _value(text: str, names: list[str], first: int) -> int:
    text = text.upper()
    return names.index(text) + first if text in names else int(text)


def _values(field: str, names: list[str], first: int, last: int) -> set[int]:
    """The plain numbers a day or month field names (L, LW: none); ranges already checked."""
    out: set[int] = set()
    for item in field.split(","):
        term, _, step = item.partition("/")
        if term.upper() in ("L", "LW"):
            continue
        if term == "*":
            lo, hi = first, last
        elif "-" in term:
            a, b = term.split("-")
            lo, hi = _value(a, names, first), _value(b, names, first)
        else:
            lo = _value(term, names, first)
            hi = last if step else lo
        out.update(range(lo, hi + 1)[:: int(step or 1)])
    return out


def semantic_fault(expr: str) -> str | None:
    """Why cronsim refuses a pattern-valid expression, or None when it must take it."""
    fields = expr.split()
    if len(fields) == 1:
        return None  # a nickname
    if len(fields) == 5:
        fields.insert(0, "0")
    for i, field in enumerate(fields):
        names, first = (_MONTHS, 1) if i == 4 else (_DAYS, 0) if i == 5 else ([], 0)
        for item in field.split(","):
            term = item.split("/")[0]
            if "-" in term:
                a, b = term.split("-")
                if _value(a, names, first) > _value(b, names, first):
                    return f"range {term} goes backwards"
    day, month, dow = fields[3], fields[4], fields[5]
    if day.startswith("*") or dow.startswith("*"):  # day AND weekday: the day must exist
        days = _values(day, [], 1, 31)
        if (
            "L" not in day.upper()
            and days
            and min(days) > max(_MONTH_DAYS[m - 1] for m in _values(month, _MONTHS, 1, 12))
        ):
            return f"day {min(days)} in none of the months {month}"
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.from_regex(CRON, fullmatch=True).filter(lambda s: len(s) <= 200))
def test_every_expression_the_pattern_allows_is_taken_unless_semantically_wrong(expr: str) -> None:
    fault = semantic_fault(expr)
    try:
        make_timing(cron=expr)
    except InvalidRequest as exc:
        if "never matches" in exc.message:  # read, but no instant meets it (day 1 AND the 4th Wednesday)
            fault = fault or "never matches"
        assert fault is not None, f"{expr!r} matches the pattern, has no semantic fault, and was refused: {exc}"
        assert exc.details[0]["field"] == "cron"
    else:
        assert fault is None, f"{expr!r} was taken though {fault}"


@pytest.mark.parametrize(
    "expr",
    ["0 9 * * MON-FRI", "*/5 * * * *", "0 0 L * *", "0 0 lw * *", "0 0 * * 5L", "0 0 * * mon#2", "30 0 0 1 1 *",
     "1-10/2,15 * * jan-mar *", "0 0 29 2 *", "00 09 * * 7", " 5 4 * * * ", "0\t0 * * *",
     *CRON_NICKNAMES, "@Daily"],
)  # fmt: skip
def test_valid_expressions_match_and_are_taken(expr: str) -> None:
    assert CRON.fullmatch(expr)
    make_timing(cron=expr)


@pytest.mark.parametrize(
    "expr",
    ["", "*", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *",
     "* * * * 8", "*/0 * * * *", "1-99/0 * * * *", "* * * * L", "* * * * 1#6", "* * * * MON-FRIL", "5/2/3 * * * *",
     "@never", "L W # ?", "* * ? * *", "* * 15W * *", "*-5 * * * *", "1,,2 * * * *", "０ 0 * * *"],
)  # fmt: skip
def test_the_pattern_refuses_what_cronsim_refuses(expr: str) -> None:
    assert not CRON.fullmatch(expr)
    with pytest.raises(InvalidRequest):
        make_timing(cron=expr)
