"""The /api/v1/queues/{name}/limits part of the OpenAPI document (kept apart from openapi.py)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from tickr_app.core.keys import QUEUE_NAME_PATTERN
from tickr_app.core.limits import JOB_TYPE_PATTERN

from .limit_schemas import QueueLimitsOut, SetLimits, TypeLimitsOut
from .state import API_PREFIX


class _Builder(Protocol):
    def model(self, model: type[BaseModel]) -> dict[str, str]: ...


Responses = Any

_ABOUT = (
    "Limits are cluster-wide: the fetch script of every process reads them from Redis. A per-type limit is "
    "scoped to its queue. A live value beats the default a job type declares on @job(rate_limit=, "
    "concurrency=); removing the live value lets the declared one apply again."
)


def limit_paths(b: _Builder, responses: Responses) -> dict[str, Any]:
    """Paths of the limits API; ``responses(ok, ref, errors)`` as in openapi.py."""
    queue_limits, type_limits = b.model(QueueLimitsOut), b.model(TypeLimitsOut)
    body = {"required": True, "content": {"application/json": {"schema": b.model(SetLimits)}}}
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "a queue name",
        "schema": {"type": "string", "pattern": QUEUE_NAME_PATTERN},
    }
    jtype = {
        "name": "type",
        "in": "path",
        "required": True,
        "description": "a job type name (this server need not know it: a worker elsewhere may run it)",
        "schema": {"type": "string", "pattern": JOB_TYPE_PATTERN},
    }
    p = f"{API_PREFIX}/queues/{{name}}/limits"

    def op(op_id: str, summary: str, ref: dict[str, Any], errors: list[int], **extra: Any) -> dict[str, Any]:
        return {
            "operationId": op_id,
            "tags": ["limits"],
            "summary": summary,
            "description": _ABOUT,
            **extra,
            "responses": responses(200, ref, errors),
        }

    put_errors = [400, 404, 413, 415, 422]
    return {
        p: {
            "parameters": [name],
            "get": op(
                "getLimits", "A queue's limits, each limited type's, and what they hold back now", queue_limits, [404]
            ),
            "put": op(
                "setLimits",
                "Set or remove a queue's rate and concurrency limits, live",
                queue_limits,
                put_errors,
                requestBody=body,
            ),
            "delete": op("clearLimits", "Remove a queue's live rate and concurrency limits", queue_limits, [404]),
        },
        f"{p}/{{type}}": {
            "parameters": [name, jtype],
            "get": op("getTypeLimits", "A job type's limits in a queue", type_limits, [404, 422]),
            "put": op(
                "setTypeLimits",
                "Set or remove a job type's limits in a queue, live",
                type_limits,
                put_errors,
                requestBody=body,
            ),
            "delete": op("clearTypeLimits", "Remove a job type's live limits in a queue", type_limits, [404, 422]),
        },
    }
