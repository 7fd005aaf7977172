"""The OpenAPI 3.1 document, generated from the same pydantic models that validate requests,
plus each registered job type's payload schema."""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel

import tickr_app
from tickr_app.core.job import STATUSES
from tickr_app.core.registry import Registry

from .openapi_limits import limit_paths
from .openapi_schedules import schedule_paths
from .openapi_workflows import workflow_paths
from .schedule_schemas import UpsertSchedule
from .schemas import (
    DEFAULT_LIST_LIMIT,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_LIST_LIMIT,
    QUEUE_NAME_PATTERN,
    UUID_PATTERN,
    CancelOut,
    DeadDeleted,
    ErrorOut,
    HealthOut,
    JobList,
    JobOut,
    JobTypeList,
    QueueForgotten,
    QueueList,
    QueueOut,
    SubmitJob,
    SubmittedJob,
    UpdateWorker,
    WorkerCommandOut,
    WorkerList,
)
from .state import API_PREFIX

REF = "#/components/schemas/"

_ERRORS = {
    400: "Malformed JSON, or a body that is not a JSON object",
    401: "Missing or wrong bearer token",
    404: "Not found",
    409: "The job or queue is in a state that does not allow this, or the Idempotency-Key was used "
    "for a different request",
    413: "Body over 1 MiB",
    415: "Body is not application/json",
    422: "Unknown job type, payload failing its schema, or invalid fields (field-level details)",
    503: "Redis is unreachable",
}
_STATUSES = list(STATUSES)


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self._payloads: dict[str, dict[str, str]] = {}

    def model(self, model: type[BaseModel]) -> dict[str, str]:
        name = model.__name__
        if name not in self.schemas:
            schema = model.model_json_schema(ref_template=REF + "{model}")
            self.schemas.update(schema.pop("$defs", {}))
            self.schemas[name] = schema
        return {"$ref": REF + name}

    def payload(self, job_type_name: str, model: type[BaseModel]) -> dict[str, str]:
        """The job type's payload schema, added once (POST /jobs and PUT /schedules share it)."""
        if job_type_name not in self._payloads:
            self._payloads[job_type_name] = self._add_payload(job_type_name, model)
        return self._payloads[job_type_name]

    def _add_payload(self, job_type_name: str, model: type[BaseModel]) -> dict[str, str]:
        base = "Payload_" + re.sub(r"[^A-Za-z0-9._-]", "_", job_type_name)
        name, n = base, 1
        while name in self.schemas:
            n += 1
            name = f"{base}_{n}"
        schema = model.model_json_schema(ref_template=REF + name + "_{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            self.schemas[f"{name}_{def_name}"] = definition
        self.schemas[name] = schema
        return {"$ref": REF + name}


def _json(ref: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _responses(ok: int, ok_ref: dict[str, Any], errors: list[int], ok_description: str = "OK") -> dict[str, Any]:
    out: dict[str, Any] = {str(ok): _json(ok_ref, ok_description)}
    for status in sorted(set(errors) | {401, 503}):
        out[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    return out


def _path_param(name: str, pattern: str | None, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _per_type(b: _Builder, registry: Registry, model: type[BaseModel], verb: str) -> dict[str, Any]:
    """A request body with ``type`` and ``payload``, as one variant per registered job type:
    ``type`` is that name and ``payload`` that type's schema, so a body the document allows
    names a type the server knows with a payload it takes."""
    base = b.model(model)
    variants = []
    for job_type in sorted(registry, key=lambda t: t.name):
        payload_ref = b.payload(job_type.name, job_type.payload_model)
        variant = copy.deepcopy(b.schemas[model.__name__])
        variant["title"] = f"{verb} {job_type.name}"
        variant["properties"]["type"] = {"const": job_type.name, "type": "string"}
        payload_schema = b.schemas[payload_ref["$ref"].removeprefix(REF)]
        description = job_type.description or job_type.name
        if payload_schema.get("required"):  # left out or null means {}, which would fail
            variant["properties"]["payload"] = {**payload_ref, "description": description}
            variant["required"] = sorted({*variant.get("required", []), "type", "payload"})
        else:
            variant["properties"]["payload"] = {"anyOf": [payload_ref, {"type": "null"}], "description": description}
        name = f"{verb}_" + payload_ref["$ref"].removeprefix(REF + "Payload_")
        b.schemas[name] = variant
        variants.append({"$ref": REF + name})
    return {"oneOf": variants} if variants else base


def build_openapi(registry: Registry, *, auth_required: bool) -> dict[str, Any]:
    b = _Builder()
    job = b.model(JobOut)
    error = b.model(ErrorOut)
    submit_body = _per_type(b, registry, SubmitJob, "Submit")

    job_id = _path_param("id", UUID_PATTERN, "the job's UUID")
    queue_name = _path_param("name", QUEUE_NAME_PATTERN, "a known queue")
    worker_id = _path_param("id", None, "a live worker process id, as listed by GET /workers")

    paths: dict[str, Any] = {
        f"{API_PREFIX}/jobs": {
            "post": {
                "operationId": "submitJob",
                "tags": ["jobs"],
                "summary": "Submit a job (the server generates its id)",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "a submit with a key seen in the last 24 h returns the original job",
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    }
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": submit_body}}},
                "responses": _responses(
                    202,
                    b.model(SubmittedJob),
                    [400, 409, 413, 415, 422],
                    "The job, accepted; served is false (with a warning) when no live worker serves its queue",
                ),
            },
            "get": {
                "operationId": "listJobs",
                "tags": ["jobs"],
                "summary": "List a queue's jobs",
                "description": "Without status, jobs of every status are listed in the order active, ready, "
                "waiting, dead, succeeded, cancelled until the limit is reached.",
                "parameters": [
                    {"name": "queue", "in": "query", "schema": {"type": "string", "pattern": QUEUE_NAME_PATTERN, "default": "default"}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                    {
                        "name": "type",
                        "in": "query",
                        "description": "only jobs of this type (among the first 10,000 of each status)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": DEFAULT_LIST_LIMIT},
                    },
                ],
                "responses": _responses(200, b.model(JobList), [422]),
            },
        },
        f"{API_PREFIX}/jobs/{{id}}": {
            "parameters": [job_id],
            "get": {
                "operationId": "getJob",
                "tags": ["jobs"],
                "summary": "A job: status, attempts, timestamps, progress, result, last error",
                "responses": _responses(200, job, [404]),
            },
            "delete": {
                "operationId": "cancelJob",
                "tags": ["jobs"],
                "summary": "Cancel a waiting/ready job, or request cancel of an active one",
                "responses": _responses(200, b.model(CancelOut), [404, 409]),
            },
        },
        f"{API_PREFIX}/jobs/{{id}}/retry": {
            "parameters": [job_id],
            "post": {
                "operationId": "retryJob",
                "tags": ["jobs"],
                "summary": "Put a dead or cancelled job back to ready",
                "responses": _responses(200, job, [404, 409]),
            },
        },
        f"{API_PREFIX}/job-types": {
            "get": {
                "operationId": "listJobTypes",
                "tags": ["jobs"],
                "summary": "Job types with their payload JSON Schema, timeout and max_attempts",
                "responses": _responses(200, b.model(JobTypeList), []),
            }
        },
        f"{API_PREFIX}/queues": {
            "get": {
                "operationId": "listQueues",
                "tags": ["queues"],
                "summary": "Counts per queue",
                "responses": _responses(200, b.model(QueueList), []),
            }
        },
        f"{API_PREFIX}/queues/{{name}}": {
            "parameters": [queue_name],
            "delete": {
                "operationId": "forgetQueue",
                "tags": ["queues"],
                "summary": "Forget a queue that holds no jobs and that no live worker serves",
                "description": "Its finished records, counters and events go too. 409 while it holds "
                "ready, waiting, active or dead jobs, schedules or workflow records, or a live worker process serves it.",
                "responses": _responses(200, b.model(QueueForgotten), [404, 409]),
            },
        },
        f"{API_PREFIX}/queues/{{name}}/dead": {
            "parameters": [queue_name],
            "delete": {
                "operationId": "deleteDeadJobs",
                "tags": ["queues"],
                "summary": "Delete every dead job of a queue, atomically",
                "responses": _responses(200, b.model(DeadDeleted), [404]),
            },
        },
        f"{API_PREFIX}/queues/{{name}}/pause": {
            "parameters": [queue_name],
            "post": {
                "operationId": "pauseQueue",
                "tags": ["queues"],
                "summary": "Pause a queue for every process (in-flight jobs finish)",
                "responses": _responses(200, b.model(QueueOut), [404]),
            },
        },
        f"{API_PREFIX}/queues/{{name}}/resume": {
            "parameters": [queue_name],
            "post": {
                "operationId": "resumeQueue",
                "tags": ["queues"],
                "summary": "Resume a queue for every process",
                "responses": _responses(200, b.model(QueueOut), [404]),
            },
        },
        f"{API_PREFIX}/workers": {
            "get": {
                "operationId": "listWorkers",
                "tags": ["workers"],
                "summary": "Live worker processes on every host",
                "responses": _responses(200, b.model(WorkerList), []),
            }
        },
        f"{API_PREFIX}/workers/{{id}}": {
            "parameters": [worker_id],
            "patch": {
                "operationId": "updateWorker",
                "tags": ["workers"],
                "summary": "Scale or pause any live worker process",
                "requestBody": {"required": True, "content": {"application/json": {"schema": b.model(UpdateWorker)}}},
                "responses": _responses(200, b.model(WorkerCommandOut), [400, 404, 413, 415, 422]),
            },
        },
        f"{API_PREFIX}/health": {
            "get": {
                "operationId": "health",
                "tags": ["service"],
                "summary": "Liveness and Redis reachability (never needs a token)",
                "security": [],
                "responses": {
                    "200": _json(b.model(HealthOut)),
                    "503": _json(b.model(HealthOut), "Redis is unreachable"),
                },
            }
        },
        f"{API_PREFIX}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["service"],
                "summary": "This document",
                "responses": _responses(200, {"type": "object"}, []),
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "tags": ["service"],
                "summary": "Prometheus metrics (text format)",
                "responses": {
                    "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "401": {"$ref": "#/components/responses/Error401"},
                },
            }
        },
    }
    paths.update(schedule_paths(b, _responses, _per_type(b, registry, UpsertSchedule, "Schedule")))
    paths.update(workflow_paths(b, _responses, registry))
    paths.update(limit_paths(b, _responses))
    for item in paths.values():
        for op in item.values():
            if isinstance(op, dict) and "responses" in op and "405" not in op["responses"]:
                op["responses"]["405"] = {"$ref": "#/components/responses/Error405"}
    responses = {f"Error{s}": _json(error, d) for s, d in {**_ERRORS, 405: "Method not allowed"}.items()}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Tickr API",
            "version": tickr_app.__version__,
            "description": "Submit, inspect and control Tickr jobs. Errors are JSON "
            '{"error": {"code", "message", "details"?}}.',
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(b.schemas.items())),
            "responses": responses,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    if auth_required:
        doc["security"] = [{"bearerAuth": []}]
    return doc
