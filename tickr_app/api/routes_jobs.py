"""/api/v1/jobs and /api/v1/job-types."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from tickr_app.core.errors import InvalidPayload, JobNotFound, RedisUnavailable, UnknownJobType
from tickr_app.core.registry import JobType

from .body import read_model, validate
from .errors import json_response, not_found, unprocessable
from .schemas import ListJobsQuery, SetPriority, SubmitJob, field_errors, is_idempotency_key, is_job_id
from .state import API_PREFIX, TICKR, tickr_of

# Without a status filter, GET /jobs fills its limit in this order: what runs now first.
MIXED_ORDER = ("active", "ready", "waiting", "dead", "succeeded", "cancelled")


def _job_id(request: web.Request) -> str:
    job_id = request.match_info["id"]
    if not is_job_id(job_id):
        raise not_found("job_not_found", "no job with that id (job ids are UUIDs)")
    return job_id.lower()


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not is_idempotency_key(key):
        raise unprocessable(
            "invalid Idempotency-Key header",
            [{"field": "Idempotency-Key", "message": "1-200 printable ASCII characters", "type": "header"}],
        )
    return key


async def submit_job(request: web.Request) -> web.Response:
    tickr = tickr_of(request)
    req = await read_model(request, SubmitJob)
    key = _idempotency_key(request)
    if req.type not in tickr.registry:
        known = ", ".join(sorted(t.name for t in tickr.registry)) or "none registered"
        shown = req.type if len(req.type) <= 80 else req.type[:77] + "..."
        raise UnknownJobType(
            f"unknown job type {shown!r}; known types: {known}",
            details=[{"field": "type", "message": f"not a registered job type (known: {known})", "type": "unknown_job_type"}],
        )
    payload = req.payload if req.payload is not None else {}
    _check_payload_strictly(tickr.registry.get(req.type), payload)
    job = await tickr.submit(
        req.type,
        payload,
        delay=req.delay,
        run_at=req.run_at,  # type: ignore[arg-type]  # epoch seconds after validation
        max_attempts=req.max_attempts,
        queue=req.queue,
        idempotency_key=key,
        priority=req.priority,
    )
    out = job.to_dict()
    try:
        served: bool | None = await tickr.is_served(job.queue)
    except RedisUnavailable:  # the job is in: say so, and that the check could not be made
        served = None
    out["served"] = served
    out["warnings"] = [] if served else [unserved_warning(job.queue, checked=served is not None)]
    return json_response(out, 202, {"Location": f"{API_PREFIX}/jobs/{job.id}"})


def unserved_warning(queue: str, *, checked: bool = True) -> str:
    shown = queue if len(queue) <= 80 else queue[:77] + "..."
    if not checked:
        return f"could not check whether a live worker serves queue {shown!r} (Redis did not answer)"
    return (
        f"no live worker serves queue {shown!r}: the job waits until one does "
        f"(start one with: tickr worker --queue {shown})"
    )


def _check_payload_strictly(job_type: JobType, payload: Any) -> None:
    """Hold a JSON payload to its published schema: pydantic's lax mode would take ``false``
    for a number or ``"5"`` for an integer, which the schema says are invalid (the engine's
    Python API stays lax, for Python callers). JSON Schema's integer includes 41.0, so integral
    floats are checked as integers."""
    try:
        job_type.payload_model.model_validate_json(orjson.dumps(_integral_floats(payload)), strict=True)
    except ValidationError as exc:
        raise InvalidPayload(
            f"payload does not match the schema of job type {job_type.name!r}", details=field_errors(exc)
        ) from None


def _integral_floats(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats(v) for v in value]
    return value


async def get_job(request: web.Request) -> web.Response:
    job_id = _job_id(request)
    job = await tickr_of(request).get(job_id)
    if job is None:
        raise JobNotFound(f"no job with id {job_id!r}")
    return json_response(job.to_dict())


async def list_jobs(request: web.Request) -> web.Response:
    tickr = tickr_of(request)
    query = validate(
        ListJobsQuery, {k: request.query.get(k) for k in ("queue", "status", "limit", "type") if k in request.query}
    )
    statuses = (query.status,) if query.status else MIXED_ORDER
    jobs: list[dict[str, Any]] = []
    for status in statuses:
        room = query.limit - len(jobs)
        if room <= 0:
            break
        jobs.extend(j.to_dict() for j in await tickr.list_jobs(query.queue, status, room, job_type=query.type))
    return json_response(
        {"queue": query.queue, "status": query.status, "type": query.type, "limit": query.limit, "jobs": jobs}
    )


async def cancel_job(request: web.Request) -> web.Response:
    job_id = _job_id(request)
    outcome = await tickr_of(request).cancel(job_id)
    return json_response({"id": job_id, "status": "cancelled" if outcome == "cancelled" else "cancel_requested"})


async def retry_job(request: web.Request) -> web.Response:
    job_id = _job_id(request)
    tickr = tickr_of(request)
    await tickr.retry(job_id)
    job = await tickr.get(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} was deleted")
    return json_response(job.to_dict())


async def set_priority(request: web.Request) -> web.Response:
    job_id = _job_id(request)
    body = await read_model(request, SetPriority)
    tickr = tickr_of(request)
    await tickr.set_priority(job_id, body.priority)
    job = await tickr.get(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} was deleted")
    return json_response(job.to_dict())


async def job_types(request: web.Request) -> web.Response:
    types = sorted(request.app[TICKR].registry, key=lambda t: t.name)  # needs no Redis
    return json_response({"job_types": [t.describe() for t in types]})


def routes() -> list[web.RouteDef]:
    p = API_PREFIX
    return [
        web.post(f"{p}/jobs", submit_job),
        web.get(f"{p}/jobs", list_jobs),
        web.get(f"{p}/jobs/{{id:[^/]+}}", get_job),
        web.delete(f"{p}/jobs/{{id:[^/]+}}", cancel_job),
        web.post(f"{p}/jobs/{{id:[^/]+}}/retry", retry_job),
        web.post(f"{p}/jobs/{{id:[^/]+}}/priority", set_priority),
        web.get(f"{p}/job-types", job_types),
    ]
