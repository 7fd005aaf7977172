"""/api/v1/schedules: cron and interval schedules (core/schedules.py) over HTTP."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tickr_app.core.errors import ScheduleNotFound, UnknownJobType
from tickr_app.core.keys import is_schedule_id
from tickr_app.core.records import Schedule

from .body import read_model
from .errors import json_response, unprocessable
from .schedule_schemas import UpsertSchedule
from .state import API_PREFIX, tickr_of

UPCOMING = 5


def _id(request: web.Request) -> str:
    schedule_id = request.match_info["id"]
    if not is_schedule_id(schedule_id):
        raise ScheduleNotFound("no schedule with that id (letters, digits and . _ : @ + -, up to 200)")
    return schedule_id


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    out = schedule.to_dict()
    upcoming: list[int] = []
    if schedule.next_run_at is not None:
        upcoming = [schedule.next_run_at, *schedule.upcoming(schedule.next_run_at, UPCOMING - 1)]
    out["upcoming"] = upcoming
    return out


async def list_schedules(request: web.Request) -> web.Response:
    schedules = await tickr_of(request).list_schedules()
    return json_response({"schedules": [schedule_dict(s) for s in schedules]})


async def get_schedule(request: web.Request) -> web.Response:
    return json_response(schedule_dict(await tickr_of(request).get_schedule(_id(request))))


async def put_schedule(request: web.Request) -> web.Response:
    tickr = tickr_of(request)
    schedule_id = request.match_info["id"]
    if not is_schedule_id(schedule_id):
        raise unprocessable(
            "invalid schedule id",
            [{"field": "id", "message": "1-200 characters: letters, digits and . _ : @ + -", "type": "path"}],
        )
    body = await read_model(request, UpsertSchedule)
    if body.type not in tickr.registry:
        known = sorted(t.name for t in tickr.registry)
        raise UnknownJobType(f"unknown job type {body.type[:80]!r}", details={"known": known})
    existed = True
    try:
        await tickr.get_schedule(schedule_id)
    except ScheduleNotFound:
        existed = False
    schedule = await tickr.schedule(
        schedule_id,
        body.type,
        body.payload if body.payload is not None else {},
        cron=body.cron,
        every=body.every,
        tz=body.tz,
        start=body.start,  # type: ignore[arg-type]  # epoch seconds after validation
        end=body.end,  # type: ignore[arg-type]
        paused=body.paused,
        misfire=body.misfire,
        misfire_grace=body.misfire_grace,
        max_catchup=body.max_catchup,
        overlap=body.overlap,
        max_attempts=body.max_attempts,
        queue=body.queue,
    )
    headers = {"Location": f"{API_PREFIX}/schedules/{schedule_id}"}
    return json_response(schedule_dict(schedule), 200 if existed else 201, headers)


async def delete_schedule(request: web.Request) -> web.Response:
    schedule_id = _id(request)
    await tickr_of(request).unschedule(schedule_id)
    return json_response({"id": schedule_id, "deleted": True})


async def trigger_schedule(request: web.Request) -> web.Response:
    schedule_id = _id(request)
    job_id = await tickr_of(request).trigger(schedule_id)
    return json_response(
        {"schedule_id": schedule_id, "job_id": job_id}, 202, {"Location": f"{API_PREFIX}/jobs/{job_id}"}
    )


async def pause_schedule(request: web.Request) -> web.Response:
    return json_response(schedule_dict(await tickr_of(request).pause_schedule(_id(request))))


async def resume_schedule(request: web.Request) -> web.Response:
    return json_response(schedule_dict(await tickr_of(request).resume_schedule(_id(request))))


def routes() -> list[web.RouteDef]:
    p = f"{API_PREFIX}/schedules"
    return [
        web.get(p, list_schedules),
        web.get(f"{p}/{{id:[^/]+}}", get_schedule),
        web.put(f"{p}/{{id:[^/]+}}", put_schedule),
        web.delete(f"{p}/{{id:[^/]+}}", delete_schedule),
        web.post(f"{p}/{{id:[^/]+}}/trigger", trigger_schedule),
        web.post(f"{p}/{{id:[^/]+}}/pause", pause_schedule),
        web.post(f"{p}/{{id:[^/]+}}/resume", resume_schedule),
    ]
