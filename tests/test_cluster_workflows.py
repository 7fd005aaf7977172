"""Workflows on a real Redis Cluster: each workflow lives in its queue's hash tag, so the ack
script that starts a child, the submit, cancel and retry scripts each touch one slot; two
workflows in queues on different primaries run side by side."""

from __future__ import annotations

from typing import Any

from redis_servers import RedisClusterServers
from test_cluster import (  # noqa: F401  (fixtures)
    _cluster_registry,
    _queues_on_distinct_nodes,
    cluster,
    cprefix,
    engines,
    needs_server,
)
from timing import deadline

from tickr_app import chain, group, sig


@needs_server
async def test_workflows_in_two_queues(cluster: RedisClusterServers, cprefix: str, engines: Any) -> None:  # noqa: F811
    qa, qb = _queues_on_distinct_nodes(cluster, cprefix, 2)
    registry, _seen = _cluster_registry([qa])
    tickr = await engines(registry, queues=[qa, qb], workers=4)
    tree = chain(group(sig("ok", {"n": 1}), sig("ok", {"n": 2})), sig("ok", {"n": 3}))
    a = await tickr.submit_workflow(tree, queue=qa)
    b = await tickr.submit_workflow(tree, queue=qb)
    for wf, queue in ((a, qa), (b, qb)):
        done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
        assert done.status == "succeeded" and done.queue == queue
        assert done.result == {"n": 3, "queue": queue}
    assert {w.id for w in await tickr.list_workflows()} == {a.id, b.id}

    failing = await tickr.submit_workflow(chain(sig("boom"), sig("ok")), queue=qb)
    failed = await tickr.wait_workflow(failing.id, timeout=deadline(10))
    assert failed.status == "failed" and failed.failed_node == 0
    blocked = await tickr.submit_workflow(chain(sig("block"), sig("ok")), queue=qa)
    assert (await tickr.cancel_workflow(blocked.id)).status == "cancelled"
    assert (await tickr.retry_workflow(failing.id)).status == "running"
    # The review's scripts on a cluster too: an idempotent submit, and delete with its node jobs.
    again = await tickr.submit_workflow(tree, queue=qb, idempotency_key="once")
    assert (await tickr.submit_workflow(tree, queue=qb, idempotency_key="once")).id == again.id
    done = await tickr.wait_workflow(again.id, timeout=deadline(10))
    await tickr.delete_workflow(done.id)
    assert await tickr.get(done.nodes[0].job_id) is None
