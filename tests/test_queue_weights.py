"""Several queues per worker (issue #14): free slots go to queues by weight (smooth weighted
round-robin, no queue with jobs starves) or in strict order; weights change live, locally and
on a remote process, and show in the worker registry, the HTTP API and the CLI."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from helpers import ThreadedApi, eventually, register_api_test_jobs, wait_all
from timing import deadline

from tickr_app import Registry
from tickr_app.cli import main
from tickr_app.client import Client, Conflict, ValidationFailed
from tickr_app.core.errors import InvalidRequest, WrongState
from tickr_app.core.queue_policy import QueuePolicy, parse_queue_args

WEIGHTS = {"high": 5, "default": 3, "bulk": 1}


def test_policy_shares_follow_the_weights_and_spread_out() -> None:
    policy = QueuePolicy(WEIGHTS)
    got: Counter[str] = Counter()
    for _ in range(1000):  # 10,000 slots, ten at a time
        got.update(policy.assign(10, list(WEIGHTS)))
    assert got == {"high": 5556, "default": 3333, "bulk": 1111}  # exactly 5:3:1 every nine slots
    # Smooth: one slot at a time never gives a queue more than its share in a row.
    one_by_one = [next(iter(policy.assign(1, list(WEIGHTS)))) for _ in range(9)]
    assert Counter(one_by_one) == {"high": 5, "default": 3, "bulk": 1}
    assert "high,high,high" not in ",".join(one_by_one)
    # Only queues that may have jobs get slots; strict gives all to the first.
    assert policy.assign(4, ["bulk"]) == {"bulk": 4}
    assert QueuePolicy(WEIGHTS, strict=True).assign(7, ["default", "bulk"]) == {"default": 7}
    with pytest.raises(ValueError, match="not served"):
        policy.set_weights({"other": 2})
    with pytest.raises(ValueError, match="weight"):
        policy.set_weights({"high": 0})
    assert parse_queue_args(["high=5", "bulk"]) == {"high": 5, "bulk": 1}
    for bad in (["high=0"], ["high=x"], ["bad name=1"], ["high=1001"], ["high=3", "high=4"], ["high", "bulk", "high"]):
        with pytest.raises(ValueError):
            parse_queue_args(bad)


def _echo_queues(registry: Registry, seen: list[str]) -> None:
    @registry.job("note")
    async def note(payload: dict[str, Any], ctx: Any) -> None:
        seen.append(ctx.queue)


async def test_weighted_fairness_over_10000_jobs(make_tickr: Any, registry: Registry) -> None:
    seen: list[str] = []
    _echo_queues(registry, seen)
    producer = await make_tickr(workers=0)
    counts = {"high": 4000, "default": 4000, "bulk": 2000}
    ids: list[str] = []
    for queue, n in counts.items():
        jobs = await producer.submit_many([{"type": "note", "queue": queue}] * n)
        ids += [j.id for j in jobs]
    worker = await make_tickr(workers=10, queues=WEIGHTS)
    await wait_all(worker, ids, timeout=60)
    assert Counter(seen) == counts, "every job ran: no queue starved"
    first = Counter(seen[:6000])  # high (the first to run out) still had jobs all along
    for queue, weight in WEIGHTS.items():
        assert abs(first[queue] / 6000 - weight / 9) < 0.02, (queue, first)


async def test_strict_order_takes_the_first_non_empty_queue(make_tickr: Any, registry: Registry) -> None:
    seen: list[str] = []
    _echo_queues(registry, seen)
    producer = await make_tickr(workers=0)
    low = await producer.submit_many([{"type": "note", "queue": "bulk"}] * 200)
    high = await producer.submit_many([{"type": "note", "queue": "high"}] * 200)
    worker = await make_tickr(workers=4, queues=["high", "bulk"], strict=True)
    await wait_all(worker, [j.id for j in low + high])
    assert seen == ["high"] * 200 + ["bulk"] * 200
    state = worker.pool_state()
    assert state is not None and state.strict and state.weights == {"high": 1, "bulk": 1}


async def test_live_weight_change_local_and_remote(make_tickr: Any, registry: Registry) -> None:
    seen: list[str] = []
    _echo_queues(registry, seen)
    worker = await make_tickr(workers=4, queues={"a": 1, "b": 1})
    producer = await make_tickr(workers=0)
    # Remote: through Redis, applied without a restart.
    await producer.command_worker(worker.worker_id, weights={"a": 9})

    async def applied() -> bool:
        state = worker.pool_state()
        return state is not None and state.weights == {"a": 9, "b": 1}

    await eventually(applied, message="the worker applied the new weights")

    async def registered() -> Any:
        listed = [w for w in await producer.worker_processes() if w.id == worker.worker_id]
        return listed and listed[0].weights == {"a": 9, "b": 1} and listed[0].queues == ["a", "b"]

    await eventually(registered, message="the registry shows the new weights")
    jobs = []
    for queue in ("a", "b"):
        jobs += await producer.submit_many([{"type": "note", "queue": queue}] * 1000)
    await wait_all(worker, [j.id for j in jobs], timeout=30)
    assert abs(Counter(seen[:1000])["a"] / 1000 - 0.9) < 0.03, Counter(seen[:1000])
    # Local: this process's own pool, at once; strict mode too.
    seen.clear()
    await worker.command_worker(worker.worker_id, weights={"a": 1, "b": 3}, strict=True)
    assert worker.pool_state().strict  # type: ignore[union-attr]
    jobs = []
    for queue in ("a", "b"):
        jobs += await producer.submit_many([{"type": "note", "queue": queue}] * 100)
    await wait_all(worker, [j.id for j in jobs])
    assert seen[:100] == ["a"] * 100, "strict: the first queue in the worker's order"
    with pytest.raises(WrongState, match="does not serve"):
        await producer.command_worker(worker.worker_id, weights={"c": 2})
    with pytest.raises(InvalidRequest, match="weight of queue 'a' must be an integer from 1 to 1000"):
        await producer.command_worker(worker.worker_id, weights={"a": 0})


def test_http_client_and_cli_round_trip(redis_url: str, prefix: str, home: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry()
    register_api_test_jobs(registry)
    queues = {"high": 5, "default": 1}
    with ThreadedApi(
        redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=2, queues=queues, home=home
    ) as server:
        wid = server.tickr.worker_id
        with Client(server.url, timeout=deadline(5)) as c:
            (me,) = [w for w in c.workers() if w["id"] == wid]
            assert me["weights"] == queues and me["strict"] is False and me["queues"] == ["high", "default"]
            reply = c.update_worker(wid, weights={"default": 4}, strict=True)
            assert reply["requested"] == {"weights": {"default": 4}, "strict": True}
            (me,) = [w for w in c.workers() if w["id"] == wid]
            assert me["weights"] == {"high": 5, "default": 4} and me["strict"] is True
            with pytest.raises(ValidationFailed) as bad:
                c.update_worker(wid, weights={"high": 0})
            assert [d["field"] for d in bad.value.details] == ["weights.high"]
            with pytest.raises(ValidationFailed):
                c.update_worker(wid, weights={"bad name": 1})
            with pytest.raises(Conflict):
                c.update_worker(wid, weights={"other": 1})

        url = ["--url", server.url]
        assert main(["workers", "set-weights", wid, "high=2", "default=7", "--weighted", *url]) == 0
        capsys.readouterr()
        assert server.tickr.pool_state().weights == {"high": 2, "default": 7}
        assert not server.tickr.pool_state().strict
        assert main(["workers", "list", *url]) == 0
        assert f"{wid}  high=2,default=7  (weighted" in capsys.readouterr().out
        for argv in (["high=0"], ["high"], ["other=1"]):
            assert main(["workers", "set-weights", wid, *argv, *url]) == 1
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1, err
    assert main(["worker", "--queue", "high=abc"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "tickr: --queue: weight of queue 'high' must be an integer from 1 to 1000, got 'abc'"


async def test_tickr_worker_takes_queue_weights_and_strict_from_its_flags(
    redis_url: str, prefix: str, home: Any, tmp_path: Any
) -> None:
    """``tickr worker --queue high=5 --queue bulk=1 --strict`` as a real process: its registry
    record carries the queues in that order, their weights and the mode, and it takes weights
    live from another process."""
    from proc import spawn_tickr, stop, wait_until_async

    from tickr_app import Tickr

    proc = spawn_tickr(
        ["worker", "--redis", redis_url, "--prefix", prefix, "--queue", "high=5", "--queue", "bulk=1", "--strict"],
        log_path=tmp_path / "jobs.log",
        home=home,
    )
    producer = await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()
    try:

        async def listed() -> bool:
            return any(w.weights == {"high": 5, "bulk": 1} and w.strict for w in await producer.worker_processes())

        await wait_until_async(listed, 30, "the worker process in the registry")
        (worker,) = await producer.worker_processes()
        assert worker.queues == ["high", "bulk"]
        await producer.command_worker(worker.id, weights={"bulk": 2}, strict=False)

        async def reweighed() -> bool:
            (w,) = await producer.worker_processes()
            return w.weights == {"high": 5, "bulk": 2} and not w.strict

        await wait_until_async(reweighed, 10, "the new weights in the registry")
    finally:
        await producer.stop()
        code, _ = stop(proc)
    assert code == 0
