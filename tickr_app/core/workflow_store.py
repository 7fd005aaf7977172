"""Workflows in Redis: submit, read, list, cancel and retry (the facade's ``WorkflowMethods``).

The Redis Cluster rule: a workflow runs in ONE queue. Its hash ``<prefix>:{queue}:wf:<id>``
and its index ``<prefix>:{queue}:workflows`` carry the queue's hash tag, and every node is a job
of that queue, so the job scripts (ack, fail, ...) move the workflow on in their own slot.
Node jobs are created when their dependencies are met (``lua/_workflow.lua``); until then a node
exists only as its spec in the workflow hash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .broker import Broker
from .errors import (
    IdempotencyConflict,
    InvalidPayload,
    InvalidRequest,
    UnknownJobType,
    WorkflowNotFound,
    WrongState,
)
from .ids import new_job_id
from .keys import QueueKeys, check_queue_name
from .records import LeasedJob
from .registry import Registry
from .workflow_records import WorkflowInfo, WorkflowNode
from .workflows import Node, NodeStatus, flatten

NODE_FIELDS = ("id", "type", "payload", "max_attempts", "timeout_ms", "base", "cap", "parents", "children", "name")


def new_node_job_id() -> str:
    """A random UUID with version nibble 8: the scripts tell a workflow node's job from a plain
    job (version 4, or 5 for schedule slots) by its id alone, without a Redis call."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def is_node_job_id(job_id: str) -> bool:
    return len(job_id) == 36 and job_id[14] == "8"


@dataclass(slots=True)
class Submission:
    """A validated workflow, ready for the submit script."""

    id: str
    queue: str
    policy: str
    shape_json: str
    specs: list[str]
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """A digest of what was asked for (queue, policy, tree, payloads; not the fresh ids), to
        tell a re-sent submit from a different one reusing an idempotency key."""
        digest = hashlib.blake2b(digest_size=16)
        for part in (self.queue, self.policy, self.shape_json):
            digest.update(part.encode() + b"\0")
        for spec in self.specs:
            digest.update(spec[spec.index(",") :].encode() + b"\0")  # after "id": each spec starts with it
        return digest.hexdigest()


def build_submission(
    registry: Registry, tree: Node, *, queue: str | None, policy: str, idempotency_key: str | None = None
) -> Submission:
    """Validate every node against its job type (as ``submit`` does) and encode the specs;
    errors name the node (``node 3 (merge): ...``)."""
    flat = flatten(tree)
    specs: list[str] = []
    first_queue: str | None = None
    for node in flat.nodes:
        where = f"node {node.index} ({node.name})"
        try:
            job_type = registry.get(node.type)
            model = job_type.validate(node.payload if node.payload is not None else {})
        except UnknownJobType as exc:
            raise UnknownJobType(f"{where}: {exc.message}", {"node": node.index}) from None
        except InvalidPayload as exc:
            raise InvalidPayload(f"{where}: {exc.message}", exc.details) from None
        most = job_type.max_attempts if node.max_attempts is None else node.max_attempts
        if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= 1000:
            raise InvalidRequest(f"{where}: max_attempts must be an integer between 1 and 1000")
        if first_queue is None:
            first_queue = job_type.queue
        specs.append(
            orjson.dumps(
                {
                    "id": new_node_job_id(),
                    "type": job_type.name,
                    "payload": model.model_dump_json(),
                    "max_attempts": most,
                    "timeout_ms": int((job_type.timeout or 0) * 1000),
                    "base": int(job_type.backoff_base * 1000),
                    "cap": int(job_type.backoff_cap * 1000),
                    "parents": node.parents,
                    "children": node.children,
                    "name": node.name,
                }
            ).decode()
        )
    chosen = check_queue_name(queue if queue is not None else first_queue or "default")
    return Submission(new_job_id(), chosen, policy, orjson.dumps(flat.shape).decode(), specs, idempotency_key)


