"""``LiveTable`` and ``KeyBar`` driven with Pilot.

``LiveTable`` runs in a tiny app of its own (no Redis); ``KeyBar`` runs in the real
``TickrApp`` on a real engine. Every wait is ``pilot.pause()`` or a polled condition with a
deadline (``wait_for``), never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from test_tui import SIZE, wait_for
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from tickr_app.tui import TickrApp
from tickr_app.tui.widgets.key_bar import KeyBar
from tickr_app.tui.widgets.live_table import GAP, Cell, Column, LiveTable
from tickr_app.tui.widgets.tab_strip import TabStrip

# -- LiveTable -----------------------------------------------------------------------------

COLUMNS = (Column("id", "ID"), Column("name", "Name"), Column("count", "Count", "right"))
TABLE_SIZE = (40, 8)
"""8 lines: the header and 7 rows (a 20-row table scrolls)."""

Rows = list[tuple[str, Sequence[Cell]]]


def rows(n: int, *, name: str = "job") -> Rows:
    return [(f"k{i}", [f"r{i}", f"{name}{i}", str(i)]) for i in range(n)]


class TableApp(App[None]):
    """One LiveTable; records every Highlighted/Selected key it posts."""

    def __init__(self, columns: Sequence[Column] = COLUMNS, *, zebra_stripes: bool = False) -> None:
        super().__init__()
        self.table_columns = columns
        self.zebra_stripes = zebra_stripes
        self.highlighted: list[str | None] = []
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield LiveTable(self.table_columns, zebra_stripes=self.zebra_stripes, id="table")

    @property
    def table(self) -> LiveTable:
        return self.query_one("#table", LiveTable)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        assert event.control is self.table
        self.highlighted.append(event.key)

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        assert event.control is self.table
        self.selected.append(event.key)


async def load(pilot: Pilot[Any], table: LiveTable, data: Rows) -> None:
    table.set_rows(data)
    await pilot.pause()  # messages delivered, screen repainted


def lines(table: LiveTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def row_line(table: LiveTable, key: str) -> str:
    """The shown line of this row (fails if it is scrolled out of view)."""
    for text in lines(table)[1:]:
        if text.split()[:1] == [key.replace("k", "r", 1)]:
            return text
    raise AssertionError(f"row {key} not shown: {lines(table)}")


def background(table: LiveTable, y: int) -> Any:
    style = table.render_line(y)._segments[0].style
    assert style is not None
    return style.bgcolor


async def test_header_and_cells_render_right_justified_and_long_cells_widen_their_column() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, [("k1", ["r1", "ab", "7"]), ("k2", ["r2", "abc", "1234"])])
        header, first, second = lines(table)[:3]
        # Header at line 0; columns are 1 blank + cell + GAP blanks, each as wide as its widest cell.
        name_at, count_at = 1 + 2 + GAP, 1 + 2 + GAP + 4 + GAP  # "ID"/"r1" 2 wide, "Name" 4
        assert header.startswith(" ID" + " " * GAP + "Name")
        assert header.index("Count") == count_at
        assert first[1:3] == "r1" and first[name_at : name_at + 4] == "ab  "  # left: padded right
        assert first[count_at : count_at + 5] == "    7"  # right: padded left
        assert second[count_at : count_at + 5] == " 1234"
        assert table.get_cell("k2", "count") == "1234" and table.row_keys == ["k1", "k2"]
        assert table.size.height == 3  # height auto: the header and the two rows

        # A cell wider than its label widens the column: the next column moves right by the excess.
        long_name = "a-much-longer-name"
        await load(pilot, table, [("k1", ["r1", long_name, "7"]), ("k2", ["r2", "abc", "1234"])])
        header, first, second = lines(table)[:3]
        new_count_at = 1 + 2 + GAP + len(long_name) + GAP
        assert header.index("Count") == new_count_at
        assert first[name_at : name_at + len(long_name)] == long_name
        assert first[new_count_at : new_count_at + 5] == "    7"
        assert second[name_at:new_count_at] == "abc".ljust(len(long_name) + GAP)
        assert table.virtual_size.width == 1 + 2 + len(long_name) + 5 + GAP * 3  # the whole line scrolls into view
        assert table.virtual_size.height == 3  # header + 2 rows


async def test_zebra_stripes_shade_every_other_row() -> None:
    app = TableApp(zebra_stripes=True)
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(4))
        table.move_cursor(row=3)  # keep the cursor off lines 1-3
        await pilot.pause()
        assert background(table, 1) == background(table, 3)  # rows 0 and 2
        assert background(table, 2) != background(table, 1)  # row 1 striped

    plain = TableApp(zebra_stripes=False)
    async with plain.run_test(size=TABLE_SIZE) as pilot:
        await load(pilot, plain.table, rows(4))
        plain.table.move_cursor(row=3)
        await pilot.pause()
        assert background(plain.table, 2) == background(plain.table, 1)


async def test_reordered_rows_keep_the_cursor_on_its_key() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(5))
        table.move_cursor(row=1)
        await pilot.pause()
        assert table.cursor_key == "k1"

        reordered = list(reversed(rows(5)))  # k4 k3 k2 k1 k0
        await load(pilot, table, reordered)
        assert table.row_keys == ["k4", "k3", "k2", "k1", "k0"]
        assert (table.cursor_row, table.cursor_key) == (3, "k1")
        assert app.highlighted == ["k0", "k1"]  # same key: no new Highlighted
        assert "job1" in lines(table)[1 + 3]  # the cursor line shows k1's cells

        # A new row above the cursor shifts it down with its key.
        await load(pilot, table, [("new", ["rn", "n", "0"]), *reordered])
        assert (table.cursor_row, table.cursor_key) == (4, "k1")

        # A duplicate key shows once (the first occurrence).
        await load(pilot, table, [("k1", ["r1", "first", "1"]), ("k1", ["r1", "second", "2"])])
        assert table.row_keys == ["k1"] and table.get_cell("k1", "name") == "first"


async def test_cursor_keeps_its_index_when_its_key_leaves_and_an_empty_table_has_no_key() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await pilot.pause()
        assert table.cursor_key is None and table.row_count == 0  # before any rows...
        assert lines(table)[0].split() == ["ID", "Name", "Count"]  # ...the header shows
        await load(pilot, table, rows(5))
        table.move_cursor(row=2)
        await pilot.pause()
        assert table.cursor_key == "k2"

        # k2 leaves: the cursor stays at index 2, now on k3.
        await load(pilot, table, [r for r in rows(5) if r[0] != "k2"])
        assert (table.cursor_row, table.cursor_key) == (2, "k3")
        assert app.highlighted[-1] == "k3"

        # The cursor's index is past the end: clamped to the last row.
        table.move_cursor(row=3)
        await pilot.pause()
        assert table.cursor_key == "k4"
        await load(pilot, table, rows(2))
        assert (table.cursor_row, table.cursor_key) == (1, "k1")

        # Empty: no key, Highlighted(None); Enter selects nothing.
        await load(pilot, table, [])
        assert (table.cursor_row, table.cursor_key, table.row_count) == (0, None, 0)
        assert app.highlighted[-1] is None
        table.focus()
        await pilot.press("enter")
        assert app.selected == []
        assert lines(table)[0].split() == ["ID", "Name", "Count"]
        assert all(not line.strip() for line in lines(table)[1:])

        # move_cursor clamps too.
        await load(pilot, table, rows(3))
        table.move_cursor(row=99)
        await pilot.pause()
        assert table.cursor_key == "k2"
        table.move_cursor(row=-5)
        await pilot.pause()
        assert table.cursor_key == "k0"


async def test_highlighted_only_when_the_key_under_the_cursor_changes_and_enter_selects() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(3))
        assert app.highlighted == ["k0"]  # the first rows put a key under the cursor

        await load(pilot, table, rows(3, name="changed"))  # cells changed, same key under the cursor
        table.move_cursor(row=0)  # same row again
        await pilot.pause()
        assert app.highlighted == ["k0"]

        table.focus()
        await pilot.press("down")
        assert app.highlighted == ["k0", "k1"]
        await pilot.press("down", "down")  # the second is past the end: clamped, no message
        assert app.highlighted == ["k0", "k1", "k2"]
        await pilot.press("up")
        assert app.highlighted == ["k0", "k1", "k2", "k1"]

        await pilot.press("enter")
        assert app.selected == ["k1"]
        assert app.highlighted[-1] == "k1"  # Enter does not move the cursor


async def test_moving_below_the_visible_rows_scrolls_and_keeps_the_header_on_line_0() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(20))
        visible = table.size.height - 1
        assert visible == 7 and table.scroll_y == 0
        table.focus()

        def cursor_line() -> int:
            shown = lines(table)
            assert shown[0].split()[:3] == ["ID", "Name", "Count"]
            return next(y for y, text in enumerate(shown) if text.split()[:1] == [f"r{table.cursor_row}"])

        await pilot.press(*["down"] * visible)  # row 7: one past the last visible row
        assert table.cursor_row == 7
        assert table.scroll_y == 1
        assert cursor_line() == visible  # the bottom line

        await pilot.press("end")
        assert table.cursor_key == "k19"
        assert table.scroll_y == 20 - visible
        assert cursor_line() == visible

        await pilot.press("pageup")
        assert table.cursor_row == 19 - visible
        assert 1 <= cursor_line() <= visible

        await pilot.press("home")
        assert (table.cursor_row, table.scroll_y) == (0, 0)
        assert cursor_line() == 1

        await pilot.press("pagedown")
        assert table.cursor_row == visible
        assert cursor_line() == visible

        table.move_cursor(row=15)
        await pilot.pause()
        assert 1 <= cursor_line() <= visible
        await pilot.press("up", "up", "up", "up", "up", "up", "up", "up")  # back above the view
        assert table.cursor_row == 7
        assert cursor_line() == 1  # scrolled up just enough


async def test_click_moves_the_cursor_and_a_click_on_the_cursor_row_selects() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(20))

        assert await pilot.click("#table", offset=(2, 3))  # line 3: row 2 (line 0 is the header)
        assert table.cursor_key == "k2"
        assert app.highlighted == ["k0", "k2"] and app.selected == []

        assert await pilot.click("#table", offset=(2, 3))  # the cursor row: selects it
        assert app.selected == ["k2"]
        assert table.cursor_key == "k2"

        assert await pilot.click("#table", offset=(2, 0))  # the header: nothing
        assert table.cursor_key == "k2" and app.selected == ["k2"]

        # Scrolled: a click maps through the scroll offset.
        table.move_cursor(row=19)
        await pilot.pause()
        top = int(table.scroll_y)
        assert top > 0
        assert await pilot.click("#table", offset=(2, 1))
        assert table.cursor_row == top
        assert await pilot.click("#table", offset=(2, 1))
        assert app.selected == ["k2", f"k{top}"]

    # Below the last row: nothing.
    short = TableApp()
    async with short.run_test(size=TABLE_SIZE) as pilot:
        short.query_one("#table").styles.height = 8
        await load(pilot, short.table, rows(2))
        assert await pilot.click("#table", offset=(2, 5))
        assert short.table.cursor_key == "k0" and short.selected == []


async def test_unchanged_rows_keep_their_strip_and_changed_rows_are_rendered_again() -> None:
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(4))
        before = dict(table._strips)
        assert set(before) == {"k0", "k1", "k2", "k3"}

        data = rows(4)
        data[2] = ("k2", ["r2", "job2", "9"])  # same width, new value
        await load(pilot, table, data)
        after = table._strips
        assert after["k0"] is before["k0"] and after["k1"] is before["k1"] and after["k3"] is before["k3"]
        assert after["k2"] is not before["k2"]
        assert row_line(table, "k2").split() == ["r2", "job2", "9"]

        # Reordering keeps strips too (only their lines move).
        before = dict(table._strips)
        await load(pilot, table, list(reversed(data)))
        assert all(table._strips[k] is before[k] for k in before)

        # A removed row's strip is dropped.
        await load(pilot, table, data[:2])
        assert set(table._strips) == {"k0", "k1"}

        # A cell that widens its column re-renders every row (the columns moved).
        before = dict(table._strips)
        await load(pilot, table, [data[0], ("k1", ["r1", "a-much-longer-name", "1"])])
        assert table._strips["k0"] is not before["k0"]
        assert row_line(table, "k0").split() == ["r0", "job0", "0"]


async def test_a_theme_change_renders_again_without_error() -> None:
    app = TableApp(zebra_stripes=True)
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(4))
        table.move_cursor(row=3)
        await pilot.pause()
        backgrounds = [background(table, y) for y in range(4)]  # header, row 0, row 1 (striped), row 2

        app.theme = "textual-light"
        await pilot.pause()
        shown = lines(table)
        assert shown[0].split() == ["ID", "Name", "Count"]
        assert [text.split() for text in shown[1:5]] == [[f"r{i}", f"job{i}", str(i)] for i in range(4)]
        after = [background(table, y) for y in range(4)]
        assert all(new != old for new, old in zip(after, backgrounds)), (backgrounds, after)
        assert after[2] != after[1]  # still striped
        app.export_screenshot()  # the whole screen renders in the new theme


# -- LiveTable: known bugs (these fail until the widget is fixed) ------------------------------


async def test_new_theme_colours_in_unchanged_text_are_shown() -> None:
    """The tables colour cells with the theme (``Text(short_id, style=theme.primary)``): a cell
    whose only change is its colour must be drawn again (``Text.__eq__`` ignores ``Text.style``,
    so ``set_rows`` compares it separately)."""
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table

        def data() -> Rows:
            primary = app.current_theme.primary
            return [("k0", ["r0", Text("job0", style=primary), "0"]), ("k1", ["r1", "job1", "1"])]

        await load(pilot, table, data())
        table.move_cursor(row=1)  # the cursor style would hide the cell colour of row k0
        await pilot.pause()
        old = app.current_theme.primary
        app.theme = "textual-light"
        await pilot.pause()
        new = app.current_theme.primary
        assert new.lower() != old.lower()
        await load(pilot, table, data())  # the widget rebuilds its cells in the new theme
        cell = table.get_cell("k0", "name")
        assert isinstance(cell, Text) and cell.style == new

        shown = {
            seg.style.color.get_truecolor().hex
            for seg in table.render_line(1)
            if "job0" in seg.text and seg.style and seg.style.color
        }
        assert shown == {new.lower()}, f"row k0 still drawn in {shown} (old primary {old.lower()})"


async def test_setting_the_same_rows_again_keeps_a_scrolled_view() -> None:
    """Refreshing with the same rows (several times a second) must not scroll a view the user
    scrolled with the mouse wheel back to the cursor; rows never drawn have no strip yet, so
    "unchanged" cannot be judged by the strips."""
    app = TableApp()
    async with app.run_test(size=TABLE_SIZE) as pilot:
        table = app.table
        await load(pilot, table, rows(20))
        table.scroll_to(y=10, animate=False)  # what the mouse wheel does; the cursor stays on row 0
        await pilot.pause()
        assert table.scroll_y == 10 and table.cursor_row == 0

        await load(pilot, table, rows(20))  # identical data
        assert table.scroll_y == 10, "an unchanged refresh scrolled the view back to the cursor"


# -- KeyBar (real app, real engine) ---------------------------------------------------------


def bar_text(app: TickrApp) -> str:
    return app.query_one(KeyBar).render_line(0).text


def shows(app: TickrApp, key: str, label: str) -> bool:
    return f" {key} {label} " in bar_text(app)


async def switch(pilot: Pilot[Any], app: TickrApp, key: str, pane: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: app.pane == pane, f"the {pane} pane")
    await pilot.pause()


async def test_key_bar_shows_each_panes_keys_and_a_click_presses_the_key(make_tickr) -> None:
    tickr = await make_tickr(workers=2)
    pool = tickr._pool
    assert pool is not None
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(KeyBar)

        await switch(pilot, app, "2", "queues")
        assert shows(app, "r", "Retry") and shows(app, "D", "Delete") and shows(app, "R", "Retry dead")
        assert not shows(app, "p", "Pause") and not shows(app, "+", "More") and not shows(app, "-", "Fewer")
        assert shows(app, "?", "Keys") and shows(app, "q", "Quit")
        assert bar_text(app).rstrip().endswith("^p palette")  # wide: the palette key on the right
        assert len(bar_text(app)) == SIZE[0]

        await switch(pilot, app, "3", "workers")
        assert shows(app, "p", "Pause") and shows(app, "+", "More") and shows(app, "-", "Fewer")
        assert shows(app, "P", "Pause queue")
        assert not shows(app, "r", "Retry") and not shows(app, "D", "Delete")
        assert bar_text(app).count(" More ") == 1  # plus and = are one action: one entry

        # Redrawn only when the keys change: refreshing the bindings with nothing new keeps them.
        items = bar.items
        app.refresh_bindings()
        await pilot.pause()
        assert bar.items is items

        # A click on "+" presses it: the real pool gets one more slot.
        text = bar_text(app)
        x = text.index(" + More ") + 1
        assert text[x] == "+"
        assert await pilot.click(KeyBar, offset=(x, 0))
        await wait_for(pilot, lambda: pool.concurrency == 3, "the pool to scale to 3 slots")
        # ...and on "Fewer" (the description is clickable too).
        x = bar_text(app).index(" - Fewer ") + 3
        assert await pilot.click(KeyBar, offset=(x, 0))
        await wait_for(pilot, lambda: pool.concurrency == 2, "the pool to scale back to 2 slots")

        await switch(pilot, app, "1", "submit")
        assert shows(app, "^s", "Submit")
        assert not shows(app, "+", "More") and not shows(app, "r", "Retry")


async def test_key_bar_hides_the_palette_key_below_100_columns(make_tickr) -> None:
    tickr = await make_tickr(workers=1)
    app = TickrApp(tickr)
    async with app.run_test(size=(99, 30)) as pilot:
        bar = app.query_one(KeyBar)
        await pilot.pause()
        assert not bar.show_command_palette
        assert "^p" not in bar_text(app) and shows(app, "q", "Quit")

        await pilot.resize_terminal(100, 30)
        await wait_for(pilot, lambda: "^p palette" in bar_text(app), "the palette key at 100 columns")
        assert bar.show_command_palette



# -- TabStrip (real app, real engine) --------------------------------------------------------


def tab_x(app: TickrApp, selector: str, title: str) -> int:
    """The x offset, within the strip widget, of the first letter of this tab's title."""
    strip = app.query_one(selector, TabStrip)
    return strip.styles.padding.left + strip.render_line(0).text.index(f" {title} ") + 1


