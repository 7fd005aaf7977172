"""The workflow scripts (``workflow_*.lua``), one typed method each; ``Scripts.workflow``.

Kept apart from ``scripts.py`` so the job scripts' module stays about jobs; the hooks that move a
workflow on (ack, fail, recover, cancel, retry, delete) live in ``lua/_workflow.lua`` and run
inside the job scripts themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from redis.commands.core import AsyncScript

from .keys import QueueKeys


class WorkflowSubmitted(NamedTuple):
    created: bool
    """False when this very workflow id was already stored (a re-sent call)."""
    created_at: int


class WorkflowScripts:
    def __init__(self, handles: dict[str, AsyncScript], *, events_maxlen: int, retention_ms: int) -> None:
        """Takes its scripts out of ``handles`` (what is left is checked by ``Scripts``)."""
        self._events_maxlen = events_maxlen
        self._retention_ms = retention_ms
        self._submit = handles.pop("workflow_submit")
        self._cancel = handles.pop("workflow_cancel")
        self._retry = handles.pop("workflow_retry")

    async def submit(
        self,
        k: QueueKeys,
        workflow_id: str,
        policy: str,
        shape_json: str,
        control_prefix: str,
        specs: Sequence[str],
    ) -> WorkflowSubmitted:
        """Store a workflow and make its root nodes ready; ``specs`` are the nodes' JSON specs."""
        args: list[Any] = [
            workflow_id,
            k.queue,
            policy,
            shape_json,
            self._retention_ms,
            control_prefix,
            self._events_maxlen,
            len(specs),
            *specs,
        ]
        outcome, created_at = await self._submit(
            [k.workflow(workflow_id), k.workflows, k.ready, k.events, k.stats, k.job_prefix], args
        )
        return WorkflowSubmitted(outcome == "created", int(created_at))

    async def cancel(self, k: QueueKeys, workflow_id: str) -> str:
        """'stopped' (it was running), 'missing', or the status of a workflow that already ended."""
        return str(await self._cancel([k.workflow(workflow_id), k.job_prefix], [self._events_maxlen]))

    async def retry(self, k: QueueKeys, workflow_id: str) -> int | None:
        """Nodes started again (0: nothing to retry); None when the workflow is missing."""
        r = await self._retry([k.workflow(workflow_id), k.job_prefix], [self._events_maxlen])
        return None if r == "missing" else int(r)
