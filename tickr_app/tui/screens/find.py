"""Small pickers of the Queues pane: ``FindJobScreen`` asks for a job id, ``TypeFilterScreen``
for the job type the job tables show. Both only answer; the app acts on the answer."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

ALL_TYPES = ""
"""The filter answer that shows every type."""


class FindJobScreen(ModalScreen[str | None]):
    """A job id (or the start of one shown in a table); Enter answers it, escape None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="find-dialog", classes="dialog"):
            yield Static(Text("Find a job by id", style="bold"), classes="dialog-title")
            yield Input(placeholder="job id, or the start of one shown in a table", id="find-id")
            yield Static(Text("enter opens its details · esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#find-id", Input).focus()

    @on(Input.Submitted, "#find-id")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TypeFilterScreen(ModalScreen[str | None]):
    """Every job type, plus "all types"; Enter answers the highlighted one (``ALL_TYPES`` for
    all), escape None (no change)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, types: Sequence[str], current: str | None) -> None:
        super().__init__()
        self.types = list(types)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-dialog", classes="dialog"):
            yield Static(Text("Show jobs of type", style="bold"), classes="dialog-title")
            options = [Option("all types", id="\0all"), *(Option(name, id=name) for name in self.types)]
            yield OptionList(*options, id="filter-types")
            yield Static(Text("enter chooses · esc keeps the current filter", style="dim"))

    def on_mount(self) -> None:
        options = self.query_one("#filter-types", OptionList)
        options.focus()
        if self.current in self.types:
            options.highlighted = self.types.index(self.current) + 1

    @on(OptionList.OptionSelected, "#filter-types")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        ident = event.option.id
        self.dismiss(ALL_TYPES if ident in (None, "\0all") else ident)

    def action_cancel(self) -> None:
        self.dismiss(None)
