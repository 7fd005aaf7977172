"""What the facade hands out about workflows: plain dataclasses, no Redis access."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .workflows import FailurePolicy, NodeStatus, Shape, WorkflowStatus


@dataclass(slots=True)
class WorkflowNode:
    """One node of a workflow, as it stands."""

    index: int
    """Position in the tree, depth first from 0 (the leaves of ``WorkflowInfo.shape``)."""
    name: str
    type: str
    job_id: str
    """The node's job (``Tickr.get``); the job record exists once the node stopped being
    ``pending`` (and until its retention ends)."""
    status: NodeStatus
    parents: list[int]
    children: list[int]
    attempts: int = 0
    started_at: int | None = None
    finished_at: int | None = None
    error: str | None = None
    has_result: bool = False
    result: Any = None
    """The node's result, kept with the workflow (whatever the jobs' retention) until the
    workflow's own record expires."""

    @property
    def duration_ms(self) -> int | None:
        """Run time of the last attempt; None until it finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0, self.finished_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "job_id": self.job_id,
            "status": self.status,
            "parents": self.parents,
            "children": self.children,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "has_result": self.has_result,
            "result": self.result,
        }


@dataclass(slots=True)
class WorkflowInfo:
    """A workflow: its state, progress and (from ``get_workflow``) every node."""

    id: str
    queue: str
    status: WorkflowStatus
    policy: FailurePolicy
    total: int
    """Nodes in the workflow."""
    done: int
    """Nodes that succeeded ("n of m done" is ``done`` of ``total``)."""
    created_at: int
    finished_at: int | None = None
    failed_node: int | None = None
    """Under ``fail_fast``: the node whose death failed the workflow."""
    error: str | None = None
    shape: Shape | None = None
    """The tree with node indices at the leaves, e.g. ``{"chain": [0, {"group": [1, 2]}, 3]}``."""
    nodes: list[WorkflowNode] = field(default_factory=list)
    """Every node, by index (empty in ``list_workflows``)."""

    @property
    def is_final(self) -> bool:
        return self.status != "running"

    @property
    def result(self) -> Any:
        """The result of the last node (the workflow's output) once it succeeded, else None."""
        if self.status != "succeeded" or not self.nodes:
            return None
        return self.nodes[-1].result

    def to_dict(self, *, nodes: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "queue": self.queue,
            "status": self.status,
            "policy": self.policy,
            "total": self.total,
            "done": self.done,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "failed_node": self.failed_node,
            "error": self.error,
            "shape": self.shape,
        }
        if nodes:
            out["nodes"] = [n.to_dict() for n in self.nodes]
        return out
