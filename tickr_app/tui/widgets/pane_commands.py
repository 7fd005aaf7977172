"""A pane's own keys in the command palette, offered only while that pane is shown: one provider
shape for every pane with commands of its own (Schedules, Workflows)."""

from __future__ import annotations

from typing import ClassVar

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import ModalScreen
from textual.widget import Widget


class PaneCommands(Provider):
    """Subclasses name the pane (``PANE``, as ``App.pane`` says it), its widget class and its
    commands as (title, method of the pane, help)."""

    PANE: ClassVar[str]
    PANE_TYPE: ClassVar[type[Widget]]
    COMMANDS: ClassVar[tuple[tuple[str, str, str], ...]]

    def _pane(self) -> Widget | None:
        if isinstance(self.screen, ModalScreen) or getattr(self.app, "pane", None) != self.PANE:
            return None
        for pane in self.app.query(self.PANE_TYPE):
            return pane
        return None

    async def discover(self) -> Hits:
        pane = self._pane()
        if pane is None:
            return
        for title, method, help_text in self.COMMANDS:
            yield DiscoveryHit(title, getattr(pane, method), text=title, help=help_text)

    async def search(self, query: str) -> Hits:
        pane = self._pane()
        if pane is None:
            return
        matcher = self.matcher(query)
        for title, method, help_text in self.COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), getattr(pane, method), text=title, help=help_text)
