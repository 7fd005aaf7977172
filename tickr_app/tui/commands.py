"""One command registry feeding the key bindings, the help screen and the command palette.

Every Tickr action is declared once here (key, action, title, help, where it applies); the app
builds its ``BINDINGS`` from it and ``TickrCommands`` offers the same actions in the palette,
so a key and its palette entry can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

Scope = Literal["global", "pool", "job", "queue", "queues", "submit"]
"""Where a command applies: anywhere; the Workers pane (pool controls); a selected job (Queues
pane or job details); the selected queue (Queues and Workers panes); the Queues pane; the
Submit pane."""


@dataclass(frozen=True, slots=True)
class TuiCommand:
    id: str
    key: str
    action: str
    title: str
    help: str
    scope: Scope = "global"
    key_display: str | None = None
    show: bool = True
    """Shown in the footer."""
    short: str = ""
    """Footer label (defaults to the title)."""
    confirms: bool = False
    """Asks first (a dialog: y confirms, n or escape cancels)."""

    @property
    def keys_label(self) -> str:
        return self.key_display or self.key.split(",")[0]

    @property
    def all_keys(self) -> str:
        """Every key of the command, as typed (``? f1``, ``+ =``)."""
        keys = [_KEY_NAMES.get(k, k) for k in self.key.split(",") if not k.startswith("shift+")]
        return " ".join(dict.fromkeys(keys))


_KEY_NAMES = {"question_mark": "?", "plus": "+", "minus": "-", "equals_sign": "=", "slash": "/"}


COMMANDS: tuple[TuiCommand, ...] = (
    TuiCommand(
        "pane-submit", "1", "switch_pane('submit')", "Go to Submit",
        "Show the Submit pane: pick a job type, fill in its payload", show=False,
    ),
    TuiCommand(
        "pane-queues", "2", "switch_pane('queues')", "Go to Queues",
        "Show the Queues pane: live counts, throughput and job tables", show=False,
    ),
    TuiCommand(
        "pane-workers", "3", "switch_pane('workers')", "Go to Workers",
        "Show the Workers pane: every worker process and this pool's slots", show=False,
    ),
    TuiCommand(
        "pane-schedules", "4", "switch_pane('schedules')", "Go to Schedules",
        "Show the Schedules pane: cron and interval schedules, next and last runs", show=False,
    ),
    TuiCommand(
        "pane-workflows", "5", "switch_pane('workflows')", "Go to Workflows",
        "Show the Workflows pane: progress, and the selected one's tree of nodes", show=False,
    ),
    TuiCommand(
        "submit", "ctrl+s", "submit_job", "Submit job", "Submit the job in the form", scope="submit", short="Submit"
    ),
    TuiCommand(
        "pool-pause", "p", "toggle_pause_pool", "Pause/resume pool",
        "Pause or resume the worker process selected on the Workers pane (this pool by default)", scope="pool",
        short="Pause",
    ),
    TuiCommand(
        "queue-pause", "P,shift+p", "toggle_pause_queue", "Pause/resume queue",
        "Pause or resume the selected queue for every process on this Redis", scope="queue", key_display="P",
        short="Pause queue",
    ),
    TuiCommand(
        "scale-up", "plus,equals_sign", "scale(1)", "Scale up",
        "One more worker slot in the selected worker process (this pool by default)", scope="pool", key_display="+",
        short="More",
    ),
    TuiCommand(
        "scale-down", "minus", "scale(-1)", "Scale down",
        "One worker slot fewer; a busy slot finishes its job first", scope="pool", key_display="-", short="Fewer",
    ),
    TuiCommand(
        "job-retry", "r", "retry_job", "Retry job", "Put the selected dead or cancelled job back to ready",
        scope="job", short="Retry",
    ),
    TuiCommand(
        "job-cancel", "c", "cancel_job", "Cancel job", "Cancel the selected waiting/ready job, or stop an active one",
        scope="job", short="Cancel",
    ),
    TuiCommand(
        "job-delete", "D,shift+d", "delete_job", "Delete job", "Delete the selected job (asks first)",
        scope="job", key_display="D", short="Delete", confirms=True,
    ),
    TuiCommand(
        "retry-dead", "R,shift+r", "retry_all_dead", "Retry all dead",
        "Put every dead job of the selected queue back to ready (asks first)", scope="queues", key_display="R",
        short="Retry dead", confirms=True,
    ),
    TuiCommand(
        "delete-dead", "X,shift+x", "delete_all_dead", "Delete all dead",
        "Delete every dead job of the selected queue and its record (asks first)", scope="queues",
        key_display="X", short="Delete dead", confirms=True, show=False,
    ),
    TuiCommand(
        "find-job", "slash", "find_job", "Find job by id",
        "Open a job's details by its id (the full id, or the start of one shown in a table)", scope="queues",
        key_display="/", show=False,
    ),
    TuiCommand(
        "filter-type", "f", "filter_type", "Filter by job type",
        "Show only jobs of one type in the job tables (f again to pick another, or all)", scope="queues",
        show=False,
    ),
    TuiCommand(
        "job-detail", "o", "show_job", "Job details", "Open the selected job's details (also Enter on a row)",
        scope="job", show=False,
    ),
    TuiCommand(
        "theme", "t", "toggle_theme", "Light/dark theme", "Switch between the light and the dark theme", show=False
    ),
    TuiCommand(
        "welcome", "w", "welcome", "Welcome",
        "Show the welcome again: the API URL, a first job to submit, the main keys", show=False,
    ),
    TuiCommand("help", "question_mark,f1", "help", "Keys", "Show every key", key_display="?"),
    TuiCommand("quit", "q", "quit", "Quit", "Quit: in-flight jobs finish first (Ctrl+Q too)"),
)

OTHER_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Submit", "escape", "Leave the form, so 1 2 3 and q work again"),
    ("Submit", "tab / shift+tab", "Next / previous field"),
    ("Queues", "[ ]", "Previous / next job table (Ready, Waiting, Active, Dead, Finished)"),
    ("Queues", "enter", "Open the job under the cursor"),
    ("Queues", "↑ ↓ / click", "Move between queues and jobs"),
    ("Queues", "l", "Set or clear the selected queue's rate and concurrency limit, live, for every process"),
    ("Workers", "↑ ↓", "Select the worker process that p, + and - command"),
    ("Schedules", "a", "Add or update a schedule (a form with a preview of the next five runs)"),
    ("Schedules", "p / space", "Pause or resume the selected schedule for every process"),
    ("Schedules", "n", "Run the selected schedule's job once now"),
    ("Schedules", "D", "Delete the selected schedule (asks first)"),
    ("Workflows", "↑ ↓ / tab", "Select a workflow; tab moves to its tree of nodes"),
    ("Workflows", "c", "Cancel the selected workflow (asks first): nodes not started are skipped"),
    ("Workflows", "r", "Retry the selected workflow: its dead and cancelled nodes run again"),
    ("Workflows", "D", "Delete the selected ended workflow and its node jobs' records (asks first)"),
    ("Workflows", "enter / space", "In the tree: open a node's job / fold a chain or group"),
    ("Anywhere", "ctrl+p", "Command palette: every action by name"),
    ("Anywhere", "escape", "Close a dialog"),
)
"""Keys that belong to one widget, listed on the help screen next to the registry."""


def shift_keys_note() -> str:
    """What the Shift (capital letter) keys do, from the registry, so the help stays true."""
    capitals = [c for c in COMMANDS if c.keys_label.isalpha() and c.keys_label.isupper()]
    asking = [c.keys_label for c in capitals if c.confirms]
    direct = [f"{c.keys_label} ({c.title.lower()})" for c in capitals if not c.confirms]
    parts = []
    if asking:
        listed = ", ".join(asking[:-1]) + f" and {asking[-1]}" if len(asking) > 1 else asking[0]
        parts.append(f"{listed} ask first (y confirms, n or esc cancels)")
    if direct:
        parts.append(f"{', '.join(direct)} {'acts' if len(direct) == 1 else 'act'} at once")
    return "Shift means a key with a wider reach: " + "; ".join(parts) + "."


SCOPE_BY_ACTION: dict[str, Scope] = {c.action.split("(", 1)[0]: c.scope for c in COMMANDS}
"""Action name (without arguments) -> scope, for ``App.check_action``."""


def bindings() -> list[Binding]:
    return [
        Binding(c.key, c.action, c.short or c.title, show=c.show, key_display=c.key_display, tooltip=c.help, id=c.id)
        for c in COMMANDS
    ]


class CommandHost(Protocol):
    """What the palette needs of the app (``TickrApp``): whether a command applies on a screen.
    A protocol, not the app class, so this module does not import the app that imports it."""

    def command_available(self, command: TuiCommand, screen: Screen[Any]) -> bool: ...


class TickrCommands(Provider):
    """The registry's commands in the command palette, offered only where they apply."""

    def _available(self) -> list[TuiCommand]:
        app: CommandHost = self.app  # type: ignore[assignment]
        return [c for c in COMMANDS if app.command_available(c, self.screen)]

    async def discover(self) -> Hits:
        for command in self._available():
            yield DiscoveryHit(
                f"{command.title}  ({command.keys_label})",
                partial(self._run, command),
                text=command.title,
                help=command.help,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._available():
            for text in (command.title, command.help):
                score = matcher.match(text)
                if score > 0:
                    yield Hit(
                        score if text == command.title else score * 0.5,
                        matcher.highlight(command.title) if text == command.title else command.title,
                        partial(self._run, command),
                        text=command.title,
                        help=command.help,
                    )
                    break

    async def _run(self, command: TuiCommand) -> None:
        await self.app.run_action(command.action)
