"""``TextLine``: a one-line widget drawn from a Rich ``Text`` and kept as a strip until what it
shows changes. The key bar and the tab strips are redrawn with every full-screen frame (each
pane switch); building their text each time cost more than the rest of their frame."""

from __future__ import annotations

from collections.abc import Hashable

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class TextLine(Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._strip: Strip | None = None
        self._shape: Hashable = None

    def shape(self) -> Hashable:
        """Everything ``line`` depends on besides the width and the theme."""
        raise NotImplementedError

    def line(self, width: int) -> Text:
        raise NotImplementedError

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None  # the strip holds the theme's colours

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y > 0:
            return Strip.blank(width, self.rich_style)
        shape = (self.shape(), width)
        if self._strip is None or self._shape != shape:
            text = self.line(width)
            segments = Segment.apply_style(text.render(self.app.console), self.rich_style)
            self._strip = Strip(segments, text.cell_len).crop_extend(0, width, self.rich_style)
            self._shape = shape
        return self._strip
