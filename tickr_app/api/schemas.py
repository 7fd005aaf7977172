"""Pydantic models of the HTTP API: the request models validate bodies, and every model feeds
the OpenAPI document, so the document cannot drift from what the server accepts."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from tickr_app.core.engine import MAX_DELAY_S
from tickr_app.core.job import STATUSES

MAX_BODY_BYTES = 1024**2
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 50
MAX_IDEMPOTENCY_KEY = 200
MAX_CONCURRENCY = 10_000

QUEUE_NAME_PATTERN = r"^[^\x00-\x20\x7f{}:,/]{1,100}$"
_QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,200}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

Status = Literal["waiting", "ready", "active", "succeeded", "dead", "cancelled"]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]


def is_queue_name(value: str) -> bool:
    return bool(_QUEUE_NAME.match(value)) and _encodable(value)


def is_job_id(value: str) -> bool:
    return bool(_UUID.match(value))


def is_idempotency_key(value: str) -> bool:
    return bool(_IDEMPOTENCY_KEY.match(value))


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


QueueName = Annotated[
    str,
    Field(
        pattern=QUEUE_NAME_PATTERN,
        description="1-100 characters; no spaces, control characters, braces, colons, commas or slashes",
        examples=["default"],
    ),
]


# -- requests --------------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _integral(value: Any) -> Any:
    """JSON Schema's "integer" includes 3.0: accept it where an int is expected (strict mode
    would not); 3.5, "3" and true stay errors."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class SubmitJob(_Request):
    """Body of ``POST /api/v1/jobs``. The server generates the job id. A field given as null
    counts as left out."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "description": "delay and run_at exclude each other",
                "required": ["delay", "run_at"],
                "properties": {"delay": {"type": "number"}, "run_at": {"type": ["number", "string"]}},
            }
        }
    )

    type: str = Field(min_length=1, max_length=200, description="a registered job type", examples=["email"])
    payload: Any = Field(
        default=None,
        description="validated against the job type's payload schema (see GET /job-types); default {}",
        json_schema_extra={"type": ["object", "null"]},
    )
    delay: float | None = Field(default=None, ge=0, le=MAX_DELAY_S, description="seconds from now")
    run_at: float | Annotated[str, Field(json_schema_extra={"format": "date-time"})] | None = Field(
        default=None,
        description="when to run: epoch seconds, or an ISO 8601 datetime with a UTC offset "
        "(e.g. 2030-01-01T09:00:00Z); a time in the past runs at once",
    )
    max_attempts: int | None = Field(default=None, ge=1, le=1000, description="default: the job type's")
    queue: QueueName | None = Field(default=None, description="default: the job type's queue")

    _max_attempts_integral = field_validator("max_attempts", mode="before")(_integral)

    @field_validator("type", "queue")
    @classmethod
    def _utf8(cls, value: str | None) -> str | None:
        if value is not None and not _encodable(value):
            raise ValueError("must be valid Unicode text")
        return value

    @field_validator("run_at")
    @classmethod
    def _epoch_seconds(cls, value: float | str | None) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("must be epoch seconds or an ISO 8601 datetime") from None
            if when.tzinfo is None or when.utcoffset() is None:
                raise ValueError("an ISO 8601 datetime needs a UTC offset, e.g. 2030-01-01T09:00:00Z")
            try:
                seconds = when.timestamp()
            except (OverflowError, OSError, ValueError):
                seconds = 0.0 if when.year < 1970 else float("inf")
            seconds = max(0.0, seconds)  # any time in the past means now
        else:
            seconds = float(value)
        if not (0 <= seconds <= time.time() + MAX_DELAY_S):
            years = MAX_DELAY_S // (365 * 24 * 3600)
            raise ValueError(f"must be at most {years} years from now (epoch seconds from 0)")
        return seconds

    @model_validator(mode="after")
    def _one_time(self) -> SubmitJob:
        if self.delay is not None and self.run_at is not None:
            raise ValueError("give either delay or run_at, not both")
        return self


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class UpdateWorker(_Request):
    """Body of ``PATCH /api/v1/workers/{id}``: at least one field."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    concurrency: Annotated[int, Field(ge=0, le=MAX_CONCURRENCY)] | SkipJsonSchema[None] = Field(
        default=None, description="slots of the pool", json_schema_extra=_no_default
    )
    paused: bool | SkipJsonSchema[None] = Field(
        default=None, description="pause (true) or resume (false) this process's pool", json_schema_extra=_no_default
    )

    _concurrency_integral = field_validator("concurrency", mode="before")(_integral)

    @field_validator("concurrency", "paused")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null (leave the field out instead)")
        return value

    @model_validator(mode="after")
    def _something(self) -> UpdateWorker:
        if self.concurrency is None and self.paused is None:
            raise ValueError("give concurrency and/or paused")
        return self


