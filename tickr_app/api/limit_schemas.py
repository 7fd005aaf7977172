"""Pydantic models of /api/v1/queues/{name}/limits (requests and responses)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tickr_app.core.errors import InvalidRequest
from tickr_app.core.limits import MAX_CONCURRENCY, RATE_PATTERN, RATE_RULE, parse_rate

RATE_EXAMPLES = ["100/s", "10/min", "5/30s"]


class _Request(BaseModel):  # as schemas._Request (schemas.py imports this module)
    model_config = ConfigDict(extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _integral(value: Any) -> Any:
    """3.0 is an integer in JSON Schema: accept it; 3.5, "3" and true stay errors."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class SetLimits(_Request):
    """Body of ``PUT /api/v1/queues/{name}/limits[/{type}]``: a field given sets that limit, a
    field given as null removes the live one, a field left out stays as it is. At least one."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    rate: str | None = Field(
        default=None,
        pattern=RATE_PATTERN,
        description=f"at most N jobs started per period, across every process: {RATE_RULE}",
        examples=RATE_EXAMPLES,
    )
    concurrency: int | None = Field(
        default=None, ge=1, le=MAX_CONCURRENCY, description="at most this many running at once, across every process"
    )

    _concurrency_integral = field_validator("concurrency", mode="before")(_integral)

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Any:
        """Before the pattern check, so a wrong rate's 422 states the rule ("100/s", "10/min"),
        not the regular expression the OpenAPI document carries."""
        if not isinstance(value, str):
            return value  # null, or a wrong type that strict mode refuses
        try:
            return str(parse_rate(value))
        except InvalidRequest as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="before")
    @classmethod
    def _something(cls, data: Any) -> Any:
        if isinstance(data, dict) and not ({"rate", "concurrency"} & set(data)):
            raise ValueError("give rate and/or concurrency (null removes one)")
        return data


class LimitStateOut(_Response):
    """One scope's limits (in force, set live, declared on @job) and what they hold back now."""

    rate: str | None = Field(description="the rate in force: the live one, else the declared one")
    concurrency: int | None
    live_rate: str | None
    live_concurrency: int | None
    declared_rate: str | None = Field(description="declared with @job(rate_limit=...)")
    declared_concurrency: int | None
    started: int | None = Field(description="jobs started in the rate's current window (null without a rate)")
    current_rate: float | None = Field(description="started per second")
    running: int
    held: int = Field(description="jobs waiting for the limit to free (neither failed nor counted as an attempt)")
    paused_ms: int = Field(description="time left of a pause a handler asked for with RateLimited")
    throttled: bool


class QueueLimitsOut(LimitStateOut):
    """A queue's own limits, and each job type's in it (a per-type limit is scoped to its queue)."""

    queue: str
    types: dict[str, LimitStateOut]


class TypeLimitsOut(LimitStateOut):
    queue: str
    job_type: str
