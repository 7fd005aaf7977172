"""Pydantic models of the HTTP API: the request models validate bodies, and every model feeds
the OpenAPI document, so the document cannot drift from what the server accepts."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tickr_app.core import defaults
from tickr_app.core.engine import MAX_DELAY_S, MAX_RUN_AT_S
from tickr_app.core.job import Status
from tickr_app.core.keys import QUEUE_NAME_PATTERN, QUEUE_NAME_RULE, is_queue_name  # noqa: F401  (re-exported)
from tickr_app.core.priority import MAX_PRIORITY, MIN_PRIORITY
from tickr_app.core.queue_policy import MAX_WEIGHT, MIN_WEIGHT

from .limit_schemas import QueueLimitsOut

MAX_BODY_BYTES = 1024**2
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 50
MAX_IDEMPOTENCY_KEY = 200
MAX_CONCURRENCY = defaults.MAX_CONCURRENCY

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,200}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)



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
        description=QUEUE_NAME_RULE,
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


def _run_at_schema(schema: dict[str, Any]) -> None:
    schema.pop("anyOf", None)
    schema.pop("default", None)
    schema["anyOf"] = [
        {"type": "number", "minimum": 0, "maximum": MAX_RUN_AT_S},
        {"type": "string", "format": "date-time"},
        {"type": "null"},
    ]


_RFC3339_LEAP = re.compile(r"(T\d\d:\d\d:)60")


def _parse_datetime(value: str) -> float:
    """Epoch seconds of an ISO 8601 / RFC 3339 datetime with a UTC offset; any time in the past
    is 0 (runs at once). Lowercase ``t``/``z`` and a leap second (``:60``) are valid RFC 3339."""
    text = value.strip().upper()
    leap = _RFC3339_LEAP.search(text)
    if leap:
        text = _RFC3339_LEAP.sub(r"\g<1>59", text, count=1)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be epoch seconds or an ISO 8601 datetime") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("an ISO 8601 datetime needs a UTC offset, e.g. 2030-01-01T09:00:00Z")
    try:
        seconds = when.timestamp() + (1 if leap else 0)
    except (OverflowError, OSError, ValueError):
        seconds = 0.0 if when.year < 1970 else float(MAX_RUN_AT_S)
    # Any time in the past means now; a year-9999 time with a negative offset is the last moment.
    return min(max(0.0, seconds), float(MAX_RUN_AT_S))


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
    # One field type (float | None) and a "before" validator that reads both spellings: a bad
    # value gets one clear error, not one per union branch. The document shows both spellings.
    run_at: float | None = Field(
        default=None,
        description="when to run: epoch seconds, or an ISO 8601 datetime with a UTC offset "
        "(e.g. 2030-01-01T09:00:00Z); a time in the past runs at once; at most 9999-12-31T23:59:59Z",
        json_schema_extra=_run_at_schema,
    )
    max_attempts: int | None = Field(default=None, ge=1, le=1000, description="default: the job type's")
    queue: QueueName | None = Field(default=None, description="default: the job type's queue")
    priority: int | None = Field(
        default=None,
        ge=MIN_PRIORITY,
        le=MAX_PRIORITY,
        description="higher runs first, FIFO within a priority; default: the job type's (0 unless set)",
    )

    _max_attempts_integral = field_validator("max_attempts", "priority", mode="before")(_integral)

    @field_validator("type", "queue")
    @classmethod
    def _utf8(cls, value: str | None) -> str | None:
        if value is not None and not _encodable(value):
            raise ValueError("must be valid Unicode text")
        return value

    @field_validator("run_at", mode="before")
    @classmethod
    def _epoch_seconds(cls, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            seconds = _parse_datetime(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
            if math.isnan(seconds):
                raise ValueError("must be epoch seconds or an ISO 8601 datetime")
        else:  # pydantic reports ValueError as a field error (a TypeError would escape)
            raise ValueError("must be epoch seconds (a number) or an ISO 8601 datetime (a string)")  # noqa: TRY004
        if seconds < 0:
            raise ValueError("epoch seconds start at 0")
        if seconds > MAX_RUN_AT_S:
            raise ValueError(f"must be at most {MAX_RUN_AT_S} (9999-12-31T23:59:59Z)")
        return seconds

    @model_validator(mode="after")
    def _one_time(self) -> SubmitJob:
        if self.delay is not None and self.run_at is not None:
            raise ValueError("give either delay or run_at, not both")
        return self


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _not_nullable(schema: dict[str, Any]) -> None:
    """Publish ``int | None`` (None only as "left out") as the plain type: no null, no default."""
    schema.pop("default", None)
    options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])


class SetPriority(_Request):
    """Body of ``POST /api/v1/jobs/{id}/priority``."""

    priority: int = Field(
        ge=MIN_PRIORITY, le=MAX_PRIORITY, description="higher runs first; a ready job moves to the end of its new priority's line"
    )

    _integral = field_validator("priority", mode="before")(_integral)


Weight = Annotated[int, Field(ge=MIN_WEIGHT, le=MAX_WEIGHT)]


def _weights_schema(schema: dict[str, Any]) -> None:
    """Publish the weights map so every key is checked (pydantic's patternProperties would
    leave keys that do not match the pattern unconstrained): names by ``propertyNames``,
    values by ``additionalProperties``."""
    _not_nullable(schema)
    schema.pop("patternProperties", None)
    schema["propertyNames"] = {"pattern": QUEUE_NAME_PATTERN, "description": QUEUE_NAME_RULE}
    schema["additionalProperties"] = {"type": "integer", "minimum": MIN_WEIGHT, "maximum": MAX_WEIGHT}


class UpdateWorker(_Request):
    """Body of ``PATCH /api/v1/workers/{id}``: at least one field."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # int | None (not a union with a skipped None): a bad value gets one error on the field,
    # "concurrency: Input should be greater than or equal to 0", not one per union branch.
    concurrency: int | None = Field(
        default=None, ge=0, le=MAX_CONCURRENCY, description="slots of the pool", json_schema_extra=_not_nullable
    )
    paused: bool | None = Field(
        default=None, description="pause (true) or resume (false) this process's pool", json_schema_extra=_not_nullable
    )
    weights: dict[QueueName, Weight] | None = Field(
        default=None,
        description="queue -> weight for queues the process serves (others keep theirs): its share of free slots",
        json_schema_extra=_weights_schema,
    )
    strict: bool | None = Field(
        default=None,
        description="true: always the first non-empty queue in the process's order; false: by weight",
        json_schema_extra=_not_nullable,
    )

    _concurrency_integral = field_validator("concurrency", mode="before")(_integral)

    @field_validator("weights", mode="before")
    @classmethod
    def _integral_weights(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _integral(v) for k, v in value.items()}
        return value

    @field_validator("concurrency", "paused", "weights", "strict")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null (leave the field out instead)")
        return value

    @model_validator(mode="after")
    def _something(self) -> UpdateWorker:
        if self.concurrency is None and self.paused is None and self.weights is None and self.strict is None:
            raise ValueError("give concurrency, paused, weights and/or strict")
        return self


