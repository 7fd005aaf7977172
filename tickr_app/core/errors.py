"""Errors the engine raises; the API and CLI map each to a status code or one line."""

from __future__ import annotations

from typing import Any


class TickrError(Exception):
    """Base class: carries a stable machine-readable code."""

    code = "tickr_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class UnknownJobType(TickrError):
    code = "unknown_job_type"


class InvalidPayload(TickrError):
    code = "invalid_payload"


class InvalidRequest(TickrError):
    code = "invalid_request"


class ScheduleQueueConflict(InvalidRequest):
    """A schedule id is bound to another queue (or is being created and removed meanwhile): the
    request is well formed but the schedule's current state refuses it (HTTP 409)."""

    code = "schedule_queue_conflict"


class JobNotFound(TickrError):
    code = "job_not_found"


class ScheduleNotFound(TickrError):
    code = "schedule_not_found"


class WorkflowNotFound(TickrError):
    code = "workflow_not_found"


class WrongState(TickrError):
    code = "wrong_state"


class QueueNotEmpty(WrongState):
    """A queue still holds jobs (or a live worker serves it), so it cannot be forgotten."""

    code = "queue_not_empty"


class IdempotencyConflict(TickrError):
    """An idempotency key was reused for a different request (type, payload or options)."""

    code = "idempotency_conflict"


class QueueNotFound(TickrError):
    code = "queue_not_found"


class WorkerNotFound(TickrError):
    code = "worker_not_found"


class RedisUnavailable(TickrError):
    code = "redis_unavailable"


class EmbeddedRedisError(TickrError):
    code = "embedded_redis_failed"


class PermanentError(Exception):
    """Raise from a handler to send the job to the dead letter queue without more retries.

    Not a ``TickrError``: handlers raise it, the engine never does."""


class RateLimited(Exception):
    """Raise from a handler when the remote side said "back off for N seconds": the job goes back
    to wait without counting the attempt, and its job type (``scope="type"``, the default) or its
    whole queue (``scope="queue"``: every type in it, for an API the whole queue calls) pauses
    for ``retry_after`` seconds in every process (a later, longer pause wins).

    Not a ``TickrError``: handlers raise it, the engine never does."""

    def __init__(self, retry_after: float = 1.0, message: str = "", scope: str = "type") -> None:
        if isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)) or not 0 <= retry_after <= 86_400:
            raise ValueError(f"retry_after must be 0 to 86400 seconds, not {retry_after!r}")
        if scope not in ("type", "queue"):
            raise ValueError(f"scope must be 'type' or 'queue', not {scope!r}")
        super().__init__(retry_after, message, scope)
        self.retry_after = float(retry_after)
        self.message = message
        self.scope = scope

    def __str__(self) -> str:
        text = f"rate limited: retry after {self.retry_after:g} s"
        return f"{text} ({self.message})" if self.message else text
