"""``StartupView``: what ``tickr`` shows while it starts (the embedded Redis can take a second
or more, then the engine connects and the API binds), one line per step with its time.

Whoever starts the engine reports through the ``StartupProgress`` protocol; the app mounts the
panes in place of this view once the start has finished.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import LoadingIndicator, Static

from ...runtime import StartupProgress  # noqa: F401  (re-exported: the protocol this view implements)
from .job_table import theme_colors

TICK_S = 0.1
SHOW_ELAPSED_AFTER_S = 0.3


class StartupView(Vertical):
    """Start-up steps: ``✓`` and the time taken for finished ones, ``•`` and a live timer on
    the current one, a spinner below. Safe to call after it was removed (the start outlives a quick quit)."""

    def __init__(self) -> None:
        super().__init__(id="startup")
        self.lines: list[str] = []
        """Every line as shown (plain text), for tests and logs."""
        self._current: Static | None = None
        self._current_text = ""
        self._started = 0.0

    def compose(self) -> ComposeResult:
        with Vertical(id="startup-box"):
            yield Static(Text("Starting Tickr", style="bold"), classes="dialog-title")
            yield Vertical(id="startup-steps")
            yield LoadingIndicator(id="startup-spinner")
            yield Static(Text("q quits", style="dim"), id="startup-hint")

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self._tick)

    # -- StartupProgress -------------------------------------------------------------------

    def step(self, text: str) -> None:
        self.done()
        self._current_text = text
        self._started = time.monotonic()
        self._current = Static(self._line("•", text, None), classes="startup-step")
        self.lines.append(f"• {text}")
        self._mount_line(self._current)

    def done(self, text: str | None = None) -> None:
        if self._current is None:
            return
        text = text or self._current_text
        took = time.monotonic() - self._started
        self.lines[-1] = f"✓ {text}"
        if self.is_attached:
            self._current.update(self._line("✓", text, took))
        self._current = None

    def note(self, text: str) -> None:
        self.done()
        self.lines.append(f"✓ {text}")
        self._mount_line(Static(self._line("✓", text, None), classes="startup-step"))

    # -- drawing ---------------------------------------------------------------------------

    def _mount_line(self, line: Static) -> None:
        if self.is_attached:
            self.query_one("#startup-steps").mount(line)

    def _line(self, mark: str, text: str, took: float | None) -> Text:
        colors = theme_colors(self.app) if self.is_attached else {}
        line = Text(f"{mark} ", style=colors.get("success", "") if mark == "✓" else "bold")
        line.append(text)
        if took is not None and took >= SHOW_ELAPSED_AFTER_S:
            line.append(f"  {took:.1f} s", style="dim")
        return line

    def _tick(self) -> None:
        if self._current is None:
            return
        took = time.monotonic() - self._started
        if took >= SHOW_ELAPSED_AFTER_S:
            self._current.update(self._line("•", f"{self._current_text} …", took))
