"""``TabStrip``: one line of tab titles over a ``ContentSwitcher``; a click selects a tab.

Textual's ``Tabs`` (inside ``TabbedContent``) is a scroll container, a bar, an animated
underline and a widget per tab: with both tab rows of the dashboard it was about a fifth of
the frame that draws a pane switch. This strip is one widget drawing one cached line.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive

from .text_line import TextLine


class TabStrip(TextLine):
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

    def action_select(self, tab: str) -> None:
        self.post_message(self.Selected(self, tab))

    def shape(self) -> Hashable:
        return self.active

    def line(self, width: int) -> Text:
        tab_style = self.get_component_rich_style("tab-strip--tab", partial=True)
        active_style = self.get_component_rich_style("tab-strip--active", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        for tab, title in self.tabs:
            click = Style.from_meta({"@click": f"select({tab!r})"})
            line.append(f" {title} ", (active_style if tab == self.active else tab_style) + click)
            line.append(" ")
        return line
