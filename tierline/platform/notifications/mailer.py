"""Sending e-mail through SMTP (standard library ``smtplib``, run in a worker thread).

``TIERLINE_SMTP_URL`` names the server:

- ``smtp://[user:pass@]host[:port]`` (port 587 with credentials, else 25): STARTTLS when the
  server offers it;
- ``smtp+starttls://…`` (587): STARTTLS required;
- ``smtps://…`` (465): TLS from the first byte.

Credentials are sent only over TLS, or to a loopback host (a local relay). A batch of messages
shares one connection; each message gets its own outcome, so one bad address does not hold up
the rest, and an unreachable server fails the whole batch quickly (the rows are retried).
"""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal
from urllib.parse import unquote, urlsplit

Security = Literal["opportunistic", "starttls", "tls"]

_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("opportunistic", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
TIMEOUT_SECONDS = 20.0


class MailConfigError(ValueError):
    """``TIERLINE_SMTP_URL`` cannot be used."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise MailConfigError("TIERLINE_SMTP_URL must start with smtp://, smtps:// …")
        if not parts.hostname:
            raise MailConfigError("TIERLINE_SMTP_URL names no host")
        security, default_port = _SCHEMES[parts.scheme]
        username = unquote(parts.username) if parts.username else None
        if security == "opportunistic" and username and parts.port is None:
            default_port = 587
        try:
            port = parts.port or default_port
        except ValueError as exc:
            raise MailConfigError("TIERLINE_SMTP_URL has a bad port") from exc
        password = unquote(parts.password) if parts.password is not None else None
        return cls(parts.hostname, port, security, username, password)

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class Mailer:
    """Where mail goes and who it is from."""

    server: SmtpServer
    sender: str  # "Tierline <no-reply@example.com>"

    @classmethod
    def from_settings(cls, smtp_url: str | None, mail_from: str) -> Mailer | None:
        """None when e-mail is off (no URL): outbox rows then wait, untouched."""
        if not smtp_url:
            return None
        return cls(SmtpServer.from_url(smtp_url), mail_from)


@dataclass(frozen=True)
class OutgoingMail:
    outbox_id: int
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class SendOutcome:
    outbox_id: int
    error: str | None = None  # None: accepted by the server
    permanent: bool = False  # retrying cannot help (the server refused the address for good)
    unreachable: bool = False  # no session with the server at all

    @property
    def sent(self) -> bool:
        return self.error is None


def build_message(sender: str, mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


def _connect(server: SmtpServer) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.security == "tls":
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    try:
        client.ehlo()
        encrypted = server.security == "tls"
        if server.security != "tls" and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
            encrypted = True
        if server.security == "starttls" and not encrypted:
            raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
        if server.username:
            if not encrypted and not server.is_loopback:
                raise smtplib.SMTPNotSupportedError(
                    "refusing to send SMTP credentials without TLS (use smtp+starttls:// or smtps://)"
                )
            client.login(server.username, server.password or "")
    except BaseException:
        client.close()
        raise
    return client


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _refused_for_good(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 550


def _validate_address(address: str) -> None:
    Address(addr_spec=address)  # ValueError / HeaderParseError on a malformed address


def send_batch(mailer: Mailer, mails: Sequence[OutgoingMail]) -> list[SendOutcome]:
    """Send ``mails`` over one SMTP session (blocking; see ``send_all``)."""
    if not mails:
        return []
    try:
        client = _connect(mailer.server)
    except (OSError, smtplib.SMTPException) as exc:
        error = _describe(exc)
        return [SendOutcome(m.outbox_id, error, unreachable=True) for m in mails]
    outcomes: list[SendOutcome] = []
    try:
        for index, mail in enumerate(mails):
            try:
                _validate_address(mail.to)
                client.send_message(build_message(mailer.sender, mail))
            except smtplib.SMTPServerDisconnected as exc:
                error = _describe(exc)
                outcomes.extend(SendOutcome(m.outbox_id, error) for m in mails[index:])
                return outcomes
            except smtplib.SMTPException as exc:
                outcomes.append(SendOutcome(mail.outbox_id, _describe(exc), _refused_for_good(exc)))
            except (ValueError, TypeError) as exc:  # a message that can never be built
                outcomes.append(SendOutcome(mail.outbox_id, _describe(exc), permanent=True))
            except OSError as exc:
                error = _describe(exc)
                outcomes.extend(SendOutcome(m.outbox_id, error) for m in mails[index:])
                return outcomes
            else:
                outcomes.append(SendOutcome(mail.outbox_id))
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return outcomes


async def send_all(mailer: Mailer, mails: Sequence[OutgoingMail]) -> list[SendOutcome]:
    """``send_batch`` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(send_batch, mailer, list(mails))