class ListJobsQuery(_Request):
    """Query of ``GET /api/v1/jobs``. Without ``status``, jobs of every status are listed in
    the order active, ready, waiting, dead, succeeded, cancelled until ``limit`` is reached."""

    model_config = ConfigDict(extra="ignore", strict=False)

    queue: QueueName = "default"
    status: Status | None = None
    limit: int = Field(default=DEFAULT_LIST_LIMIT, ge=1, le=MAX_LIST_LIMIT)

    @field_validator("queue")
    @classmethod
    def _utf8(cls, value: str) -> str:
        if not _encodable(value):
            raise ValueError("must be valid Unicode text")
        return value


# -- responses -------------------------------------------------------------------------------


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobOut(_Response):
    """A job. Times are Unix epoch milliseconds (Redis clock)."""

    id: str = Field(examples=["6f1c2b1e-9a57-4e8e-8a53-8f0f3c2d1a00"])
    type: str
    queue: str
    status: Status
    payload: Any
    attempts: int
    max_attempts: int
    created_at: int | None
    due_at: int | None
    started_at: int | None = None
    finished_at: int | None = None
    progress: float = 0.0
    progress_message: str = ""
    result: Any = None
    error: str | None = Field(default=None, description="the last attempt's error")
    traceback: str | None = Field(default=None, description="the last attempt's traceback (from the job's handler)")
    worker: str | None = None
    timeout_ms: int | None = None
    idempotency_key: str | None = None
    cancel_requested: bool = False


class JobList(_Response):
    queue: str
    status: Status | None
    limit: int
    jobs: list[JobOut]


class CancelOut(_Response):
    id: str
    status: Literal["cancelled", "cancel_requested"]


class Backoff(_Response):
    base: float
    cap: float


class JobTypeOut(_Response):
    name: str
    queue: str
    description: str
    timeout: float | None
    max_attempts: int
    run_in: Literal["loop", "thread", "process"] = Field(
        description="where the handler runs: the event loop (async def), a thread (def) or a worker process"
    )
    backoff: Backoff
    payload_schema: dict[str, Any]


class JobTypeList(_Response):
    job_types: list[JobTypeOut]


class QueueOut(_Response):
    name: str
    ready: int
    waiting: int
    active: int
    dead: int
    paused: bool
    enqueued: int
    processed: int
    succeeded: int
    failed: int = Field(description="failed attempts (retried or dead)")
    retried: int
    cancelled: int
    by_type: dict[str, dict[str, int]]


class QueueList(_Response):
    queues: list[QueueOut]


class LoopLagOut(_Response):
    """How late the process's event loop runs, and who held it in the last stall."""

    lag_ms: float = Field(description="largest lag in the last heartbeat period")
    p99_ms: float = Field(description="over the last minute")
    max_ms: float = Field(description="over the last minute")
    stalls: int = Field(description="stalls over the threshold since start")
    offender: str = Field(description="who held the loop last: 'job <type> <id>' or 'not a job: <callback>'")
    offender_ms: float
    lease_risks: int = Field(description="stalls long enough to delay lease heartbeats")


class WorkerOut(_Response):
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    busy: int
    paused: bool
    started_at: int
    heartbeat_at: int
    jobs: list[str]
    loop: LoopLagOut | None = Field(description="the process's event-loop lag; null from a process that does not report it")


class WorkerList(_Response):
    workers: list[WorkerOut]


class WorkerCommandOut(_Response):
    """The command was delivered; a remote process applies it within moments."""

    id: str
    requested: UpdateWorker


class ErrorDetail(_Response):
    code: str = Field(examples=["invalid_payload"])
    message: str
    details: Any = Field(default=None, description="e.g. a list of {field, message, type} for 422")


class ErrorOut(_Response):
    error: ErrorDetail


class HealthOut(_Response):
    status: Literal["ok", "degraded"]
    redis: Literal["ok", "down"]
    error: ErrorDetail | None = None


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[dict[str, Any]]:
    """Pydantic errors as ``{field, message, type}``, without echoing input values; long
    user-chosen field names are cut short."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False)[:100]:
        loc = ".".join(str(p) for p in err["loc"])
        field = (prefix + "." + loc if prefix and loc else prefix or loc) or "(body)"
        out.append({"field": field[:200], "message": str(err["msg"])[:500], "type": err["type"]})
    return out
