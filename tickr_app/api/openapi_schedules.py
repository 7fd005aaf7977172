"""The /api/v1/schedules part of the OpenAPI document (kept apart from openapi.py)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from tickr_app.core.keys import SCHEDULE_ID_PATTERN

from .schedule_schemas import DeletedScheduleOut, ScheduleList, ScheduleOut, TriggerOut
from .state import API_PREFIX


class _Builder(Protocol):
    def model(self, model: type[BaseModel]) -> dict[str, str]: ...


Responses = Any


def schedule_paths(b: _Builder, responses: Responses, upsert_body: dict[str, Any]) -> dict[str, Any]:
    """Paths of the schedules API; ``responses(ok, ref, errors, description)`` as in openapi.py;
    ``upsert_body`` is the PUT body, one variant per job type (as POST /jobs has it)."""
    schedule = b.model(ScheduleOut)
    sid = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "the schedule's id (chosen by its creator)",
        "schema": {"type": "string", "pattern": SCHEDULE_ID_PATTERN},
    }
    p = f"{API_PREFIX}/schedules"

    def command(op_id: str, summary: str, ok: int, ref: dict[str, Any]) -> dict[str, Any]:
        return {"operationId": op_id, "tags": ["schedules"], "summary": summary, "responses": responses(ok, ref, [404])}

    return {
        p: {
            "get": {
                "operationId": "listSchedules",
                "tags": ["schedules"],
                "summary": "Every schedule, with its next and last run",
                "responses": responses(200, b.model(ScheduleList), []),
            }
        },
        f"{p}/{{id}}": {
            "parameters": [sid],
            "get": command("getSchedule", "A schedule, with its next five run times", 200, schedule),
            "put": {
                "operationId": "upsertSchedule",
                "tags": ["schedules"],
                "summary": "Create or update a schedule atomically (never a second copy)",
                "description": "201 when created, 200 when updated. The next run is kept unless cron, every, tz, "
                "start or end change. 409 when the id is bound to another queue (unschedule it first). A 422 names "
                "the field; beyond what the schema says, that is a cron range going backwards (5-3, FRI-MON), a day "
                "no month of the expression has (30 2 *), fields that never meet, or an end before start.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": upsert_body}}},
                "responses": {
                    **responses(200, schedule, [400, 409, 413, 415, 422], "Updated"),
                    "201": {"description": "Created", "content": {"application/json": {"schema": schedule}}},
                },
            },
            "delete": command(
                "deleteSchedule", "Remove a schedule (jobs it fired stay)", 200, b.model(DeletedScheduleOut)
            ),
        },
        f"{p}/{{id}}/trigger": {
            "parameters": [sid],
            "post": command("triggerSchedule", "Run the schedule's job once now", 202, b.model(TriggerOut)),
        },
        f"{p}/{{id}}/pause": {
            "parameters": [sid],
            "post": command("pauseSchedule", "Pause a schedule for every process", 200, schedule),
        },
        f"{p}/{{id}}/resume": {
            "parameters": [sid],
            "post": command("resumeSchedule", "Resume; runs missed meanwhile follow the misfire policy", 200, schedule),
        },
    }