class WorkflowStore:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._scripts = broker.scripts.workflow

    def _keys(self, queue: str) -> QueueKeys:
        return self.broker.keys(queue)

    async def submit(self, s: Submission) -> WorkflowInfo:
        await self.broker.register_queues([s.queue])
        submitted = await self._scripts.submit(
            self._keys(s.queue),
            s.id,
            s.policy,
            s.shape_json,
            self.broker.global_keys.control_prefix,
            s.specs,
            s.idempotency_key,
            s.fingerprint() if s.idempotency_key else "",
        )
        if submitted.earlier is None:
            return await self.get(s.id, queue=s.queue, created_at=submitted.created_at)
        key = s.idempotency_key or ""
        shown = key if len(key) <= 80 else key[:77] + "..."
        if not submitted.same_request:
            raise IdempotencyConflict(
                f"Idempotency-Key {shown!r} was already used for a different workflow ({submitted.earlier}); "
                "send the same tree, queue and policy to get that workflow, or use a new key",
                details={"workflow_id": submitted.earlier},
            )
        try:
            return await self.get(submitted.earlier, queue=s.queue)
        except WorkflowNotFound:
            raise WorkflowNotFound(
                f"the workflow for this idempotency key ({submitted.earlier}) no longer exists"
            ) from None

    async def find_queue(self, workflow_id: str) -> str | None:
        queues = await self.broker.queues()
        pipe = self.broker.redis.pipeline(transaction=False)
        for q in queues:
            pipe.exists(self._keys(q).workflow(workflow_id))
        for q, found in zip(queues, await pipe.execute()):
            if found:
                return q
        return None

    async def _queue_of(self, workflow_id: str) -> str:
        queue = await self.find_queue(workflow_id) if _is_id(workflow_id) else None
        if queue is None:
            raise WorkflowNotFound(f"no workflow with id {workflow_id[:100]!r}")
        return queue

    async def is_final(self, queue: str, workflow_id: str) -> bool:
        status = await self.broker.redis.hget(self._keys(queue).workflow(workflow_id), "status")
        if status is None:
            raise WorkflowNotFound(f"workflow {workflow_id} has expired")
        return str(status) != "running"

    async def get(
        self, workflow_id: str, *, queue: str | None = None, nodes: bool = True, created_at: int | None = None
    ) -> WorkflowInfo:
        queue = queue or await self._queue_of(workflow_id)
        k = self._keys(queue)
        h: dict[str, str] = await self.broker.redis.hgetall(k.workflow(workflow_id))
        if not h:
            raise WorkflowNotFound(f"no workflow with id {workflow_id[:100]!r}")
        info = _summary(h)
        if nodes:
            info.nodes = await self._nodes(k, h, info)
        return info

    async def _nodes(self, k: QueueKeys, h: dict[str, str], info: WorkflowInfo) -> list[WorkflowNode]:
        specs = [orjson.loads(h[f"n:{i}"]) for i in range(info.total)]
        states = [h.get(f"s:{i}", "") for i in range(info.total)]
        pipe = self.broker.redis.pipeline(transaction=False)
        with_job = [i for i, s in enumerate(states) if s not in ("pending", "held", "")]
        for i in with_job:
            pipe.hmget(k.job(specs[i]["id"]), "status", "attempts", "started_at", "finished_at", "error")
        jobs = dict(zip(with_job, await pipe.execute())) if with_job else {}
        out: list[WorkflowNode] = []
        stopped = info.status != "running"
        blocked = _blocked(specs, states)
        for i, (spec, state) in enumerate(zip(specs, states)):
            job = jobs.get(i) or [None] * 5
            status: NodeStatus
            if state in ("pending", "held"):
                status = "skipped" if stopped or blocked[i] else "pending"
            elif state == "queued":
                status = job[0] if job[0] in ("waiting", "ready", "active") else "ready"  # type: ignore[assignment]
            else:
                status = state  # type: ignore[assignment]
            has_result = f"r:{i}" in h
            out.append(
                WorkflowNode(
                    index=i,
                    name=spec.get("name") or spec["type"],
                    type=spec["type"],
                    job_id=spec["id"],
                    status=status,
                    parents=list(spec["parents"]),
                    children=list(spec["children"]),
                    attempts=int(job[1] or 0),
                    started_at=_int(job[2]),
                    finished_at=_int(job[3]),
                    error=h.get(f"e:{i}") or (job[4] if state not in ("succeeded",) else None) or None,
                    has_result=has_result,
                    result=orjson.loads(h[f"r:{i}"]) if has_result else None,
                )
            )
        return out

    async def list(self, queues: Sequence[str], status: str | None, limit: int) -> list[WorkflowInfo]:
        found: list[WorkflowInfo] = []
        for queue in queues:
            k = self._keys(queue)
            ids: list[str] = await self.broker.redis.zrevrange(k.workflows, 0, max(limit * 4, 200) - 1)
            if not ids:
                continue
            pipe = self.broker.redis.pipeline(transaction=False)
            for wid in ids:
                pipe.hmget(k.workflow(wid), *_SUMMARY_FIELDS)
            gone: list[str] = []
            for wid, values in zip(ids, await pipe.execute()):
                if values[0] is None:
                    gone.append(wid)
                    continue
                info = _summary(dict(zip(_SUMMARY_FIELDS, values)))
                if status is None or info.status == status:
                    found.append(info)
            if gone:
                await self.broker.redis.zrem(k.workflows, *gone)  # their records expired
        found.sort(key=lambda w: w.created_at, reverse=True)
        return found[:limit]

    async def cancel(self, workflow_id: str) -> WorkflowInfo:
        queue = await self._queue_of(workflow_id)
        outcome = await self._scripts.cancel(self._keys(queue), workflow_id)
        if outcome == "missing":
            raise WorkflowNotFound(f"no workflow with id {workflow_id!r}")
        if outcome != "stopped":
            raise WrongState(f"cannot cancel workflow {workflow_id}: it is {outcome}", details={"status": outcome})
        return await self.get(workflow_id, queue=queue)

    async def delete(self, workflow_id: str) -> None:
        """Delete an ended workflow with its node jobs' records."""
        queue = await self._queue_of(workflow_id)
        outcome = await self._scripts.delete(self._keys(queue), workflow_id)
        if outcome == "missing":
            raise WorkflowNotFound(f"no workflow with id {workflow_id!r}")
        if outcome == "running":
            raise WrongState(f"workflow {workflow_id} is running; cancel it first", details={"status": "running"})
        if outcome == "stopping":
            raise WrongState(
                f"workflow {workflow_id} still has nodes running that were asked to stop; try again when they have",
                details={"status": "stopping"},
            )

    async def retry(self, workflow_id: str) -> WorkflowInfo:
        queue = await self._queue_of(workflow_id)
        started = await self._scripts.retry(self._keys(queue), workflow_id)
        if started is None:
            raise WorkflowNotFound(f"no workflow with id {workflow_id!r}")
        info = await self.get(workflow_id, queue=queue)
        if started == 0 and info.status != "running":
            raise WrongState(
                f"workflow {workflow_id} has nothing to retry (it is {info.status})", details={"status": info.status}
            )
        if started == 0 and not any(n.status in ("dead", "cancelled") for n in info.nodes):
            raise WrongState(
                f"workflow {workflow_id} has no dead or cancelled node to retry", details={"status": info.status}
            )
        return info