class ListJobsQuery(_Request):
    """Query of ``GET /api/v1/jobs``. Without ``status``, jobs of every status are listed in
    the order active, ready, waiting, dead, succeeded, cancelled until ``limit`` is reached."""

    model_config = ConfigDict(extra="ignore", strict=False)

    queue: QueueName = "default"
    status: Status | None = None
    limit: int = Field(default=DEFAULT_LIST_LIMIT, ge=1, le=MAX_LIST_LIMIT)
    type: str | None = Field(default=None, min_length=1, max_length=200, description="only jobs of this type")

    @field_validator("queue", "type")
    @classmethod
    def _utf8(cls, value: str | None) -> str | None:
        if value is not None and not _encodable(value):
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
    workflow_id: str | None = Field(default=None, description="the workflow this job is a node of (null: a plain job)")
    node: int | None = Field(default=None, description="the node's index in that workflow")
    priority: int = Field(default=0, description="higher runs first")


class SubmittedJob(JobOut):
    """The job just accepted, and whether anything will run it."""

    served: bool | None = Field(
        description="whether a live worker process serves the job's queue; false: the job waits "
        "until a worker for that queue starts (see warnings); null: Redis did not answer the check"
    )
    warnings: list[str] = Field(default_factory=list, description="e.g. that no live worker serves the queue")


class JobList(_Response):
    queue: str
    status: Status | None
    type: str | None = None
    limit: int
    jobs: list[JobOut]


class QueueForgotten(_Response):
    name: str
    forgotten: Literal[True]


class DeadDeleted(_Response):
    queue: str
    deleted: int = Field(description="dead jobs deleted")


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
    priority: int = Field(description="default priority of this type's jobs")
    run_in: Literal["loop", "thread", "process"] = Field(
        description="where the handler runs: the event loop (async def), a thread (def) or a worker process"
    )
    backoff: Backoff
    rate_limit: str | None = Field(description="declared default: at most N started per period in its queue")
    concurrency: int | None = Field(description="declared default: at most N running at once in its queue")
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
    limited: int = Field(description="jobs a rate or concurrency limit held back for a while")
    rate_limited: int = Field(description="times a handler raised RateLimited")
    throttled_ms: int = Field(description="time the queue's own limits let nothing start")
    by_type: dict[str, dict[str, int]]
    limits: QueueLimitsOut | None = Field(description="the queue's limits and their state; null when it has none")
    prioritised: int = Field(description="ready jobs with a priority other than 0 (counted in ready)")
    top_priority: int | None = Field(description="the highest priority among them; null when none waits")


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
    weights: dict[str, int] = Field(description="queue -> weight, in the process's order")
    strict: bool = Field(description="true: the first non-empty queue in that order gets every free slot")


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
        message = str(err["msg"])
        if err["type"] == "value_error":  # our validators' own sentence, without pydantic's label
            message = message.removeprefix("Value error, ")
        out.append({"field": field[:200], "message": message[:500], "type": err["type"]})
    return out
