"""/api/v1/health, /api/v1/openapi.json and /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from tickr_app.core.connection import mask_text
from tickr_app.core.errors import TickrError

from .errors import json_response
from .metrics import CONTENT_TYPE
from .openapi import build_openapi
from .state import API_PREFIX, AUTH_REQUIRED, METRICS, TICKR

HEALTH_BUDGET_S = 5.0
"""How long /health tries to reach Redis before it says 503."""
PING_TRY_S = 1.5
"""One PING may take this long before /health tries again (on a fresh connection)."""


async def _ping_within_budget(tickr: Any) -> None:
    """PING until one answers: a slow answer (Redis busy, this process's loop busy) is retried
    within the budget, and a dropped pooled connection (Redis restarted) gets one more try.
    Raises the last error when the budget is spent, or at once when nothing listens."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEALTH_BUDGET_S
    dropped_once = False
    while True:
        left = deadline - loop.time()
        try:
            async with asyncio.timeout(min(PING_TRY_S, left)):
                await tickr.broker.ping()
            return
        except TimeoutError:
            if deadline - loop.time() <= 0.05:
                raise TimeoutError(f"no answer within {HEALTH_BUDGET_S:g} s") from None
        except (RedisError, ConnectionError) as exc:
            if dropped_once or _refused(exc):
                raise
            dropped_once = True


def _refused(exc: BaseException) -> bool:
    """Nothing listens (connection refused, unknown host): Redis is down, no need to retry."""
    text = str(exc).lower()
    return isinstance(exc, ConnectionRefusedError) or "refused" in text or "name or service not known" in text


async def health(request: web.Request) -> web.Response:
    tickr = request.app[TICKR]
    try:
        if tickr.broker is None or not tickr.running:
            raise RuntimeError("the engine is not running")
        await _ping_within_budget(tickr)
    except (RedisError, TickrError, ConnectionError, TimeoutError, RuntimeError) as exc:
        reason = str(exc) or type(exc).__name__
        return json_response(
            {
                "status": "degraded",
                "redis": "down",
                "error": {"code": "redis_unavailable", "message": mask_text(f"Redis is unavailable: {reason}")[:500]},
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
