"""Small forms for flow control: ``PriorityScreen`` asks for a job's new priority,
``WeightsScreen`` for a worker process's queue weights and mode. Both only answer; the app
acts on the answer (through the controller)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from ...core.priority import PRIORITY_RULE


class PriorityScreen(ModalScreen[str | None]):
    """The new priority of a job, as typed; Enter answers it, escape None."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, job: str, current: int) -> None:
        super().__init__()
        self.job = job
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="priority-dialog", classes="dialog"):
            yield Static(Text(f"Priority of job {self.job}", style="bold"), classes="dialog-title")
            yield Input(str(self.current), type="integer", id="priority-value")
            yield Static(Text(f"{PRIORITY_RULE} · enter sets it · esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#priority-value", Input).focus()

    @on(Input.Submitted, "#priority-value")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class WeightsScreen(ModalScreen[tuple[str, bool] | None]):
    """A worker's queue weights as ``high=5 default=3`` and strict mode; Enter answers
    (text, strict), escape None."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, worker: str, weights: str, strict: bool) -> None:
        super().__init__()
        self.worker = worker
        self.weights = weights
        self.strict = strict

    def compose(self) -> ComposeResult:
        with Vertical(id="weights-dialog", classes="dialog"):
            yield Static(Text(f"Queue weights of {self.worker}", style="bold"), classes="dialog-title")
            yield Input(self.weights, placeholder="high=5 default=3 bulk=1", id="weights-value")
            yield Checkbox("strict order: always the first non-empty queue", self.strict, id="weights-strict")
            yield Static(Text("weights 1-1000 · enter applies live · esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#weights-value", Input).focus()

    @on(Input.Submitted, "#weights-value")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss((event.value, self.query_one("#weights-strict", Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)