async def test_tab_strips_switch_panes_and_job_tables_on_click_and_follow_the_keys(make_tickr) -> None:
    tickr = await make_tickr(workers=1)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panes = app.query_one("#pane-tabs", TabStrip)
        assert app.pane == "queues" and panes.active == "queues"

        assert await pilot.click("#pane-tabs", offset=(tab_x(app, "#pane-tabs", "Workers"), 0))
        await wait_for(pilot, lambda: app.pane == "workers", "the Workers pane after a click")
        assert panes.active == "workers" and app.workers_pane.is_on_screen
        assert shows(app, "+", "More")  # the key bar follows the pane

        await pilot.press("1")  # a key moves the strip's highlight too
        await wait_for(pilot, lambda: app.pane == "submit", "the Submit pane")
        assert panes.active == "submit"

        await pilot.press("escape", "2")
        await wait_for(pilot, lambda: app.pane == "queues", "the Queues pane")
        jobs = app.query_one("#job-tabs", TabStrip)
        assert app.queues_pane.visible_status == "active" == jobs.active
        assert await pilot.click("#job-tabs", offset=(tab_x(app, "#job-tabs", "Dead"), 0))
        await wait_for(pilot, lambda: app.queues_pane.visible_status == "dead", "the dead table after a click")
        assert app.queues_pane.visible_table.id == "table-dead" and app.queues_pane.visible_table.is_on_screen
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: jobs.active == "finished", "the finished table after ]")
        assert app.queues_pane.visible_table.is_on_screen
