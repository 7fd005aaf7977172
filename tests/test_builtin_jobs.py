"""The built-in ``email`` and ``report`` job types, run through a real engine on real Redis.

The SMTP test talks to a small SMTP server started here on a free loopback port (the stdlib
has no smtpd since 3.12, and aiosmtpd is not a dependency).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import email
import email.policy
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import eventually
from timing import deadline

from tickr_app import Registry
from tickr_app.core.errors import InvalidPayload
from tickr_app.jobs import email as email_job
from tickr_app.jobs import register_builtins
from tickr_app.jobs import report as report_job

# -- a minimal SMTP server -----------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    reject_rcpt: bool = False


async def _smtp_session(server: SmtpServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def reply(line: str) -> None:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    mail_from = ""
    rcpts: list[str] = []
    try:
        await reply("220 test.local ESMTP tickr-test")
        while True:
            raw = await reader.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                await reply("250-test.local\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SIZE 10485760")
            elif verb == "HELO":
                await reply("250 test.local")
            elif verb == "AUTH":
                mech, _, initial = arg.partition(" ")
                if mech.upper() != "PLAIN":
                    await reply("504 unsupported mechanism")
                    continue
                if not initial:
                    await reply("334 ")
                    initial = (await reader.readline()).decode().strip()
                _, user, password = base64.b64decode(initial).decode().split("\0")
                server.logins.append((user, password))
                await reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                mail_from = arg.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                rcpts = []
                await reply("250 OK")
            elif verb == "RCPT":
                if server.reject_rcpt:
                    await reply("550 5.1.1 no such user")
                    continue
                rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                await reply("250 OK")
            elif verb == "DATA":
                await reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    chunk = await reader.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                server.messages.append(Received(mail_from, rcpts, b"".join(lines)))
                server.arrived.set()
                await reply("250 OK queued")
            elif verb == "RSET":
                mail_from, rcpts = "", []
                await reply("250 OK")
            elif verb == "NOOP":
                await reply("250 OK")
            elif verb == "QUIT":
                await reply("221 Bye")
                return
            else:
                await reply("502 command not implemented")
    finally:
        writer.close()


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    state = SmtpServer("127.0.0.1", 0)
    server = await asyncio.start_server(lambda r, w: _smtp_session(state, r, w), "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(autouse=True)
def no_smtp_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKR_SMTP_URL", raising=False)


async def progress_events(tickr, job_id: str) -> list[float]:
    """The progress values the job reported, in order, from its queue's event stream."""
    events = await tickr._broker.read_events("default", "0-0", count=10_000)
    return [float(f["x"]) for _, f in events if f.get("id") == job_id and f.get("e") == "progress"]


# -- registration --------------------------------------------------------------------------


def test_register_is_idempotent_and_keeps_existing_types() -> None:
    registry = Registry()

    @registry.job("email")
    async def my_email(payload: dict) -> None:
        return None

    register_builtins(registry)
    register_builtins(registry)
    assert set(registry.types) == {"email", "report"}
    assert registry.get("email").handler is my_email  # an existing type is not replaced
    assert registry.get("report").payload_model is report_job.ReportPayload


def test_email_payload_schema_is_published() -> None:
    registry = Registry()
    email_job.register(registry)
    schema = registry.get("email").json_schema()
    assert schema["required"] == ["to", "subject", "body"]
    assert schema["properties"]["to"]["format"] == "email"
    assert schema["properties"]["from_addr"]["default"] == "tickr@localhost"


# -- email ---------------------------------------------------------------------------------


async def test_email_is_written_to_the_outbox(make_tickr, home: Path) -> None:
    tickr = await make_tickr(workers=2, builtin_jobs=True)
    j = await tickr.submit(
        "email",
        {"to": "ada@example.com", "subject": "Hello from Tickr", "body": "Line one\nLine two\n", "cc": ["bob@example.org"]},
    )
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded", done.error
    path = Path(done.result["path"])
    assert path == home / "outbox" / f"{j.id}.eml"
    raw = path.read_bytes()
    assert b"\r\n" in raw  # SMTP line endings: a real RFC 5322 message
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"] == "ada@example.com"
    assert msg["Cc"] == "bob@example.org"
    assert msg["From"] == "tickr@localhost"
    assert msg["Subject"] == "Hello from Tickr"
    assert msg["Message-ID"] == f"<{j.id}@localhost>" == done.result["message_id"]
    assert msg["Date"]
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg.get_content().replace("\r\n", "\n") == "Line one\nLine two\n"
    # nothing but the message is left in the outbox (the temp file was renamed)
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert await progress_events(tickr, j.id) == [10.0, 50.0, 100.0]


