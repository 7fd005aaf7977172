"""Tickr: an asyncio job queue on Redis with a terminal dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core.context import JobContext
from .core.engine import JobRequest, Tickr
from .core.errors import PermanentError, TickrError
from .core.job import Job
from .core.registry import Registry, add_builtin_jobs, default_registry, job

__version__ = "0.1.0"


def _builtin_jobs(registry: Registry) -> None:
    # Imported on first use: the email job pulls in smtplib and the email package.
    from .jobs import register_builtins

    register_builtins(registry)


add_builtin_jobs(_builtin_jobs)  # Tickr(builtin_jobs=True) adds email and report through this

__all__ = [
    "Client",
    "Job",
    "JobContext",
    "JobRequest",
    "PermanentError",
    "Registry",
    "Tickr",
    "TickrError",
    "default_registry",
    "job",
]

if TYPE_CHECKING:
    from .client import Client


def __getattr__(name: str) -> Any:
    # The HTTP client pulls in httpx; import it only when asked for.
    if name == "Client":
        from .client import Client

        return Client
    raise AttributeError(name)
