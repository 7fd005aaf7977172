"""/api/v1/health, /api/v1/openapi.json and /metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tickr_app.core.connection import mask_text
from tickr_app.core.errors import TickrError

from .errors import json_response
from .metrics import CONTENT_TYPE
from .openapi import build_openapi
from .state import API_PREFIX, AUTH_REQUIRED, METRICS, TICKR

HEALTH_TIMEOUT_S = 2.0


async def health(request: web.Request) -> web.Response:
    tickr = request.app[TICKR]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            await tickr.ping()
    except (TickrError, TimeoutError) as exc:
        reason = exc.message if isinstance(exc, TickrError) else f"Redis: no answer within {HEALTH_TIMEOUT_S:g} s"
        return json_response(
            {
                "status": "degraded",
                "redis": "down",
                "error": {"code": "redis_unavailable", "message": mask_text(reason)[:500]},
            },
            503,
        )
    return json_response({"status": "ok", "redis": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return json_response(build_openapi(request.app[TICKR].registry, auth_required=request.app[AUTH_REQUIRED]))


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render(request.app[TICKR])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{API_PREFIX}/health", health),
        web.get(f"{API_PREFIX}/openapi.json", openapi),
        web.get("/metrics", metrics),
    ]
