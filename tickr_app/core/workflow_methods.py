"""The workflow methods of ``Tickr`` (a mixin, as the schedule methods are)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from redis.exceptions import RedisError

from .backoff import Reconnect
from .errors import InvalidRequest
from .keys import check_queue_name
from .workflow_records import WorkflowInfo
from .workflow_store import WorkflowStore, build_submission
from .workflows import FAILURE_POLICIES, WORKFLOW_STATUSES, Node, from_json

_R = TypeVar("_R")

if TYPE_CHECKING:
    from .broker import Broker
    from .registry import Registry


class WorkflowMethods:
    """``submit_workflow``, ``get_workflow``, ``list_workflows``, ``cancel_workflow``,
    ``retry_workflow``, ``delete_workflow`` and ``wait_workflow``."""

    registry: Registry

    if TYPE_CHECKING:

        def _require(self) -> Broker: ...

        async def _redis(self, awaitable: Awaitable[_R]) -> _R: ...

        async def known_queues(self) -> list[str]: ...

    def _workflow_store(self) -> WorkflowStore:
        broker = self._require()
        store: WorkflowStore | None = getattr(self, "_workflows_store", None)
        if store is None or store.broker is not broker:
            store = WorkflowStore(broker)
            self._workflows_store = store
        return store

    async def submit_workflow(
        self,
        tree: Node | Mapping[str, Any],
        *,
        queue: str | None = None,
        policy: str = "fail_fast",
        idempotency_key: str | None = None,
    ) -> WorkflowInfo:
        """Submit a workflow atomically (every payload is validated first; nothing is stored if
        one fails). ``tree`` is ``chain``/``group``/``sig`` or its JSON form. The whole workflow
        runs in one queue: ``queue``, else the queue of its first node's job type.
        ``policy``: "fail_fast" (default) or "continue". With an ``idempotency_key`` seen in
        that queue in the last 24 h, the first workflow is returned instead (a client retrying
        after a lost reply submits once), or ``IdempotencyConflict`` if it asked for another."""
        node = tree if not isinstance(tree, Mapping) else from_json(tree)
        if policy not in FAILURE_POLICIES:
            raise InvalidRequest(f"policy must be one of {', '.join(FAILURE_POLICIES)}")
        if queue is not None:
            check_queue_name(queue)
        if idempotency_key is not None and (
            not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= 200
        ):
            raise InvalidRequest("idempotency key must be a string of 1 to 200 characters")
        submission = build_submission(self.registry, node, queue=queue, policy=policy, idempotency_key=idempotency_key)
        return await self._redis(self._workflow_store().submit(submission))

    async def get_workflow(self, workflow_id: str) -> WorkflowInfo:
        """A workflow with every node's status; ``WorkflowNotFound`` if unknown (or expired)."""
        return await self._redis(self._workflow_store().get(workflow_id))

    async def list_workflows(
        self, queue: str | None = None, *, status: str | None = None, limit: int = 50
    ) -> list[WorkflowInfo]:
        """Workflows, newest first, without their nodes (``done`` of ``total`` is the progress);
        all known queues unless ``queue`` is given."""
        if status is not None and status not in WORKFLOW_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(WORKFLOW_STATUSES)}")
        if not 1 <= limit <= 1000:
            raise InvalidRequest("limit must be between 1 and 1000")
        queues = [check_queue_name(queue)] if queue is not None else await self.known_queues()
        return await self._redis(self._workflow_store().list(queues, status, limit))

    async def cancel_workflow(self, workflow_id: str) -> WorkflowInfo:
        """Cancel a running workflow: nodes not started are skipped, ready and waiting ones are
        cancelled, running ones are asked to stop. ``WrongState`` if it already ended."""
        return await self._redis(self._workflow_store().cancel(workflow_id))

    async def delete_workflow(self, workflow_id: str) -> None:
        """Delete an ended workflow's record and its node jobs' records (a failed workflow is
        kept until deleted or retried, and its record keeps its queue from being forgotten).
        ``WrongState`` while it runs (cancel it first) or while nodes it asked to stop still run."""
        await self._redis(self._workflow_store().delete(workflow_id))

    async def retry_workflow(self, workflow_id: str) -> WorkflowInfo:
        """Resume a failed or cancelled workflow: its dead and cancelled nodes run again and
        its skipped nodes run once their dependencies succeed. ``WrongState`` if it has nothing
        to retry."""
        return await self._redis(self._workflow_store().retry(workflow_id))

    async def wait_workflow(self, workflow_id: str, timeout: float | None = None) -> WorkflowInfo:
        """Wait until the workflow ends (succeeded, failed or cancelled), following its queue's
        event stream (no polling); the final state with every node."""
        store = self._workflow_store()
        info = await self._redis(store.get(workflow_id, nodes=False))
        queue = info.queue

        async def follow() -> WorkflowInfo:
            backoff = Reconnect()
            cursor: str | None = None
            while True:
                try:
                    if cursor is None:
                        cursor = await store.broker.last_event_id(queue)
                    if await store.is_final(queue, workflow_id):
                        return await store.get(workflow_id, queue=queue)
                    events = await store.broker.read_events(queue, cursor, block_ms=1000)
                    if events:
                        cursor = events[-1][0]
                    backoff.reset()
                except (RedisError, OSError):
                    await asyncio.sleep(backoff.next_delay())

        return await asyncio.wait_for(follow(), timeout)
