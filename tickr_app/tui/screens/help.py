"""``HelpScreen``: every key, from the command registry plus the keys of single widgets."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..commands import COMMANDS, OTHER_KEYS, shift_keys_note

AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Anywhere", ("global",)),
    ("Submit pane", ("submit",)),
    ("Queues pane (r c D also in job details)", ("job", "queues", "queue")),
    ("Workers pane", ("pool", "queue")),
    ("Schedules pane", ()),
    ("Workflows pane", ()),
)
OTHER_AREA = {
    "Anywhere": "Anywhere",
    "Submit": "Submit pane",
    "Queues": "Queues pane (r c D also in job details)",
    "Workers": "Workers pane",
    "Schedules": "Schedules pane",
    "Workflows": "Workflows pane",
}


def keys_table(area: str, scopes: tuple[str, ...]) -> Table:
    """The keys of one area (built from the command registry)."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(no_wrap=True, min_width=12)
    table.add_column(ratio=1)
    panes = [c for c in COMMANDS if c.id.startswith("pane-")]
    if "global" in scopes and panes:  # one row for the pane keys: the dialog fits 80x24
        names = ", ".join(c.title.removeprefix("Go to ") for c in panes)
        table.add_row(Text(" ".join(c.all_keys for c in panes), style="bold"), Text(f"Show a pane: {names}"))
    for command in COMMANDS:
        if command.scope in scopes and command not in panes:
            table.add_row(Text(command.all_keys, style="bold"), Text(command.help))
    for where, keys, text in OTHER_KEYS:
        if OTHER_AREA.get(where) == area:
            table.add_row(Text(keys, style="bold"), Text(text))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(Text("Keys", style="bold"), classes="dialog-title")
            with VerticalScroll(id="help-keys"):
                for area, scopes in AREAS:
                    yield Static(area, classes="section-title")
                    yield Static(keys_table(area, scopes))
            yield Static(Text(f"{shift_keys_note()}  esc closes", style="dim"), id="help-shift")

    def action_close(self) -> None:
        self.dismiss(None)
