"""/api/v1/workers: live worker processes on any host, and live scale/pause commands."""

from __future__ import annotations

from aiohttp import web

from tickr_app.core.errors import WorkerNotFound

from .body import read_model
from .errors import json_response
from .schemas import UpdateWorker
from .state import API_PREFIX, tickr_of


async def list_workers(request: web.Request) -> web.Response:
    workers = await tickr_of(request).worker_processes()
    return json_response({"workers": [w.to_dict() for w in sorted(workers, key=lambda w: w.id)]})


async def update_worker(request: web.Request) -> web.Response:
    worker_id = request.match_info["id"]
    if len(worker_id) > 300 or not worker_id.isprintable() or not _encodable(worker_id):
        raise WorkerNotFound("no live worker process with that id")
    update = await read_model(request, UpdateWorker)
    await tickr_of(request).command_worker(
        worker_id, concurrency=update.concurrency, paused=update.paused, weights=update.weights, strict=update.strict
    )
    return json_response({"id": worker_id, "requested": update.model_dump(exclude_none=True)})


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def routes() -> list[web.RouteDef]:
    p = API_PREFIX
    return [
        web.get(f"{p}/workers", list_workers),
        web.patch(f"{p}/workers/{{id:[^/]+}}", update_worker),
    ]
