"""The Textual dashboard (imports textual; ``tickr_app.core`` never imports this package)."""

from __future__ import annotations

from .app import TickrApp

__all__ = ["TickrApp"]
