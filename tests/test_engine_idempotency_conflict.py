"""An idempotency key reused for a different request is a conflict, not the old job (issue 17,
item 11); the same request still gets the original job."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from tickr_app import JobContext, Registry
from tickr_app.core.engine import JobRequest
from tickr_app.core.errors import IdempotencyConflict


class Charge(BaseModel):
    amount: int
    note: str = ""


@pytest.fixture
def charge_types(registry: Registry) -> Registry:
    @registry.job("charge")
    async def charge(payload: Charge, ctx: JobContext) -> None:
        return None

    @registry.job("refund")
    async def refund(payload: Charge, ctx: JobContext) -> None:
        return None

    return registry


@pytest.mark.parametrize(
    "change",
    [
        {"type": "refund"},
        {"payload": {"amount": 11}},
        {"delay": 60},
        {"max_attempts": 2},
    ],
    ids=["type", "payload", "delay", "max_attempts"],
)
async def test_same_key_different_request_is_a_conflict(make_tickr, charge_types: Registry, change: dict) -> None:
    tickr = await make_tickr(workers=0)
    first = await tickr.submit("charge", {"amount": 10}, idempotency_key="order-42")
    asked = {"type": "charge", "payload": {"amount": 10}, **change}
    with pytest.raises(IdempotencyConflict, match="order-42.*different request") as info:
        await tickr.submit(asked.pop("type"), asked.pop("payload"), idempotency_key="order-42", **asked)
    assert info.value.details == {"job_id": first.id}
    assert (await tickr.stats())["default"].enqueued == 1
    # The original request still gets the original job.
    again = await tickr.submit("charge", {"amount": 10}, idempotency_key="order-42")
    assert again.id == first.id


async def test_same_request_with_defaults_spelled_out_or_keys_reordered_is_a_repeat(
    make_tickr, charge_types: Registry
) -> None:
    tickr = await make_tickr(workers=0)
    first = await tickr.submit("charge", {"amount": 10}, idempotency_key="k")
    # The validated payload is what counts: the default note spelled out is the same request.
    same = await tickr.submit("charge", {"note": "", "amount": 10}, idempotency_key="k")
    assert same.id == first.id


async def test_concurrent_conflicting_submits_in_one_batch(make_tickr, charge_types: Registry) -> None:
    """Submits that share one enqueue call (the batcher) still get one job per key, and the
    different request among them the conflict."""
    tickr = await make_tickr(workers=0)
    results = await asyncio.gather(
        *(tickr.submit("charge", {"amount": 10 if i != 7 else 99}, idempotency_key="same") for i in range(20)),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, IdempotencyConflict)]
    jobs = [r for r in results if not isinstance(r, BaseException)]
    assert len(jobs) + len(conflicts) == 20
    assert len({j.id for j in jobs}) == 1
    assert (await tickr.stats())["default"].enqueued == 1
    original = await tickr.get(jobs[0].id)
    # Whichever came first made the job; each request that differs from it is a conflict.
    expected = 19 if original.payload["amount"] == 99 else 1
    assert len(conflicts) == expected


async def test_submit_many_reports_a_conflict(make_tickr, charge_types: Registry) -> None:
    tickr = await make_tickr(workers=0)
    first = await tickr.submit("charge", {"amount": 1}, idempotency_key="a")
    with pytest.raises(IdempotencyConflict, match="request 1") as info:
        await tickr.submit_many(
            [
                JobRequest("charge", {"amount": 5}, idempotency_key="b"),
                JobRequest("charge", {"amount": 2}, idempotency_key="a"),
            ]
        )
    assert info.value.details == [{"index": 1, "job_id": first.id}]
    a, b = await tickr.submit_many(
        [
            JobRequest("charge", {"amount": 1}, idempotency_key="a"),
            JobRequest("charge", {"amount": 5}, idempotency_key="b"),
        ]
    )
    assert a.id == first.id and b.payload == {"amount": 5, "note": ""}


async def test_same_times_as_int_float_or_datetime_are_a_repeat(make_tickr, charge_types: Registry) -> None:
    """The fingerprint uses the normalised times: ``delay=10`` and ``10.0`` (what JSON gives the
    API), or ``run_at`` as epoch seconds and as an aware datetime, are the same request."""
    from datetime import datetime, timezone

    tickr = await make_tickr(workers=0)
    first = await tickr.submit("charge", {"amount": 10}, delay=10, idempotency_key="d")
    assert (await tickr.submit("charge", {"amount": 10}, delay=10.0, idempotency_key="d")).id == first.id
    at = 4_102_444_800  # 2100-01-01T00:00:00Z
    timed = await tickr.submit("charge", {"amount": 10}, run_at=at, idempotency_key="r")
    same = await tickr.submit(
        "charge", {"amount": 10}, run_at=datetime.fromtimestamp(at, timezone.utc), idempotency_key="r"
    )
    assert same.id == timed.id
    assert (await tickr.stats())["default"].enqueued == 2
