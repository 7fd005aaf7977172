"""The built-in ``email`` job: builds a real RFC 5322 message and delivers it.

With ``TICKR_SMTP_URL`` set (``smtp://user:pass@host:port``, STARTTLS when the server offers
it, or ``smtps://...`` for implicit TLS) the message is sent over SMTP; otherwise it is written
to ``TICKR_HOME/outbox/<job id>.eml``, so the embedded demo works with no mail server at all.

The Message-ID is derived from the job id, so a retried job that was already delivered once
(at-least-once) produces the same Message-ID and mail clients can recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from tickr_app.core.context import JobContext
from tickr_app.core.pool import PermanentError
from tickr_app.core.registry import Registry

from .files import write_atomically

JOB_NAME = "email"
SMTP_URL_ENV = "TICKR_SMTP_URL"
SMTP_TIMEOUT_S = 30.0
DEFAULT_SENDER = "tickr@localhost"


def _mail_address(value: str) -> str:
    """A syntactically valid address on any domain, the special-use ones included
    (``tickr@localhost``, ``dev@mailhost``, ``x@foo.test``, ``ops@printer.local``): what the
    published ``format: email`` promises, and what a local or test mail setup uses.
    Deliverability is the mail server's business, not the submit's."""
    local, at, domain = value.rpartition("@")
    check_domain = domain
    labels = domain.split(".")
    if at and labels[-1].lower() in SPECIAL_USE_DOMAIN_NAMES:
        # email-validator refuses special-use names outright: check the same shape of name
        # with an ordinary last label instead, and keep the name as given.
        check_domain = ".".join([*labels[:-1], "example"])
    try:
        checked = validate_email(f"{local}{at}{check_domain}", check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise PydanticCustomError(
            "value_error", "value is not a valid email address: {reason}", {"reason": str(exc)}
        ) from None
    if check_domain != domain:
        return f"{checked.local_part}@{domain.lower()}"
    return checked.normalized


MailAddress = Annotated[
    str,
    AfterValidator(_mail_address),
    WithJsonSchema({"type": "string", "format": "email"}),
]
SenderAddress = MailAddress


class EmailPayload(BaseModel):
    """An email to send: one recipient, optional copies, plain-text body."""

    model_config = ConfigDict(extra="forbid")

    to: MailAddress
    # The schema states the single-line rule too ("not a CR or LF anywhere"), so a client that
    # follows the schema is never refused for it.
    subject: str = Field(min_length=1, max_length=200, json_schema_extra={"not": {"pattern": "[\r\n]"}})
    body: str
    cc: list[MailAddress] = Field(default_factory=list, max_length=100)
    from_addr: SenderAddress = DEFAULT_SENDER

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # A header value must not carry line breaks (header injection).
        if "\r" in value or "\n" in value:
            raise ValueError("the subject must be a single line")
        return value


def build_message(payload: EmailPayload, job_id: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = payload.from_addr
    msg["To"] = payload.to
    if payload.cc:
        msg["Cc"] = ", ".join(payload.cc)
    msg["Subject"] = payload.subject
    msg["Date"] = formatdate(localtime=True)
    domain = payload.from_addr.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{job_id}@{domain}>"
    msg["X-Tickr-Job-Id"] = job_id
    msg.set_content(payload.body)
    return msg


def _send_smtp(url: str, msg: EmailMessage, sender: str, recipients: list[str]) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise PermanentError(f"{SMTP_URL_ENV} must start with smtp:// or smtps://, not {scheme or '(none)'}://")
    host = parts.hostname
    if not host:
        raise PermanentError(f"{SMTP_URL_ENV} has no host")
    try:
        port = parts.port or (465 if scheme == "smtps" else 25)
    except ValueError:
        raise PermanentError(f"{SMTP_URL_ENV} has an invalid port") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else ""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_S, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S)
    try:
        client.ehlo_or_helo_if_needed()
        if scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if user:
            client.login(user, password)
        refused = client.send_message(msg, from_addr=sender, to_addrs=recipients)
        if refused:
            # Some recipients were accepted; retrying would send them a duplicate.
            raise PermanentError(f"the server refused some recipients: {sorted(refused)}")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentError(f"the server refused every recipient: {exc.recipients}") from None
        raise
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise PermanentError(f"SMTP error {exc.smtp_code}: {text}") from None
        raise
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


async def send_email(payload: EmailPayload, ctx: JobContext) -> dict[str, Any]:
    """Send an email over SMTP (TICKR_SMTP_URL), or write it to the outbox as a .eml file."""
    msg = build_message(payload, ctx.id)
    await ctx.progress(10, "message built")
    url = os.environ.get(SMTP_URL_ENV, "").strip()
    if url:
        recipients = [payload.to, *payload.cc]
        await ctx.progress(50, "sending")
        await asyncio.to_thread(_send_smtp, url, msg, payload.from_addr, recipients)
        await ctx.progress(100, "sent")
        return {"sent_to": recipients, "message_id": msg["Message-ID"]}
    path = ctx.home / "outbox" / f"{ctx.id}.eml"
    await ctx.progress(50, "writing to the outbox")
    await asyncio.to_thread(write_atomically, path, msg.as_bytes())
    await ctx.progress(100, "written")
    return {"path": str(path), "message_id": msg["Message-ID"]}


def register(registry: Registry) -> None:
    """Add the ``email`` job type to ``registry`` (idempotent)."""
    if JOB_NAME in registry:
        return
    registry.job(JOB_NAME, timeout=2 * SMTP_TIMEOUT_S + 30, max_attempts=5, backoff_base=2.0)(send_email)
