"""``Dashboard``: the three panes (Submit, Queues, Workers) in tabs.

A widget of its own so the app can mount it once the engine has started (``tickr`` opens at
once and shows the start-up progress first; the panes poll the engine from their first tick).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import TabbedContent, TabPane

from ...core.engine import Tickr
from .queues_pane import QueuesPane
from .submit_pane import SubmitPane
from .workers_pane import WorkersPane


class Dashboard(Vertical):
    DEFAULT_CSS = """
    Dashboard { height: 1fr; }
    """

    def __init__(self, tickr: Tickr) -> None:
        super().__init__(id="dashboard")
        self.tickr = tickr

    def compose(self) -> ComposeResult:
        with TabbedContent(id="panes", initial="queues"):
            with TabPane("Submit", id="submit"):
                yield SubmitPane(self.tickr)
            with TabPane("Queues", id="queues"):
                yield QueuesPane(self.tickr)
            with TabPane("Workers", id="workers"):
                yield WorkersPane(self.tickr)