async def node_inputs(broker: Broker, job: LeasedJob) -> tuple[str, int, list[Any]] | None:
    """(workflow id, node index, parents' results in order) of a workflow node's job, read by
    the pool before it runs the handler; None for a plain job."""
    if not is_node_job_id(job.id):
        return None
    wf_id, node, inputs = await broker.redis.hmget(broker.keys(job.queue).job(job.id), "wf", "node", "inputs")
    if wf_id is None:
        return None
    return str(wf_id), int(node), orjson.loads(inputs) if inputs else []


_SUMMARY_FIELDS = (
    "id",
    "queue",
    "status",
    "policy",
    "total",
    "done",
    "created_at",
    "finished_at",
    "failed_node",
    "error",
    "shape",
)


def _summary(h: dict[str, str]) -> WorkflowInfo:
    return WorkflowInfo(
        id=h["id"],
        queue=h["queue"],
        status=h["status"],  # type: ignore[arg-type]
        policy=h["policy"],  # type: ignore[arg-type]
        total=int(h["total"]),
        done=int(h["done"]),
        created_at=int(h["created_at"]),
        finished_at=_int(h.get("finished_at")),
        failed_node=_int(h.get("failed_node")),
        error=h.get("error") or None,
        shape=orjson.loads(h["shape"]) if h.get("shape") else None,
    )


def _blocked(specs: list[dict[str, Any]], states: list[str]) -> list[bool]:
    """Per node: one of its ancestors is dead or cancelled (a pending node that cannot run for
    now). One pass: a node's parents always come before it."""
    out = [False] * len(specs)
    for i, spec in enumerate(specs):
        out[i] = any(states[p] in ("dead", "cancelled") or out[p] for p in spec["parents"])
    return out


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _is_id(value: str) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and all(c.isalnum() or c == "-" for c in value)
