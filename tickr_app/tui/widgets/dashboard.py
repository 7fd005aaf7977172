"""``Dashboard``: the panes (Submit, Queues, Workers, Schedules, Workflows) under a tab strip.

A widget of its own so the app can mount it once the engine has started (``tickr`` opens at
once and shows the start-up progress first; the panes poll the engine from their first tick).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher

from ...core.engine import Tickr
from .queues_pane import QueuesPane
from .schedules_pane import SchedulesPane
from .submit_pane import SubmitPane
from .tab_strip import TabStrip
from .workers_pane import WorkersPane
from .workflows_pane import WorkflowsPane


class Dashboard(Vertical):
    DEFAULT_CSS = """
    Dashboard { height: 1fr; }
    """

    def __init__(self, tickr: Tickr) -> None:
        super().__init__(id="dashboard")
        self.tickr = tickr

    def compose(self) -> ComposeResult:
        panes = [
            ("submit", "Submit"),
            ("queues", "Queues"),
            ("workers", "Workers"),
            ("schedules", "Schedules"),
            ("workflows", "Workflows"),
        ]
        yield TabStrip(panes, active="queues", id="pane-tabs")
        with ContentSwitcher(id="panes", initial="queues"):
            yield SubmitPane(self.tickr, id="submit")
            yield QueuesPane(self.tickr, id="queues")
            yield WorkersPane(self.tickr, id="workers")
            yield SchedulesPane(self.tickr, id="schedules")
            yield WorkflowsPane(self.tickr, id="workflows")
