"""``DrainScreen``: quitting. The pool stops fetching, in-flight jobs finish (within the grace
period), then the app exits. ``f`` (or Ctrl+Q again) stops at once: the running jobs go back
to ready without counting the attempt. Nothing is lost either way."""

from __future__ import annotations

import logging
import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import LoadingIndicator, ProgressBar, Static

from ...core.engine import Tickr
from ..format import short_id

log = logging.getLogger("tickr.tui")


class DrainScreen(ModalScreen[None]):
    BINDINGS = [Binding("f", "force", "Stop now")]

    def __init__(self, tickr: Tickr) -> None:
        super().__init__()
        self.tickr = tickr
        state = tickr.pool_state()
        self.total = state.busy if state is not None else 0
        self.remaining = self.total
        self.forced = False
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="drain-dialog", classes="dialog"):
            yield Static(Text("Quitting", style="bold"), classes="dialog-title")
            yield Static(id="drain-message")
            yield ProgressBar(total=max(self.total, 1), show_eta=False, id="drain-progress")
            yield LoadingIndicator(id="drain-spinner")
            yield Static(Text("f  stop now: running jobs go back to ready", style="dim"), id="drain-hint")

    def on_mount(self) -> None:
        self._show(self.remaining)
        self._drain()

    def _show(self, busy: int) -> None:
        self.remaining = busy
        state = self.tickr.pool_state()
        grace = state.grace_period if state is not None else 0.0
        left = max(0.0, grace - (time.monotonic() - self.started))
        if self.forced:
            text = f"Stopping now: giving {busy} running job(s) back to ready…"
        elif busy:
            running = ", ".join(short_id(r.job_id) for r in (state.running if state else [])[:4])
            text = f"Waiting for {busy} in-flight job(s) to finish ({running}) — at most {left:.0f} s more."
        else:
            text = "No jobs in flight: stopping the workers…"
        self.query_one("#drain-message", Static).update(Text(text))
        self.query_one("#drain-progress", ProgressBar).update(progress=max(self.total, 1) - busy if self.total else 1)

    def _on_progress(self, busy: int) -> None:
        if self.is_attached:
            self._show(busy)

    @work(exclusive=True, group="drain", exit_on_error=False)
    async def _drain(self) -> None:
        try:
            await self.tickr.drain(on_progress=self._on_progress)
        except Exception:  # never leave the user stuck in the dialog
            log.exception("stopping the pool failed")
        finally:
            self.app.exit()

    def action_force(self) -> None:
        if not self.tickr.has_pool or self.forced:
            return
        self.forced = True
        self.tickr.stop_running_jobs()
        state = self.tickr.pool_state()
        self._show(state.busy if state is not None else 0)
