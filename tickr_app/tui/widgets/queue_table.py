"""``QueueTable``: one row per queue with its live counts; the highlighted row is the queue
the job tables show."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import DataTable

from ...core.broker import QueueStats
from ..messages import QueueSelected
from .job_table import theme_colors

COLUMNS = (
    ("queue", "Queue"),
    ("ready", "Ready"),
    ("waiting", "Waiting"),
    ("active", "Active"),
    ("dead", "Dead"),
    ("processed", "Processed"),
    ("failed", "Failed"),
    ("state", "State"),
)


def _count(n: int, style: str = "") -> Text:
    return Text(f"{n:,}", style=style if n else "dim", justify="right")


class QueueTable(DataTable[Text]):
    DEFAULT_CSS = """
    QueueTable { height: auto; max-height: 7; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self._names: list[str] = []
        self._rendered: dict[str, tuple[Text, ...]] = {}
        self.stats: dict[str, QueueStats] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def selected_queue(self) -> str | None:
        if not self._names or not (0 <= self.cursor_row < len(self._names)):
            return None
        return self._names[self.cursor_row]

    def select_queue(self, name: str) -> None:
        if name in self._names:
            self.move_cursor(row=self._names.index(name), animate=False)

    def _cells(self, s: QueueStats) -> tuple[Text, ...]:
        c = theme_colors(self.app)
        state = Text("paused", style=f"bold {c.get('warning', '')}") if s.paused else Text("running", style="dim")
        return (
            Text(s.name, style="bold"),
            _count(s.ready, "bold"),
            _count(s.waiting),
            _count(s.active, f"bold {c.get('accent', '')}"),
            _count(s.dead, f"bold {c.get('error', '')}"),
            _count(s.processed),
            _count(s.failed, c.get("error", "")),
            state,
        )

    def update_stats(self, stats: Mapping[str, QueueStats]) -> None:
        self.stats = dict(stats)
        names = sorted(stats)
        if names != self._names:
            selected = self.selected_queue
            self.clear()
            self._rendered = {}
            for name in names:
                cells = self._cells(stats[name])
                self._rendered[name] = cells
                self.add_row(*cells, key=name)
            self._names = names
            if selected in names:
                self.select_queue(selected)
            return
        keys = [k for k, _ in COLUMNS]
        for name in names:
            cells = self._cells(stats[name])
            old = self._rendered.get(name, ())
            for i, cell in enumerate(cells):
                if i >= len(old) or old[i] != cell:
                    self.update_cell(name, keys[i], cell, update_width=True)
            self._rendered[name] = cells

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(QueueSelected(str(event.row_key.value)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