async def test_email_with_unicode_subject_and_body_round_trips(make_tickr) -> None:
    tickr = await make_tickr(workers=1, builtin_jobs=True)
    j = await tickr.submit("email", {"to": "zoe@example.com", "subject": "Café ☕ résumé", "body": "Grüße — ünïcödé\n"})
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded", done.error
    msg = email.message_from_bytes(Path(done.result["path"]).read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Café ☕ résumé"
    assert msg.get_content().replace("\r\n", "\n") == "Grüße — ünïcödé\n"


@pytest.mark.parametrize(
    ("payload", "bad_field"),
    [
        ({"to": "not-an-address", "subject": "x", "body": "y"}, "to"),
        ({"to": "a@example.com", "subject": "", "body": "y"}, "subject"),
        ({"to": "a@example.com", "subject": "x" * 201, "body": "y"}, "subject"),
        ({"to": "a@example.com", "subject": "x\r\nBcc: victim@example.com", "body": "y"}, "subject"),
        ({"to": "a@example.com", "subject": "x", "body": "y", "cc": ["ok@example.com", "broken@"]}, "cc.1"),
        ({"to": "a@example.com", "subject": "x", "body": "y", "from_addr": "nobody"}, "from_addr"),
        ({"to": "a@example.com", "subject": "x"}, "body"),
    ],
)
async def test_email_invalid_payload_is_refused_at_submit(make_tickr, payload: dict, bad_field: str) -> None:
    tickr = await make_tickr(workers=0, builtin_jobs=True)
    with pytest.raises(InvalidPayload) as info:
        await tickr.submit("email", payload)
    fields = [d["field"] for d in info.value.details]
    assert fields == [bad_field]
    assert info.value.details[0]["message"]
    stats = await tickr.stats()
    assert stats["default"].enqueued == 0  # nothing was enqueued


async def test_email_is_sent_over_smtp(make_tickr, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("TICKR_SMTP_URL", f"smtp://mailer:p%40ss%3Aword@127.0.0.1:{smtp_server.port}")
    tickr = await make_tickr(workers=2, builtin_jobs=True)
    j = await tickr.submit(
        "email",
        {
            "to": "ada@example.com",
            "cc": ["bob@example.org"],
            "subject": "Over the wire",
            "body": "Hello\n.\nA line with a lone dot above.\n",
            "from_addr": "robot@example.net",
        },
    )
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded", done.error
    assert done.result["sent_to"] == ["ada@example.com", "bob@example.org"]
    await asyncio.wait_for(smtp_server.arrived.wait(), deadline(5))
    assert smtp_server.logins == [("mailer", "p@ss:word")]  # URL-encoded credentials decoded
    [received] = smtp_server.messages
    assert received.mail_from == "robot@example.net"
    assert received.rcpt_to == ["ada@example.com", "bob@example.org"]
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert msg["To"] == "ada@example.com"
    assert msg["Subject"] == "Over the wire"
    assert msg["Message-ID"] == f"<{j.id}@example.net>"
    assert msg.get_content().replace("\r\n", "\n") == "Hello\n.\nA line with a lone dot above.\n"
    assert not (home / "outbox").exists()  # sent, not written


async def test_email_refused_by_the_smtp_server_goes_dead_without_retries(
    make_tickr, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp_server.reject_rcpt = True
    monkeypatch.setenv("TICKR_SMTP_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    tickr = await make_tickr(workers=1, builtin_jobs=True)
    j = await tickr.submit("email", {"to": "ghost@example.com", "subject": "x", "body": "y"})
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "dead"
    assert done.attempts == 1  # a 5xx refusal is permanent
    assert "refused" in done.error
    assert smtp_server.messages == []


async def test_email_with_unreachable_smtp_server_fails_and_retries(
    make_tickr, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    monkeypatch.setenv("TICKR_SMTP_URL", f"smtp://127.0.0.1:{unused_tcp_port}")
    tickr = await make_tickr(workers=1, builtin_jobs=True)
    j = await tickr.submit("email", {"to": "a@example.com", "subject": "x", "body": "y"}, max_attempts=1)
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "dead"
    assert "ConnectionRefusedError" in done.error
    assert "ConnectionRefusedError" in done.traceback


# -- report --------------------------------------------------------------------------------


async def test_report_markdown_summarises_every_queue(make_tickr, registry: Registry, home: Path) -> None:
    @registry.job("noop", queue="other", backoff_base=0.01)
    async def noop(payload: dict) -> None:
        return None

    tickr = await make_tickr(workers=2, builtin_jobs=True)
    ids = [j.id for j in await asyncio.gather(*(tickr.submit("noop", {}) for _ in range(3)))]
    for job_id in ids:
        assert (await tickr.wait(job_id, timeout=deadline(10))).status == "succeeded"
    await tickr.submit("noop", {}, delay=3600)  # one waiting job to count

    j = await tickr.submit("report", {"title": "Nightly | summary", "steps": 4, "step_delay": 0.01})
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded", done.error
    assert done.progress == 100
    assert done.result["queues"] == 2
    path = Path(done.result["path"])
    assert path == home / "reports" / f"{j.id}.md"
    text = path.read_text()
    assert text.startswith("# Nightly \\| summary\n")
    queues_table = text.split("## Job types")[0]
    rows = {
        cells[0]: cells
        for line in queues_table.splitlines()
        if line.startswith("| ")
        for cells in [[c.strip() for c in line.strip().strip("|").split("|")]]
    }
    header = rows["queue"]
    other = dict(zip(header, rows["other"]))
    assert other["enqueued"] == "4" and other["succeeded"] == "3" and other["waiting"] == "1" and other["processed"] == "3"
    default = dict(zip(header, rows["default"]))
    assert default["active"] == "1"  # the report itself is running
    assert default["enqueued"] == "1"
    assert "| other | noop | 4 | 3 | 0 | 0 | 0 |" in text
    # one progress report per step, ending at 100
    assert await progress_events(tickr, j.id) == [25.0, 50.0, 75.0, 100.0]


async def test_report_csv(make_tickr, home: Path) -> None:
    tickr = await make_tickr(workers=1, builtin_jobs=True)
    j = await tickr.submit("report", {"format": "csv", "steps": 1, "step_delay": 0})
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded", done.error
    path = Path(done.result["path"])
    assert path.suffix == ".csv" and path.parent == home / "reports"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [(r["queue"], r["type"]) for r in rows] == [("default", "*"), ("default", "report")]
    assert rows[0]["enqueued"] == "1" and rows[0]["active"] == "1" and rows[0]["paused"] == "0"
    assert await progress_events(tickr, j.id) == [100.0]


async def test_report_progress_moves_while_it_runs(make_tickr) -> None:
    tickr = await make_tickr(workers=1, builtin_jobs=True)
    j = await tickr.submit("report", {"steps": 5, "step_delay": 0.1})

    async def midway() -> bool:
        job = await tickr.get(j.id)
        return job is not None and job.status == "active" and 0 < job.progress < 100

    await eventually(midway, 5, message="the report shows partial progress while active")
    done = await tickr.wait(j.id, timeout=deadline(10))
    assert done.status == "succeeded"
    assert await progress_events(tickr, j.id) == [20.0, 40.0, 60.0, 80.0, 100.0]


@pytest.mark.parametrize(
    "payload",
    [{"format": "pdf"}, {"steps": 0}, {"steps": 101}, {"step_delay": -1}, {"step_delay": 6}, {"title": ""}, {"colour": "red"}],
)
async def test_report_invalid_payload_is_refused(make_tickr, payload: dict) -> None:
    tickr = await make_tickr(workers=0, builtin_jobs=True)
    with pytest.raises(InvalidPayload) as info:
        await tickr.submit("report", payload)
    assert [d["field"] for d in info.value.details] == [next(iter(payload))]
