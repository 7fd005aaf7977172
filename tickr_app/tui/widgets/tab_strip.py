"""``TabStrip``: one line of tab titles over a ``ContentSwitcher``; a click selects a tab.

Textual's ``Tabs`` (inside ``TabbedContent``) is a scroll container, a bar, an animated
underline and a widget per tab: with both tab rows of the dashboard it was about a fifth of
the frame that draws a pane switch. This strip is one widget drawing one cached line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget


class TabStrip(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"tab-strip--tab", "tab-strip--active"}
    DEFAULT_CSS = """
    TabStrip {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
        & > .tab-strip--tab { color: $text-muted; }
        & > .tab-strip--active { color: $text; background: $primary 50%; text-style: bold; }
    }
    """

    active: reactive[str] = reactive("")

    class Selected(Message):
        """A click chose this tab (the owner switches its content)."""

        def __init__(self, strip: TabStrip, tab: str) -> None:
            super().__init__()
            self.strip = strip
            self.tab = tab

        @property
        def control(self) -> TabStrip:
            return self.strip

    def __init__(self, tabs: Sequence[tuple[str, str]], *, active: str, id: str | None = None) -> None:
        """``tabs``: (tab id, title) pairs, in order."""
        super().__init__(id=id)
        self.tabs = tuple(tabs)
        self.set_reactive(TabStrip.active, active)
        self._strip: Strip | None = None
        self._shape: tuple[object, ...] = ()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None  # the strip holds the theme's colours

    def action_select(self, tab: str) -> None:
        self.post_message(self.Selected(self, tab))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y > 0:
            return Strip.blank(width, self.rich_style)
        shape = (self.active, width)
        if self._strip is None or self._shape != shape:
            tab_style = self.get_component_rich_style("tab-strip--tab", partial=True)
            active_style = self.get_component_rich_style("tab-strip--active", partial=True)
            line = Text(no_wrap=True, overflow="crop", end="")
            for tab, title in self.tabs:
                click = Style.from_meta({"@click": f"select({tab!r})"})
                line.append(f" {title} ", (active_style if tab == self.active else tab_style) + click)
                line.append(" ")
            segments = Segment.apply_style(line.render(self.app.console), self.rich_style)
            self._strip = Strip(segments, line.cell_len).crop_extend(0, width, self.rich_style)
            self._shape = shape
        return self._strip
