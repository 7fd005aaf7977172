"""What the TUI's commands do, without Textual: each is one call on the ``Tickr`` facade and the
sentence the app shows for it. The app (``app.py``) only decides where a command applies, asks
for confirmation and shows the outcome; the behaviour lives here, where a test can drive it
without a terminal. An import-linter contract keeps Textual out of this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.engine import Tickr
from ..core.records import WorkerInfo
from .format import short_id


@dataclass(frozen=True, slots=True)
class PoolTarget:
    """The worker process the pool keys act on: this process's own pool, or one selected on the
    Workers pane (any host). Both are driven through ``Tickr.command_worker``."""

    id: str
    concurrency: int
    paused: bool
    local: bool
    """This process's own pool: commands take effect at once, without Redis."""


class TuiController:
    def __init__(self, tickr: Tickr) -> None:
        self.tickr = tickr

    # -- job commands --------------------------------------------------------------------------

    async def retry_job(self, job_id: str) -> str:
        status = await self.tickr.retry(job_id)
        return f"Job {short_id(job_id)} is {status} again."

    async def cancel_job(self, job_id: str) -> str:
        outcome = await self.tickr.cancel(job_id)
        if outcome == "cancelled":
            return f"Job {short_id(job_id)} cancelled."
        return f"Job {short_id(job_id)} is running: its worker was asked to stop it."

    async def delete_job(self, job_id: str) -> str:
        await self.tickr.delete(job_id)
        return f"Job {short_id(job_id)} deleted."

    async def retry_dead(self, queue: str) -> str:
        n = await self.tickr.retry_dead(queue)
        return f"{n:,} dead job(s) of queue {queue} back to ready."

    async def toggle_queue_pause(self, queue: str) -> str:
        """Pause the queue for every process, or resume it if it is paused."""
        if await self.tickr.is_paused(queue):
            await self.tickr.resume_queue(queue)
            return f"Queue {queue} resumed."
        await self.tickr.pause_queue(queue)
        return f"Queue {queue} paused for every process."

    async def delete_dead(self, queue: str) -> str:
        """Delete every dead job of the queue (the caller asked first)."""
        deleted = await self.tickr.delete_dead(queue)
        return f"{deleted:,} dead job(s) of queue {queue} deleted."

    # -- pool commands -------------------------------------------------------------------------

    def pool_target(self, selected: WorkerInfo | None) -> PoolTarget | None:
        """The process selected on the Workers pane if it is another one, else this process's
        pool; None when attached (no pool here) and nothing is selected."""
        tickr = self.tickr
        if selected is not None and not (tickr.has_pool and selected.id == tickr.worker_id):
            return PoolTarget(selected.id, selected.concurrency, selected.paused, local=False)
        state = tickr.pool_state()
        if state is None:
            return None
        return PoolTarget(state.worker_id, state.concurrency, state.paused, local=True)

    async def toggle_pause(self, target: PoolTarget) -> str:
        paused = not target.paused
        await self.tickr.command_worker(target.id, paused=paused)
        if target.local:
            return "Pool paused: running jobs finish, nothing new starts." if paused else "Pool resumed."
        return f"Worker {target.id} {'paused' if paused else 'resumed'}."

    @staticmethod
    def scaled(target: PoolTarget, delta: int) -> int | None:
        """The concurrency ``delta`` more slots gives, or None when it changes nothing (this
        pool at 0 slots; a remote process gets the command anyway, its record may be stale)."""
        wanted = max(0, target.concurrency + delta)
        if target.local and wanted == target.concurrency:
            return None
        return wanted

    async def scale(self, target: PoolTarget, concurrency: int) -> str:
        await self.tickr.command_worker(target.id, concurrency=concurrency)
        if target.local:
            fewer = concurrency < target.concurrency
            return f"Pool scaled to {concurrency} slot(s)." + (" Busy slots finish first." if fewer else "")
        return f"Worker {target.id} scaled to {concurrency}."

    # -- workflow commands ---------------------------------------------------------------------

    async def cancel_workflow(self, workflow_id: str) -> str:
        """Cancel a running workflow: nodes not started are skipped, running ones asked to stop."""
        info = await self.tickr.cancel_workflow(workflow_id)
        return f"Workflow {short_id(workflow_id)} {info.status}: {info.done} of {info.total} nodes had succeeded."

    async def delete_workflow(self, workflow_id: str) -> str:
        """Delete an ended workflow and its node jobs' records."""
        await self.tickr.delete_workflow(workflow_id)
        return f"Workflow {short_id(workflow_id)} deleted."

    async def retry_workflow(self, workflow_id: str) -> str:
        """Run a failed or cancelled workflow's dead and cancelled nodes again; the nodes they
        stopped follow once they succeed."""
        info = await self.tickr.retry_workflow(workflow_id)
        return f"Workflow {short_id(workflow_id)} is {info.status} again ({info.done} of {info.total} done)."
