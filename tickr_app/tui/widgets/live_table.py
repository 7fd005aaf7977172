"""``LiveTable``: a keyed table for data that changes several times a second.

Textual's ``DataTable`` keys every render cache on one table-wide update counter, so changing a
single cell (an elapsed time, a count) re-renders every cell of the table, and its caches fill
with stale entries that the garbage collector then walks. Under 1,000+ jobs/s that cost ~60 ms
per frame and delayed key presses by hundreds of milliseconds. This table is built on Textual's
Line API instead: each row is rendered to a strip once, when its cells change, and a frame only
styles and crops the strips it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = Text | str
GAP = 2
"""Blank cells between two columns."""
SHRUNK_MIN = 8
"""A shrinkable column never gets narrower than this (or its label)."""


def _same(a: tuple[Cell, ...], b: tuple[Cell, ...]) -> bool:
    """Cells that draw the same. ``Text.__eq__`` ignores a Text's own style, which is where a
    new theme's colours arrive."""
    return len(a) == len(b) and all(
        x == y and (not isinstance(x, Text) or not isinstance(y, Text) or x.style == y.style) for x, y in zip(a, b)
    )


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    justify: Literal["left", "right"] = "left"
    shrink: bool = False
    """When the table is wider than its widget, this column gives up the room (its cells end
    in …), so the columns after it (counts, a state) stay on screen."""


