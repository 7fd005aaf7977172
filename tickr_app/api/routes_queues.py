"""/api/v1/queues: counts per queue, and pause/resume for every process."""

from __future__ import annotations

from aiohttp import web

from tickr_app.core.keys import is_queue_name

from .errors import json_response, not_found
from .state import API_PREFIX, tickr_of


async def list_queues(request: web.Request) -> web.Response:
    stats = await tickr_of(request).stats()
    return json_response({"queues": [s.to_dict() for _, s in sorted(stats.items())]})


async def _known_queue(request: web.Request) -> str:
    """Only queues Tickr knows (registered in Redis or served here) can be paused: a typo must
    not silently create a new, paused queue."""
    name = request.match_info["name"]
    tickr = tickr_of(request)
    if is_queue_name(name) and (name in tickr.queues or name in await tickr.known_queues()):
        return name
    raise not_found("queue_not_found", f"no queue named {name[:100]!r}")


async def pause_queue(request: web.Request) -> web.Response:
    name = await _known_queue(request)
    tickr = tickr_of(request)
    await tickr.pause_queue(name)
    return json_response((await tickr.queue_stats(name)).to_dict())


async def resume_queue(request: web.Request) -> web.Response:
    name = await _known_queue(request)
    tickr = tickr_of(request)
    await tickr.resume_queue(name)
    return json_response((await tickr.queue_stats(name)).to_dict())


async def forget_queue(request: web.Request) -> web.Response:
    """Forget a queue with no jobs or schedules that no live worker serves (404 unknown, 409 otherwise)."""
    name = request.match_info["name"]
    if not is_queue_name(name):
        raise not_found("queue_not_found", f"no queue named {name[:100]!r}")
    await tickr_of(request).forget_queue(name)
    return json_response({"name": name, "forgotten": True})


async def delete_dead(request: web.Request) -> web.Response:
    name = await _known_queue(request)
    deleted = await tickr_of(request).delete_dead(name)
    return json_response({"queue": name, "deleted": deleted})


def routes() -> list[web.RouteDef]:
    p = API_PREFIX
    return [
        web.get(f"{p}/queues", list_queues),
        web.delete(f"{p}/queues/{{name:[^/]+}}", forget_queue),
        web.delete(f"{p}/queues/{{name:[^/]+}}/dead", delete_dead),
        web.post(f"{p}/queues/{{name:[^/]+}}/pause", pause_queue),
        web.post(f"{p}/queues/{{name:[^/]+}}/resume", resume_queue),
    ]
