"""Whatever a Python caller passes to ``submit``/``submit_many``, a bad option is one clear
``InvalidRequest`` (what the API and CLI turn into a 4xx / one line), never a TypeError,
ValueError or OverflowError from deep inside, and nothing is enqueued. A naive datetime is
refused like schedules' start/end and the API's ISO times: read as local time, the due time
would depend on the machine that submitted it."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from tickr_app import Registry
from tickr_app.core.errors import InvalidRequest


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"run_at": "abc"}, "run_at must be epoch seconds or a datetime with a time zone, not str"),
        ({"run_at": "1700000000"}, "run_at must be epoch seconds"),
        ({"run_at": True}, "run_at must be epoch seconds"),
        ({"run_at": float("nan")}, "run_at is out of range"),
        ({"run_at": datetime(1, 1, 1, tzinfo=timezone.utc)}, "run_at is out of range"),
        ({"run_at": datetime(1, 1, 1)}, "run_at: a datetime needs a time zone"),
        ({"run_at": datetime(2030, 1, 1)}, "run_at: a datetime needs a time zone"),
        ({"delay": "5"}, "delay must be a number of seconds"),
        ({"max_attempts": "3"}, "max_attempts must be an integer"),
        ({"max_attempts": 2.5}, "max_attempts must be an integer"),
        ({"idempotency_key": 5}, "idempotency key must be a string, not int"),
    ],
    ids=[
        "run_at-text",
        "run_at-numeric-text",
        "run_at-bool",
        "run_at-nan",
        "run_at-year-1",
        "run_at-naive-year-1",
        "run_at-naive",
        "delay-text",
        "max_attempts-text",
        "max_attempts-float",
        "key-int",
    ],
)
async def test_bad_option_types_are_invalid_request(make_tickr, registry: Registry, options: dict, message: str) -> None:
    @registry.job("tick")
    async def tick(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=0)
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        await tickr.submit("tick", {}, **options)
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        await tickr.submit_many([{"type": "tick", **options}])
    assert (await tickr.stats())["default"].enqueued == 0


async def test_good_options_still_work(make_tickr, registry: Registry) -> None:
    @registry.job("tick")
    async def tick(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=0)
    at = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert (await tickr.submit("tick", {}, run_at=at)).due_at == round(at.timestamp() * 1000)
    assert (await tickr.submit("tick", {}, run_at=1_900_000_000)).due_at == 1_900_000_000_000
    assert (await tickr.submit("tick", {}, delay=5, max_attempts=3, idempotency_key="k")).max_attempts == 3
