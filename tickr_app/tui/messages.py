"""Messages the widgets post up to the app (dataclasses, as in toolong)."""

from __future__ import annotations

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
