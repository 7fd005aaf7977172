"""/api/v1/workflows: submit, read, list, cancel, retry and delete workflows (core/workflow_methods.py)."""

from __future__ import annotations

from aiohttp import web

from tickr_app.core.errors import InvalidPayload, WorkflowNotFound
from tickr_app.core.keys import check_queue_name
from tickr_app.core.registry import Registry
from tickr_app.core.workflows import Node, flatten, from_json

from .body import read_model, validate
from .errors import json_response
from .routes_jobs import _check_payload_strictly, _idempotency_key
from .schemas import is_job_id
from .state import API_PREFIX, tickr_of
from .workflow_schemas import ListWorkflowsQuery, SubmitWorkflow


def _id(request: web.Request) -> str:
    workflow_id = request.match_info["id"]
    if not is_job_id(workflow_id):
        raise WorkflowNotFound("no workflow with that id (workflow ids are UUIDs)")
    return workflow_id.lower()


async def submit_workflow(request: web.Request) -> web.Response:
    body = await read_model(request, SubmitWorkflow)
    key = _idempotency_key(request)
    if body.queue is not None:
        check_queue_name(body.queue)
    tickr = tickr_of(request)
    tree = from_json(body.tree)
    _check_payloads_strictly(tickr.registry, tree)
    wf = await tickr.submit_workflow(tree, queue=body.queue, policy=body.policy, idempotency_key=key)
    return json_response(wf.to_dict(), 202, {"Location": f"{API_PREFIX}/workflows/{wf.id}"})


def _check_payloads_strictly(registry: Registry, tree: Node) -> None:
    """Hold each node's JSON payload to its published schema, as POST /jobs does (unknown types
    are left to the engine, which names the node)."""
    for node in flatten(tree).nodes:
        if node.type in registry:
            try:
                _check_payload_strictly(registry.get(node.type), {} if node.payload is None else node.payload)
            except InvalidPayload as exc:
                raise InvalidPayload(f"node {node.index} ({node.name}): {exc.message}", exc.details) from None


async def list_workflows(request: web.Request) -> web.Response:
    query = validate(ListWorkflowsQuery, dict(request.query))
    found = await tickr_of(request).list_workflows(query.queue, status=query.status, limit=query.limit)
    return json_response({"workflows": [w.to_dict(nodes=False) for w in found]})


async def get_workflow(request: web.Request) -> web.Response:
    return json_response((await tickr_of(request).get_workflow(_id(request))).to_dict())


async def cancel_workflow(request: web.Request) -> web.Response:
    return json_response((await tickr_of(request).cancel_workflow(_id(request))).to_dict())


async def delete_workflow(request: web.Request) -> web.Response:
    """DELETE on the workflow cancels it, as DELETE /jobs/{id} cancels a job; its record (and
    its node jobs' records) goes with DELETE on /record, once it has ended."""
    workflow_id = _id(request)
    await tickr_of(request).delete_workflow(workflow_id)
    return json_response({"id": workflow_id, "deleted": True})


async def retry_workflow(request: web.Request) -> web.Response:
    return json_response((await tickr_of(request).retry_workflow(_id(request))).to_dict())


def routes() -> list[web.RouteDef]:
    p = f"{API_PREFIX}/workflows"
    return [
        web.post(p, submit_workflow),
        web.get(p, list_workflows),
        web.get(f"{p}/{{id:[^/]+}}", get_workflow),
        web.delete(f"{p}/{{id:[^/]+}}", cancel_workflow),
        web.post(f"{p}/{{id:[^/]+}}/retry", retry_workflow),
        web.delete(f"{p}/{{id:[^/]+}}/record", delete_workflow),
    ]
