"""Workflows across real `tickr worker` processes: a fan-in fires exactly once when its members
finish at the same instant on two processes, and still fires when the worker running the last
member is killed with -9 (lease recovery brings the member back)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from proc import read_lines, spawn_tickr, stop, wait_until, wait_until_async
from timing import deadline

from tickr_app import Tickr, group, sig

pytestmark = pytest.mark.slow

LEASE = f"{deadline(1):g}"


def _worker_args(redis_url: str, prefix: str, *extra: str) -> list[str]:
    return ["worker", "--redis", redis_url, "--prefix", prefix, "--jobs", "wfjobs", *extra]


async def _producer(redis_url: str, prefix: str, home: Path) -> Tickr:
    import wfjobs  # noqa: F401  (registers the job types in the default registry)

    return await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()


async def test_fan_in_fires_once_when_members_finish_together_on_two_processes(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    producer = await _producer(redis_url, prefix, home)
    workers = [
        spawn_tickr(_worker_args(redis_url, prefix, "--workers", "10"), log_path=log, home=home) for _ in range(2)
    ]
    try:

        async def both_registered() -> bool:
            return len(await producer.worker_processes()) == 2

        await wait_until_async(both_registered, 30, "both worker processes to register")
        at = time.time() + deadline(1.5)
        members = [sig("wf_member", {"n": i, "at": at}) for i in range(20)]
        wf = await producer.submit_workflow(group(*members).then(sig("wf_collect")))
        done = await producer.wait_workflow(wf.id, timeout=deadline(30))
        assert done.status == "succeeded", done
        assert done.result == list(range(20)), "the callback gets every result, in group order"
        lines = read_lines(log)
        pids = {line.split()[2] for line in lines if line.startswith("member ")}
        assert len(pids) == 2, f"both processes should have run members: {lines}"
        collects = [line for line in lines if line.startswith("collect ")]
        assert len(collects) == 1 and collects[0].endswith(" 20"), collects
    finally:
        for w in workers:
            stop(w, signal.SIGKILL)
        await producer.stop()


async def test_kill_9_of_the_last_members_worker_still_fires_the_callback(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    producer = await _producer(redis_url, prefix, home)
    first = spawn_tickr(_worker_args(redis_url, prefix, "--lease", LEASE, "--workers", "4"), log_path=log, home=home)
    second = None
    try:
        wf = await producer.submit_workflow(
            group(sig("wf_member", {"n": 0}), sig("wf_member", {"n": 1}), sig("wf_hang_first", {"n": 2})).then(
                sig("wf_collect")
            )
        )

        async def others_done() -> bool:
            info = await producer.get_workflow(wf.id)
            return [n.status for n in info.nodes[:2]] == ["succeeded", "succeeded"]

        await wait_until(
            lambda: any(l.startswith("start 2 1") for l in read_lines(log)), 20, "the last member to start"
        )
        await wait_until_async(others_done, 20, "the other members to succeed")
        first.send_signal(signal.SIGKILL)
        first.wait(deadline(10))

        second = spawn_tickr(
            _worker_args(redis_url, prefix, "--lease", LEASE, "--workers", "4"), log_path=log, home=home
        )
        done = await producer.wait_workflow(wf.id, timeout=deadline(30))
        assert done.status == "succeeded", done
        assert done.result == [0, 1, 2]
        assert done.nodes[2].attempts == 2, "the killed attempt counts; lease recovery ran it again"
        collects = [line for line in read_lines(log) if line.startswith("collect ")]
        assert len(collects) == 1
    finally:
        stop(first, signal.SIGKILL)
        if second is not None:
            rc, out = stop(second)
            assert rc == 0, out
        await producer.stop()
