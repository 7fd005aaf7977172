"""The HTTP API (aiohttp): routes, validation, errors, auth, OpenAPI and metrics."""

from __future__ import annotations

from .app import create_app
from .server import ApiBindError, ApiServer, start_api

__all__ = ["ApiBindError", "ApiServer", "create_app", "start_api"]
