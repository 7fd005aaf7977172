"""Typed application keys shared by the route modules."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from tickr_app.core.engine import Tickr

from .errors import ApiError
from .metrics import ApiMetrics

API_PREFIX: Final = "/api/v1"

TICKR: Final = web.AppKey("tickr", Tickr)
METRICS: Final = web.AppKey("metrics", ApiMetrics)
AUTH_REQUIRED: Final = web.AppKey("auth_required", bool)


def tickr_of(request: web.Request) -> Tickr:
    """The app's engine; 503 while it is not running (not started yet, or stopping)."""
    tickr = request.app[TICKR]
    if not tickr.running:
        raise ApiError(503, "engine_not_running", "the Tickr engine is not running")
    return tickr
