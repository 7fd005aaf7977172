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
    earlier: str | None = None
    """The workflow an idempotency key already named (nothing was stored)."""
    same_request: bool = True
    """False when that earlier workflow was asked for with a different request."""


class WorkflowScripts:
    def __init__(
        self, handles: dict[str, AsyncScript], *, events_maxlen: int, retention_ms: int, idempotency_ttl_ms: int
    ) -> None:
        """Takes its scripts out of ``handles`` (what is left is checked by ``Scripts``)."""
        self._events_maxlen = events_maxlen
        self._retention_ms = retention_ms
        self._idempotency_ttl_ms = idempotency_ttl_ms
        self._submit = handles.pop("workflow_submit")
        self._cancel = handles.pop("workflow_cancel")
        self._retry = handles.pop("workflow_retry")
        self._delete = handles.pop("workflow_delete")

    async def submit(
        self,
        k: QueueKeys,
        workflow_id: str,
        policy: str,
        shape_json: str,
        control_prefix: str,
        specs: Sequence[str],
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> WorkflowSubmitted:
        """Store a workflow and make its root nodes ready; ``specs`` are the nodes' JSON specs.
        With an idempotency key already used in this queue, nothing is stored: ``earlier``."""
        args: list[Any] = [
            workflow_id,
            k.queue,
            policy,
            shape_json,
            self._retention_ms,
            control_prefix,
            self._events_maxlen,
            len(specs),
            idempotency_key or "",
            fingerprint,
            self._idempotency_ttl_ms,
            *specs,
        ]
        wk = k.workflow(workflow_id)
        idem = k.workflow_idempotency(idempotency_key) if idempotency_key else wk
        outcome, value = await self._submit([wk, k.workflows, k.ready, k.events, k.stats, k.job_prefix, idem], args)
        if outcome in ("matched", "conflict"):
            return WorkflowSubmitted(False, 0, str(value), outcome == "matched")
        return WorkflowSubmitted(outcome == "created", int(value))

    async def cancel(self, k: QueueKeys, workflow_id: str) -> str:
        """'stopped' (it was running), 'missing', or the status of a workflow that already ended."""
        return str(await self._cancel([k.workflow(workflow_id), k.job_prefix], [self._events_maxlen]))

    async def retry(self, k: QueueKeys, workflow_id: str) -> int | None:
        """Nodes started again (0: nothing to retry); None when the workflow is missing."""
        r = await self._retry([k.workflow(workflow_id), k.job_prefix], [self._events_maxlen])
        return None if r == "missing" else int(r)

    async def delete(self, k: QueueKeys, workflow_id: str) -> str:
        """'deleted', 'missing', 'running' (cancel it first) or 'stopping' (nodes still running)."""
        keys = [k.workflow(workflow_id), k.workflows, k.job_prefix]
        return str(await self._delete(keys, [workflow_id, self._events_maxlen]))
