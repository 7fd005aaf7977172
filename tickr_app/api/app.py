"""``create_app``: the aiohttp application of the HTTP API, over a Tickr engine that its
owner starts and stops (the app never does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tickr_app.core.engine import Tickr

from . import routes_jobs, routes_limits, routes_queues, routes_schedules, routes_service, routes_workers, routes_workflows
from .auth import auth_middleware
from .errors import error_middleware
from .metrics import ApiMetrics
from .schemas import MAX_BODY_BYTES
from .state import AUTH_REQUIRED, METRICS, TICKR

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts answered requests by route template (never by raw path: no label explosion)."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        method = request.method if request.method in _METHODS else "OTHER"
        request.app[METRICS].http_requests.labels(method, route, str(status)).inc()


def create_app(tickr: Tickr, *, token: str | None = None) -> web.Application:
    """The API over ``tickr``; with a ``token`` every endpoint but /api/v1/health needs
    ``Authorization: Bearer <token>``."""
    middlewares: list[Handler] = [count_requests, error_middleware]
    if token:
        middlewares.append(auth_middleware(token))
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    app[TICKR] = tickr
    app[AUTH_REQUIRED] = bool(token)
    app[METRICS] = ApiMetrics()
    for module in (routes_jobs, routes_queues, routes_workers, routes_service, routes_schedules, routes_workflows, routes_limits):
        app.router.add_routes(module.routes())
    app.on_startup.append(_attach_metrics)
    app.on_cleanup.append(_detach_metrics)
    return app


async def _attach_metrics(app: web.Application) -> None:
    app[METRICS].attach(app[TICKR])


async def _detach_metrics(app: web.Application) -> None:
    app[METRICS].detach()
