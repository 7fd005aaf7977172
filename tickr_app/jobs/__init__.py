"""Built-in job types that make the embedded demo useful out of the box."""

from __future__ import annotations

from tickr_app.core.registry import Registry


def register_builtins(registry: Registry) -> None:
    """Add ``email`` and ``report`` to a registry (idempotent)."""
    from . import email, report

    email.register(registry)
    report.register(registry)
