"""Messages the widgets post up to the app (dataclasses, as in toolong)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message


@dataclass
class OpenJob(Message):
    """Show a job's details."""

    job_id: str


@dataclass
class JobsChanged(Message):
    """Something was submitted or a command changed jobs: refresh the tables now, not on the
    next tick. Floods coalesce: a pending one replaces the next."""

    queue: str | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobsChanged)


@dataclass
class QueueSelected(Message):
    """The queue whose jobs the Queues pane shows changed."""

    queue: str


@dataclass
class ConfirmRequested(Message):
    """A widget asks the app to confirm a destructive step ("Shift means I'm sure"): widgets
    never push screens themselves, so widgets and screens do not import each other."""

    title: str
    text: str
    confirm: str
    on_sure: Callable[[], None]
    danger: bool = True
    """Destructive (the confirm button is red); False for e.g. "retry all"."""


@dataclass
class ScheduleFormRequested(Message):
    """Open the add-a-schedule form; ``on_saved`` hears the saved id (None if cancelled)."""

    on_saved: Callable[[str | None], None]


@dataclass
class LimitsFormRequested(Message):
    """Open the form that sets or clears a queue's rate and concurrency limit; ``on_saved``
    hears a summary of the change (None if cancelled)."""

    queue: str
    on_saved: Callable[[str | None], None]
