"""Pydantic models of /api/v1/workflows (the tree itself is checked by core.workflows.from_json;
its schema in the OpenAPI document is written in openapi_workflows.py, one variant per type)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tickr_app.core.workflows import FailurePolicy, NodeStatus, WorkflowStatus

from .schemas import MAX_LIST_LIMIT, QueueName


class SubmitWorkflow(BaseModel):
    """Body of ``POST /api/v1/workflows``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    tree: dict[str, Any] = Field(description="the workflow: a job, a chain or a group (nestable)")
    queue: QueueName | None = Field(
        default=None, description="the one queue every node runs in (default: the first node's type's queue)"
    )
    policy: FailurePolicy = Field(
        default="fail_fast",
        description="fail_fast: a dead node fails the workflow and stops the rest; continue: the other "
        "branches go on, the dead node's dependents are skipped",
    )


class ListWorkflowsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)

    queue: QueueName | None = None
    status: WorkflowStatus | None = None
    limit: int = Field(default=50, ge=1, le=MAX_LIST_LIMIT)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkflowNodeOut(_Response):
    """One node. Times are epoch milliseconds (Redis clock)."""

    index: int
    name: str
    type: str
    job_id: str = Field(description="the node's job (GET /jobs/{id} once it is no longer pending)")
    status: NodeStatus
    parents: list[int]
    children: list[int]
    attempts: int
    started_at: int | None
    finished_at: int | None
    duration_ms: int | None
    error: str | None
    has_result: bool
    result: Any


class WorkflowOut(_Response):
    id: str
    queue: str
    status: WorkflowStatus
    policy: FailurePolicy
    total: int = Field(description="nodes in the workflow")
    done: int = Field(description="nodes that succeeded")
    created_at: int
    finished_at: int | None
    failed_node: int | None = Field(description="the node whose death failed the workflow")
    error: str | None
    shape: Any = Field(description='the tree with node indices at the leaves, e.g. {"chain": [0, {"group": [1, 2]}]}')
    nodes: list[WorkflowNodeOut] | None = Field(default=None, description="every node (not in listings)")


class WorkflowDeleted(_Response):
    id: str
    deleted: Literal[True]


class WorkflowSummary(WorkflowOut):
    nodes: None = None


class WorkflowList(_Response):
    workflows: list[WorkflowSummary]
