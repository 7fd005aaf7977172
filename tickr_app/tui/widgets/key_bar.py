"""``KeyBar``: the keys that work here, on one line at the bottom of the screen.

Textual's ``Footer`` recomposes one widget per key whenever focus moves, so every pane switch
created a dozen widgets and restyled them: about 40% of the time a switch took to appear. This
bar renders the same bindings as one line of text, redrawn only when the set of keys changes.
A click on a key presses it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from .text_line import TextLine

Item = tuple[str, str, str, bool]
"""(key to simulate, key as shown, description, enabled)"""


class KeyBar(TextLine):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    show_command_palette: reactive[bool] = reactive(True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: tuple[Item, ...] = ()
        self._palette: Item | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        items: dict[str, Item] = {}
        palette: Item | None = None
        for key, (_node, binding, enabled, _tooltip) in screen.active_bindings.items():
            item = (key, self.app.get_key_display(binding), self._label(binding), enabled)
            if key == self.app.COMMAND_PALETTE_BINDING:
                palette = item
            elif binding.show and binding.action not in items:
                items[binding.action] = item  # one entry per action, as the Footer shows it
        shown = tuple(items.values())
        if shown != self.items or palette != self._palette:
            self.items, self._palette = shown, palette
            self.refresh()

    def _label(self, binding: Binding) -> str:
        """The app may word a key by the state it acts on (``binding_label``: "p Resume")."""
        label = getattr(self.app, "binding_label", None)
        return label(binding) if callable(label) else binding.description

    def shape(self) -> Hashable:
        return (self.items, self._palette, self.show_command_palette)

    def line(self, width: int) -> Text:
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        text_style = self.get_component_rich_style("key-bar--description", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        for key, display, description, enabled in self.items:
            self._append(line, key, display, description, enabled, key_style, text_style)
        if self.show_command_palette and self._palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            right = Text(end="")
            key, display, description, enabled = self._palette
            self._append(right, key, display, description, enabled, key_style, text_style)
            gap = width - line.cell_len - right.cell_len
            if gap > 0:
                line.append(" " * gap)
                line.append_text(right)
        return line

    @staticmethod
    def _append(
        line: Text, key: str, display: str, description: str, enabled: bool, key_style: Style, text_style: Style
    ) -> None:
        click = Style.from_meta({"@click": f"app.simulate_key({key!r})"})
        dim = Style(dim=not enabled)
        line.append(f" {display} ", key_style + dim + click)
        if description:
            line.append(f"{description} ", text_style + dim + click)
        line.append(" ")
