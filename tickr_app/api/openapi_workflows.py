"""The /api/v1/workflows part of the OpenAPI document (kept apart from openapi.py).

The tree's schema is recursive: ``WorkflowTree`` is one of a job (one variant per registered
job type, with that type's payload schema, as POST /jobs has it), ``{"chain": [tree...]}`` or
``{"group": [tree...], "then"?: tree}``."""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel

from tickr_app.core.registry import Registry
from tickr_app.core.workflows import MAX_DEPTH, MAX_EDGES, MAX_ITEMS, MAX_NODES, NAME_MAX

from .schemas import IDEMPOTENCY_KEY_PATTERN, QUEUE_NAME_PATTERN, UUID_PATTERN
from .state import API_PREFIX
from .workflow_schemas import SubmitWorkflow, WorkflowDeleted, WorkflowList, WorkflowOut

REF = "#/components/schemas/"


class _Builder(Protocol):
    schemas: dict[str, Any]

    def model(self, model: type[BaseModel]) -> dict[str, str]: ...

    def payload(self, job_type_name: str, model: type[BaseModel]) -> dict[str, str]: ...


Responses = Any


def _tree_schemas(b: _Builder, registry: Registry) -> dict[str, str]:
    tree = {"$ref": REF + "WorkflowTree"}
    variants: list[dict[str, str]] = []
    for job_type in sorted(registry, key=lambda t: t.name):
        payload_ref = b.payload(job_type.name, job_type.payload_model)
        payload_schema = b.schemas[payload_ref["$ref"].removeprefix(REF)]
        required = ["type"]
        if payload_schema.get("required"):
            payload: dict[str, Any] = payload_ref
            required.append("payload")
        else:
            payload = {"anyOf": [payload_ref, {"type": "null"}]}
        name = "WorkflowJob_" + re.sub(r"[^A-Za-z0-9._-]", "_", job_type.name)
        b.schemas[name] = {
            "type": "object",
            "title": f"Workflow job {job_type.name}",
            "properties": {
                "type": {"const": job_type.name, "type": "string"},
                "payload": payload,
                "max_attempts": {"type": "integer", "minimum": 1, "maximum": 1000},
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "description": "a label"},
            },
            "required": required,
            "additionalProperties": False,
        }
        variants.append({"$ref": REF + name})
    items = {"type": "array", "items": tree, "minItems": 1, "maxItems": MAX_ITEMS}
    b.schemas["WorkflowChain"] = {
        "type": "object",
        "description": "steps run one after the other; each gets the previous step's result(s)",
        "properties": {"chain": items},
        "required": ["chain"],
        "additionalProperties": False,
    }
    b.schemas["WorkflowGroup"] = {
        "type": "object",
        "description": "members run in parallel; `then` runs once with all their results, in order",
        "properties": {"group": items, "then": tree},
        "required": ["group"],
        "additionalProperties": False,
    }
    b.schemas["WorkflowTree"] = {
        "description": f"a job, a chain or a group, nestable (at most {MAX_NODES} jobs, {MAX_EDGES} "
        f"dependencies and {MAX_DEPTH} levels in all)",
        "oneOf": [*variants, {"$ref": REF + "WorkflowChain"}, {"$ref": REF + "WorkflowGroup"}],
    }
    body = b.model(SubmitWorkflow)
    schema = b.schemas[body["$ref"].removeprefix(REF)]
    schema["properties"]["tree"] = {**tree, "description": schema["properties"]["tree"].get("description", "")}
    return body


def workflow_paths(b: _Builder, responses: Responses, registry: Registry) -> dict[str, Any]:
    """Paths of the workflows API; ``responses(ok, ref, errors, description)`` as in openapi.py."""
    workflow = b.model(WorkflowOut)
    body = _tree_schemas(b, registry)
    wid = {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "the workflow's UUID",
        "schema": {"type": "string", "pattern": UUID_PATTERN},
    }
    p = f"{API_PREFIX}/workflows"
    return {
        p: {
            "post": {
                "operationId": "submitWorkflow",
                "tags": ["workflows"],
                "summary": "Submit a workflow atomically (every payload is validated first)",
                "description": "Every node runs in one queue. 422 names the node and field of an unknown type or a "
                "payload failing its schema, an empty chain or group, or a tree over the size limits.",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "a submit with a key seen in the last 24 h (in the same queue) returns the "
                        "original workflow; 409 if that one was asked for with another tree, queue or policy",
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                    }
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": responses(202, workflow, [400, 409, 413, 415, 422], "The workflow, with every node"),
            },
            "get": {
                "operationId": "listWorkflows",
                "tags": ["workflows"],
                "summary": "Workflows, newest first, with their progress (done of total)",
                "parameters": [
                    {"name": "queue", "in": "query", "schema": {"type": "string", "pattern": QUEUE_NAME_PATTERN}},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["running", "succeeded", "failed", "cancelled"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                    },
                ],
                "responses": responses(200, b.model(WorkflowList), [422]),
            },
        },
        f"{p}/{{id}}": {
            "parameters": [wid],
            "get": {
                "operationId": "getWorkflow",
                "tags": ["workflows"],
                "summary": "A workflow with every node's status, duration, error and result",
                "responses": responses(200, workflow, [404]),
            },
            "delete": {
                "operationId": "cancelWorkflow",
                "tags": ["workflows"],
                "summary": "Cancel a running workflow: pending nodes are skipped, running ones asked to stop",
                "responses": responses(200, workflow, [404, 409]),
            },
        },
        f"{p}/{{id}}/record": {
            "parameters": [wid],
            "delete": {
                "operationId": "deleteWorkflow",
                "tags": ["workflows"],
                "summary": "Delete an ended workflow's record and its node jobs' records",
                "description": "DELETE on the workflow itself cancels it (as DELETE /jobs/{id} cancels a job). "
                "409 while it runs (cancel it first) or while nodes it asked to stop still run.",
                "responses": responses(200, b.model(WorkflowDeleted), [404, 409]),
            },
        },
        f"{p}/{{id}}/retry": {
            "parameters": [wid],
            "post": {
                "operationId": "retryWorkflow",
                "tags": ["workflows"],
                "summary": "Run a workflow's dead and cancelled nodes again; it resumes",
                "responses": responses(200, workflow, [404, 409]),
            },
        },
    }
