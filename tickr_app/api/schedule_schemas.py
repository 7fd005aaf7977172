"""Pydantic models of /api/v1/schedules (request validation and the OpenAPI document)."""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import available_timezones

from pydantic import ConfigDict, Field, field_validator, model_validator

from tickr_app.core.keys import SCHEDULE_ID_PATTERN
from tickr_app.core.slots import CRON_PATTERN, DEFAULT_GRACE_MS, DEFAULT_MAX_CATCHUP, MAX_CATCHUP_LIMIT, MAX_EVERY_MS

from .schemas import QueueName, _integral, _parse_datetime, _Request, _Response

_CRON = re.compile(CRON_PATTERN)
_ZONES = sorted(available_timezones() | {"UTC"})

MAX_EPOCH_S = 1e11
"""The latest start or end (epoch seconds, the year 5138) the core takes."""


def _epoch_schema(schema: dict[str, Any]) -> None:
    schema.pop("anyOf", None)
    schema.pop("default", None)
    schema["anyOf"] = [
        {"type": "number", "minimum": 0, "maximum": MAX_EPOCH_S},
        {"type": "string", "format": "date-time"},
        {"type": "null"},
    ]


def _epoch_seconds(value: Any) -> float | None:
    """Epoch seconds, or an RFC 3339 datetime (read as POST /jobs reads run_at: a time in the
    past is 0, one past the year 5138 is that year's limit), as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, str):
        return min(_parse_datetime(value), MAX_EPOCH_S)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be epoch seconds (a number) or an ISO 8601 datetime (a string)")  # noqa: TRY004
    if not (0 <= float(value) <= MAX_EPOCH_S):
        raise ValueError(f"must be epoch seconds from 0 to {MAX_EPOCH_S:g}")
    return float(value)


def _cron_schema(schema: dict[str, Any]) -> None:
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "string":
            branch["pattern"] = CRON_PATTERN


class UpsertSchedule(_Request):
    """Body of ``PUT /api/v1/schedules/{id}``: creates the schedule or updates it in place
    (its next run is kept unless cron, every, tz, start or end change). Exactly one of
    ``cron`` and ``every``."""

    # Exactly one of cron and every with a value (an explicit null counts as absent, as it does
    # in validation), so a request the document allows is one the server takes.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["cron"], "properties": {"cron": {"type": "string"}}},
                {"required": ["every"], "properties": {"every": {"type": "number"}}},
            ]
        }
    )

    type: str = Field(min_length=1, max_length=200, description="a registered job type", examples=["report"])
    payload: Any = Field(
        default=None,
        description="the payload of every run, validated against the job type's schema; default {}",
        json_schema_extra={"type": ["object", "null"]},
    )
    cron: str | None = Field(
        default=None,
        max_length=200,
        description="5 fields (minute hour day month weekday), or 6 with seconds first; @daily etc.",
        examples=["0 9 * * MON-FRI"],
        json_schema_extra=_cron_schema,
    )
    every: float | None = Field(
        default=None, ge=0.01, le=MAX_EVERY_MS / 1000, description="interval in seconds (0.01 to 10 years)", examples=[300]
    )
    tz: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of cron (default UTC)",
        # The document lists the zones this server knows, so a client that follows it is never refused.
        json_schema_extra={"anyOf": [{"type": "string", "enum": _ZONES}, {"type": "null"}]},
    )
    start: float | None = Field(
        default=None, description="no run before (epoch seconds or ISO 8601)", json_schema_extra=_epoch_schema
    )
    end: float | None = Field(
        default=None,
        description="no run after (epoch seconds or ISO 8601); not before start",
        json_schema_extra=_epoch_schema,
    )
    paused: bool | None = Field(default=None, description="omit to keep the current state (new: running)")
    misfire: Literal["skip", "once", "all"] = Field(
        default="skip", description="runs missed by more than misfire_grace (no scheduler ran): skip, run once, run all"
    )
    misfire_grace: float = Field(
        default=DEFAULT_GRACE_MS / 1000, ge=1, le=7 * 86400, description="seconds (at least 1)"
    )
    max_catchup: int = Field(
        default=DEFAULT_MAX_CATCHUP, ge=1, le=MAX_CATCHUP_LIMIT, description="misfire=all keeps this many"
    )
    overlap: Literal["allow", "skip"] = Field(
        default="allow", description="skip a run while the previous one is unfinished"
    )
    max_attempts: int | None = Field(default=None, ge=1, le=1000, description="default: the job type's")
    queue: QueueName | None = Field(default=None, description="default: the job type's queue; fixed once created")

    _ints = field_validator("max_attempts", "max_catchup", mode="before")(_integral)
    _times = field_validator("start", "end", mode="before")(_epoch_seconds)

    @field_validator("cron")
    @classmethod
    def _cron_syntax(cls, value: str | None) -> str | None:
        # The document's pattern, checked here with a readable message (not the pattern itself).
        if value is not None and not _CRON.fullmatch(value):
            raise ValueError(
                "must be a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first, "
                "each *, a number in range, a range a-b, a list, with /step; or @daily, @hourly, ..."
            )
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> UpsertSchedule:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron and every")
        return self


class ScheduleOut(_Response):
    """A schedule. Times are Unix epoch milliseconds (Redis clock)."""

    id: str = Field(pattern=SCHEDULE_ID_PATTERN, examples=["nightly-report"])
    queue: str
    type: str
    payload: Any
    cron: str | None
    every: float | None = Field(description="seconds")
    tz: str
    start_at: int | None
    end_at: int | None
    paused: bool
    misfire: Literal["skip", "once", "all"]
    misfire_grace: float
    max_catchup: int
    overlap: Literal["allow", "skip"]
    next_run_at: int | None = Field(description="null when paused past its end, or ended")
    last_slot: int | None
    last_run_at: int | None
    last_job_id: str | None
    last_status: str | None = Field(description="status of the last run's job; 'expired' once its record is gone")
    fired: int
    skipped: int = Field(description="slots not run: missed (misfire policy) or overlapping")
    triggered: int
    revision: int
    created_at: int | None
    updated_at: int | None
    upcoming: list[int] = Field(default_factory=list, description="the next five run times")


class ScheduleList(_Response):
    schedules: list[ScheduleOut]


class TriggerOut(_Response):
    schedule_id: str
    job_id: str


class DeletedScheduleOut(_Response):
    id: str
    deleted: Literal[True]
