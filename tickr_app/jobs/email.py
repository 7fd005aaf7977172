"""Placeholder until the email job lands."""
from __future__ import annotations
from tickr_app.core.registry import Registry
def register(registry: Registry) -> None:
    return None
