"""/api/v1/queues/{name}/limits[/{type}]: cluster-wide rate and concurrency limits, live."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tickr_app.core.limits import QueueLimits, check_job_type_name

from .body import read_model
from .errors import json_response
from .limit_schemas import SetLimits
from .routes_queues import _known_queue
from .state import API_PREFIX, tickr_of


async def _job_type(request: web.Request, queue: str) -> str:
    """Any job type name (this server need not know it: a worker elsewhere may run it); 422 for
    a name outside the rule."""
    name = request.match_info["type"]
    check_job_type_name(name)
    return name


def _type_dict(limits: QueueLimits, job_type: str) -> dict[str, Any]:
    state = limits.types.get(job_type)
    body = state.to_dict() if state is not None else QueueLimits(limits.queue).limits.to_dict()
    return {"queue": limits.queue, "job_type": job_type, **body}


async def _apply(request: web.Request, queue: str, job_type: str | None) -> QueueLimits:
    body = await read_model(request, SetLimits)
    tickr = tickr_of(request)
    given = body.model_fields_set
    clear_rate = "rate" in given and body.rate is None
    clear_conc = "concurrency" in given and body.concurrency is None
    if clear_rate or clear_conc:
        await tickr.clear_limits(queue, job_type, rate=clear_rate, concurrency=clear_conc)
    if body.rate is not None or body.concurrency is not None:
        return await tickr.set_limits(queue, job_type, rate=body.rate, concurrency=body.concurrency)
    return await tickr.get_limits(queue)


async def get_limits(request: web.Request) -> web.Response:
    queue = await _known_queue(request)
    return json_response((await tickr_of(request).get_limits(queue)).to_dict())


async def put_limits(request: web.Request) -> web.Response:
    queue = await _known_queue(request)
    return json_response((await _apply(request, queue, None)).to_dict())


async def delete_limits(request: web.Request) -> web.Response:
    queue = await _known_queue(request)
    return json_response((await tickr_of(request).clear_limits(queue)).to_dict())


async def get_type_limits(request: web.Request) -> web.Response:
    queue = await _known_queue(request)
    job_type = await _job_type(request, queue)
    return json_response(_type_dict(await tickr_of(request).get_limits(queue), job_type))


async def put_type_limits(request: web.Request) -> web.Response:
    queue = await _known_queue(request)
    job_type = await _job_type(request, queue)
    return json_response(_type_dict(await _apply(request, queue, job_type), job_type))


async def delete_type_limits(request: web.Request) -> web.Response:
    queue = await _known_queue(request)
    job_type = await _job_type(request, queue)
    return json_response(_type_dict(await tickr_of(request).clear_limits(queue, job_type), job_type))


def routes() -> list[web.RouteDef]:
    p = f"{API_PREFIX}/queues/{{name:[^/]+}}/limits"
    return [
        web.get(p, get_limits),
        web.put(p, put_limits),
        web.delete(p, delete_limits),
        web.get(f"{p}/{{type:[^/]+}}", get_type_limits),
        web.put(f"{p}/{{type:[^/]+}}", put_type_limits),
        web.delete(f"{p}/{{type:[^/]+}}", delete_type_limits),
    ]
