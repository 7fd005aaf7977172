"""Tickr: an asyncio job queue on Redis with a terminal dashboard.

The names below are imported on first use (PEP 562), so ``import tickr_app.cli`` (every
``tickr`` command) does not pay for the engine, pydantic and redis before it knows it needs
them; ``from tickr_app import Tickr, job`` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .core.builtin_jobs import add_builtin_jobs

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "InvalidPayload",
    "InvalidRequest",
    "Job",
    "JobContext",
    "JobNotFound",
    "JobRequest",
    "PermanentError",
    "QueueNotEmpty",
    "QueueNotFound",
    "RateLimited",
    "RedisUnavailable",
    "Registry",
    "ScheduleNotFound",
    "Tickr",
    "TickrError",
    "UnknownJobType",
    "WorkerNotFound",
    "WorkflowInfo",
    "WorkflowNode",
    "WorkflowNotFound",
    "WrongState",
    "chain",
    "default_registry",
    "group",
    "job",
    "sig",
]

# The engine's errors that callers catch. IdempotencyConflict is left out on purpose: the engine's
# (core.errors) and the HTTP client's (client) are two classes; import the one you need from its module.
_ENGINE_ERRORS = (
    "InvalidPayload",
    "InvalidRequest",
    "JobNotFound",
    "QueueNotEmpty",
    "QueueNotFound",
    "RedisUnavailable",
    "ScheduleNotFound",
    "UnknownJobType",
    "WorkerNotFound",
    "WorkflowNotFound",
    "WrongState",
)

_EXPORTS = {
    "AsyncClient": ".client",  # pulls in httpx
    "Client": ".client",
    **dict.fromkeys(_ENGINE_ERRORS, ".core.errors"),
    "Job": ".core.job",
    "JobContext": ".core.context",
    "JobRequest": ".core.engine",
    "PermanentError": ".core.errors",
    "RateLimited": ".core.errors",
    "Registry": ".core.registry",
    "Tickr": ".core.engine",
    "TickrError": ".core.errors",
    "WorkflowInfo": ".core.workflow_records",
    "WorkflowNode": ".core.workflow_records",
    "chain": ".core.workflows",
    "default_registry": ".core.registry",
    "group": ".core.workflows",
    "job": ".core.registry",
    "sig": ".core.workflows",
}

if TYPE_CHECKING:
    from .client import AsyncClient, Client
    from .core.context import JobContext
    from .core.engine import JobRequest, Tickr
    from .core.errors import (
        InvalidPayload,
        InvalidRequest,
        JobNotFound,
        PermanentError,
        QueueNotEmpty,
        QueueNotFound,
        RateLimited,
        RedisUnavailable,
        ScheduleNotFound,
        TickrError,
        UnknownJobType,
        WorkerNotFound,
        WorkflowNotFound,
        WrongState,
    )
    from .core.job import Job
    from .core.registry import Registry, default_registry, job
    from .core.workflow_records import WorkflowInfo, WorkflowNode
    from .core.workflows import chain, group, sig


def _builtin_jobs(registry: Registry) -> None:
    # Imported on first use: the email job pulls in smtplib and the email package.
    from .jobs import register_builtins

    register_builtins(registry)


add_builtin_jobs(_builtin_jobs)  # Tickr(builtin_jobs=True) adds email and report through this


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
