"""The TUI's actions without a terminal: ``TuiController`` on real engines. The pool keys drive
this process's pool and another process's through the same ``Tickr.command_worker`` call."""

from __future__ import annotations

from typing import Any

from helpers import eventually, register_api_test_jobs, status_is

from tickr_app import Registry
from tickr_app.tui.controller import TuiController


async def test_pool_commands_reach_the_local_and_a_remote_pool_through_one_path(
    make_tickr: Any, registry: Registry
) -> None:
    register_api_test_jobs(registry)
    local = await make_tickr(workers=2)
    remote = await make_tickr(workers=1)
    controller = TuiController(local)

    here = controller.pool_target(None)
    assert here is not None and here.local and here.id == local.worker_id and here.concurrency == 2
    assert await controller.toggle_pause(here) == "Pool paused: running jobs finish, nothing new starts."
    assert local.pool_state().paused  # type: ignore[union-attr]  # at once: no Redis round trip
    wanted = controller.scaled(here, +1)
    assert wanted == 3
    assert await controller.scale(here, wanted) == "Pool scaled to 3 slot(s)."
    assert local.pool_state().concurrency == 3  # type: ignore[union-attr]

    info = next(w for w in await local.worker_processes() if w.id == remote.worker_id)
    there = controller.pool_target(info)
    assert there is not None and not there.local and there.id == remote.worker_id
    assert await controller.toggle_pause(there) == f"Worker {remote.worker_id} paused."
    await eventually(lambda: remote.pool_state().paused, message="the remote pool pauses")  # type: ignore[union-attr]
    assert await controller.scale(there, 4) == f"Worker {remote.worker_id} scaled to 4."
    await eventually(lambda: remote.pool_state().concurrency == 4, message="the remote pool scales")  # type: ignore[union-attr]

    # Selecting this very process on the Workers pane is the local pool, not a remote command.
    mine = next(w for w in await local.worker_processes() if w.id == local.worker_id)
    assert controller.pool_target(mine) == controller.pool_target(None)


async def test_attached_without_selection_has_no_pool_target(make_tickr: Any) -> None:
    producer = await make_tickr(workers=0)
    assert TuiController(producer).pool_target(None) is None


async def test_job_and_queue_commands(make_tickr: Any, registry: Registry) -> None:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=0)
    controller = TuiController(tickr)
    job = await tickr.submit("echo", {"text": "a"}, delay=600)
    assert await controller.cancel_job(job.id) == f"Job {job.id[:8]} cancelled."
    assert (await tickr.get(job.id)).status == "cancelled"  # type: ignore[union-attr]
    assert await controller.retry_job(job.id) == f"Job {job.id[:8]} is ready again."
    await status_is(tickr, job.id, "ready")
    assert await controller.toggle_queue_pause("default") == "Queue default paused for every process."
    assert await tickr.is_paused("default")
    assert await controller.toggle_queue_pause("default") == "Queue default resumed."
    assert not await tickr.is_paused("default")
    assert await controller.retry_dead("default") == "0 dead job(s) of queue default back to ready."
    assert await controller.delete_job(job.id) == f"Job {job.id[:8]} deleted."
    assert await tickr.get(job.id) is None