class LiveTable(ScrollView, can_focus=True):
    """Rows keyed by id, a row cursor, a fixed header; Enter selects the row under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "live-table--header",
        "live-table--cursor",
        "live-table--even-row",
    }
    DEFAULT_CSS = """
    LiveTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .live-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        &:dark > .live-table--even-row { background: $surface-darken-1 40%; }
        & > .live-table--even-row { background: $surface-lighten-1 50%; }
        & > .live-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .live-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .live-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The cursor is on another row (or the row under it changed)."""

        def __init__(self, table: LiveTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            return self.table

    class Selected(Message):
        """Enter (or a click on the cursor row) chose this row."""

        def __init__(self, table: LiveTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, zebra_stripes: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.zebra_stripes = zebra_stripes
        self._keys: list[str] = []
        self._row_cells: dict[str, tuple[Cell, ...]] = {}
        self._strips: dict[str, Strip] = {}
        """Each row's cells rendered once; CSS (zebra, cursor, focus) is applied per frame, so a
        focus or theme change never invalidates them (new theme colours arrive as new cells)."""
        self._header: Strip | None = None
        self._widths: list[int] = [len(c.label) for c in self.columns]
        self._highlighted: str | None = None

    # -- data ------------------------------------------------------------------------------

    @property
    def row_keys(self) -> list[str]:
        return list(self._keys)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def cursor_key(self) -> str | None:
        if not self._keys or not (0 <= self.cursor_row < len(self._keys)):
            return None
        return self._keys[self.cursor_row]

    def get_cell(self, key: str, column: str) -> Cell:
        index = [c.key for c in self.columns].index(column)
        return self._row_cells[key][index]

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Show exactly these rows, in this order. Rows whose cells did not change keep their
        rendered strip; the cursor stays on its row's key, or on the same index if it left."""
        selected, index = self.cursor_key, self.cursor_row
        keys: list[str] = []
        cells_by_key: dict[str, tuple[Cell, ...]] = {}
        for key, cells in rows:
            if key in cells_by_key:
                continue  # a key shows once
            keys.append(key)
            cells_by_key[key] = tuple(cells)
        same = {k for k, cells in cells_by_key.items() if k in self._row_cells and _same(cells, self._row_cells[k])}
        changed = keys != self._keys or len(same) != len(keys)
        self._strips = {k: s for k, s in self._strips.items() if k in same}
        self._keys, self._row_cells = keys, cells_by_key
        if self._measure():
            self._strips.clear()
            self._header = None
            self._resize()
            self.refresh()
        if not changed:
            return  # a view scrolled by hand stays where it is
        self._resize()
        if keys:
            row = keys.index(selected) if selected in cells_by_key else min(max(index, 0), len(keys) - 1)
        else:
            row = 0
        if row != self.cursor_row:
            self.cursor_row = row  # scrolls to it and reports the key under it
        else:
            self._report_highlighted()
            self.refresh()

    def on_mount(self) -> None:
        self._resize()  # the header shows before the first rows arrive

    def _resize(self) -> None:
        self.virtual_size = Size(1 + sum(self._widths) + GAP * len(self._widths), len(self._keys) + 1)

    def clear(self) -> None:
        self.set_rows([])

    def _measure(self) -> bool:
        """Fit each column to its widest cell, then shrink the ``shrink`` columns until the
        table fits its width; True if a width changed."""
        widths = [len(c.label) for c in self.columns]
        for cells in self._row_cells.values():
            for i, cell in enumerate(cells[: len(widths)]):
                n = cell.cell_len if isinstance(cell, Text) else Text(cell).cell_len
                widths[i] = max(widths[i], n)
        available = self.scrollable_content_region.width if self.is_mounted else 0
        over = 1 + sum(widths) + GAP * len(widths) - available
        for i, column in enumerate(self.columns):
            if available <= 0 or over <= 0:
                break
            if column.shrink:
                give = max(min(over, widths[i] - max(SHRUNK_MIN, len(column.label))), 0)
                widths[i] -= give
                over -= give
        if widths == self._widths:
            return False
        self._widths = widths
        return True

    def on_resize(self, event: events.Resize) -> None:
        if self._measure():  # a shrinkable column follows the width
            self._strips.clear()
            self._header = None
            self._resize()
            self.refresh()

    # -- cursor ----------------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        self.cursor_row = row

    def validate_cursor_row(self, row: int) -> int:
        return min(max(row, 0), max(len(self._keys) - 1, 0))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._cursor_moved()
        self.refresh()

    def _cursor_moved(self) -> None:
        self._scroll_to_cursor()
        self._report_highlighted()

    def _report_highlighted(self) -> None:
        key = self.cursor_key
        if key != self._highlighted:
            self._highlighted = key
            self.post_message(self.Highlighted(self, key))

    def _scroll_to_cursor(self) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)  # the header stays
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_page_up(self) -> None:
        self.cursor_row -= max(self.scrollable_content_region.height - 1, 1)

    def action_page_down(self) -> None:
        self.cursor_row += max(self.scrollable_content_region.height - 1, 1)

    def action_first_row(self) -> None:
        self.cursor_row = 0

    def action_last_row(self) -> None:
        self.cursor_row = len(self._keys) - 1

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return  # the header
        row = int(self.scroll_y) + offset.y - 1
        if not 0 <= row < len(self._keys):
            return
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self.cursor_row = row

    # -- rendering -------------------------------------------------------------------------

    def _render_cells(self, cells: Sequence[Cell], style: str = "") -> Strip:
        line = Text(" ", end="")
        for cell, width, column in zip(cells, self._widths, self.columns):
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.no_wrap = True
            text.truncate(width, overflow="ellipsis")
            padding = width - text.cell_len
            if column.justify == "right":
                line.append(" " * padding)
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(" " * padding)
            line.append(" " * GAP)
        if style:
            line.stylize_before(style)
        segments = list(line.render(self.app.console))
        return Strip(segments, line.cell_len)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            if self._header is None:
                self._header = self._render_cells([c.label for c in self.columns])
            header_style = base + self.get_component_rich_style("live-table--header")
            return self._finish(self._header, header_style, None, scroll_x, width)
        row = scroll_y + y - 1
        if not 0 <= row < len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[row]
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._render_cells(self._row_cells[key])
        style = base
        if self.zebra_stripes and row % 2:
            style = base + self.get_component_rich_style("live-table--even-row")
        cursor = self.get_component_rich_style("live-table--cursor") if row == self.cursor_row else None
        return self._finish(strip, style, cursor, scroll_x, width)

    @staticmethod
    def _finish(strip: Strip, style: Style, cursor: Style | None, scroll_x: int, width: int) -> Strip:
        segments = Segment.apply_style(iter(strip), style, cursor)
        pad = style + cursor if cursor is not None else style  # the cursor bar spans the width
        return Strip(segments, strip.cell_length).crop_extend(scroll_x, scroll_x + width, pad)
