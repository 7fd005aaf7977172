"""``WelcomeScreen``: shown on the first run (no ``TICKR_HOME/.welcomed`` yet) and on ``w``.

Where the API is, a first job to submit from another terminal (``tickr submit`` and the same
with curl, both with the URL this process really serves on), and the keys to start with. In
attach mode it explains what an attached window does instead. Dismissing it writes the marker.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...core.home import short_path
from ...settings import DEFAULT_HOST, DEFAULT_PORT

log = logging.getLogger("tickr.tui")

MARKER = ".welcomed"
DEFAULT_API_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
EXAMPLE_PAYLOAD = {"to": "ada@example.com", "subject": "Hello", "body": "Hi"}


def marker_path(home: Path) -> Path:
    return home / MARKER


def is_first_run(home: Path) -> bool:
    return not marker_path(home).exists()


def mark_welcomed(home: Path) -> None:
    """Write the marker; a home we cannot write to only means the welcome shows again."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        marker_path(home).write_text(f"welcomed {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    except OSError as exc:
        log.warning("cannot write %s: %s", marker_path(home), exc)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def submit_example(job_type: str, payload: dict[str, object], api_url: str | None) -> str:
    """``tickr submit …``, with ``--url`` only when the API is not where ``tickr submit`` looks
    by default."""
    line = f"tickr submit {shlex.quote(job_type)} --payload {shlex.quote(_json(payload))}"
    if api_url and api_url.rstrip("/") != DEFAULT_API_URL:
        line += f" --url {api_url}"
    return line


def curl_example(job_type: str, payload: dict[str, object], api_url: str, *, token: bool = False) -> str:
    body = _json({"type": job_type, "payload": payload})
    auth = ' -H "Authorization: Bearer $TICKR_API_TOKEN"' if token else ""
    return (
        f"curl -s -X POST {api_url.rstrip('/')}/api/v1/jobs{auth}"
        f" -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


@dataclass(frozen=True, slots=True)
class WelcomeInfo:
    """What the welcome says about this process."""

    home: Path
    redis: str
    """``the embedded Redis under ~/…`` or ``Redis at redis://…`` (password masked)."""
    prefix: str = "tickr"
    api_url: str | None = None
    attach: bool = False
    workers: int = 0
    token: bool = False
    """The API wants a bearer token."""
    job_type: str | None = "email"
    """The example's job type (``email`` when registered, else the first one there is)."""

    @property
    def payload(self) -> dict[str, object]:
        return dict(EXAMPLE_PAYLOAD) if self.job_type == "email" else {}

    @property
    def submit_line(self) -> str | None:
        if self.job_type is None or (self.api_url is None and not self.attach):
            return None
        return submit_example(self.job_type, self.payload, self.api_url)

    @property
    def curl_line(self) -> str | None:
        if self.job_type is None or self.api_url is None:
            return None
        return curl_example(self.job_type, self.payload, self.api_url, token=self.token)


KEYS: tuple[tuple[str, str], ...] = (
    ("1 2 3", "Submit, Queues, Workers"),
    ("?", "every key"),
    ("ctrl+p", "every action by name"),
    ("w", "this welcome"),
)


def _keys(attach: bool) -> Table:
    keys = [*KEYS, ("q", "quit" if attach else "quit (running jobs finish first)")]
    table = Table.grid(padding=(0, 1))
    for _ in range(2):
        table.add_column(no_wrap=True, style="bold")
        table.add_column()
    for i in range(0, len(keys), 2):
        cells: list[Text | str] = []
        for key, text in keys[i : i + 2]:
            cells += [key, Text(text + "   ")]
        table.add_row(*cells)
    return table


class WelcomeScreen(ModalScreen[None]):
    """The first-run welcome. Enter, Esc or "Let's go" closes it; the copy buttons put a
    command on the clipboard and leave it open (the lines are also selectable with the mouse,
    ctrl+c copies the selection)."""

    BINDINGS = [Binding("escape,enter", "close", "Close", show=False)]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    """Short terminals (80×24): no blank lines around the title, the text scrolls if need be."""

    def __init__(self, info: WelcomeInfo) -> None:
        super().__init__()
        self.info = info

    # -- what it says ----------------------------------------------------------------------

    def _intro(self) -> Text:
        info = self.info
        if info.attach:
            return Text.assemble(
                "This window is ",
                ("attached", "bold"),
                ": it runs no API and no workers of its own. It watches and commands every Tickr "
                f"process on {info.redis} (prefix {info.prefix!r}).",
            )
        parts = ["the scheduler", f"{info.workers} worker{'s' if info.workers != 1 else ''}"]
        if info.api_url:
            parts.insert(0, "the HTTP API")
        running = ", ".join(parts[:-1]) + " and " + parts[-1]
        return Text(f"Tickr is running in this window: {running}, on {info.redis}.")

    def compose(self) -> ComposeResult:
        info = self.info
        with Vertical(id="welcome-dialog", classes="dialog"):
            yield Static(Text("Welcome to Tickr", style="bold"), classes="dialog-title")
            with VerticalScroll(id="welcome-body"):
                yield Static(self._intro(), id="welcome-intro")
                if info.api_url:
                    yield Static(
                        Text.assemble(("API  ", "bold"), f"{info.api_url}/api/v1"),
                        id="welcome-api",
                        classes="welcome-section",
                    )
                if info.submit_line and info.attach:
                    yield Static(
                        Text(
                            "Submit jobs on the Submit pane (1), or from a terminal through the API of a Tickr "
                            f"serving on this Redis (add --url if it is not on {DEFAULT_API_URL}):"
                        ),
                        classes="welcome-section",
                    )
                elif info.submit_line:
                    yield Static(Text("Send a first job from another terminal:"), classes="welcome-section")
                else:
                    yield Static(
                        Text("Submit jobs on the Submit pane (1): a form for each job type."),
                        classes="welcome-section",
                    )
                if info.submit_line:
                    yield Static(Text(info.submit_line), id="welcome-submit", classes="code")
                if info.curl_line:
                    yield Static(Text("or with curl:"))
                    yield Static(Text(info.curl_line), id="welcome-curl", classes="code")
                if info.token and info.api_url:
                    yield Static(
                        Text("The API wants its token: export TICKR_API_TOKEN first (tickr submit reads it too).")
                    )
                if info.submit_line and not info.attach:
                    outbox = (
                        f"; the built-in email job writes it to {short_path(info.home / 'outbox')}"
                        if info.job_type == "email"
                        else ""
                    )
                    yield Static(Text(f"Watch it on the Queues pane (2){outbox}.", style="dim"))
                if info.attach:
                    yield Static(
                        Text("On Workers (3), p pauses and + / - scale the selected worker process, on any host.")
                    )
                yield Static(_keys(info.attach), id="welcome-keys", classes="welcome-section")
            with Horizontal(classes="dialog-buttons"):
                if info.submit_line:
                    yield Button("Copy tickr submit", id="copy-submit", compact=True)
                if info.curl_line:
                    yield Button("Copy curl", id="copy-curl", compact=True)
                yield Button("Let's go  ⏎", id="welcome-close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#welcome-close", Button).focus()

    # -- actions ---------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        copy = {"copy-submit": self.info.submit_line, "copy-curl": self.info.curl_line}
        if event.button.id in copy:
            text = copy[event.button.id] or ""
            self.app.copy_to_clipboard(text)
            self.app.notify(text, title="Copied to the clipboard", timeout=4)
            self.query_one("#welcome-close", Button).focus()  # so Enter still closes
            return
        self.dismiss(None)
