"""The Mailer: the one process that sends mail, through an adapter.

``await Mailer.deliver(to, subject, body)`` hands one mail to the adapter and returns once it
has taken it. Adapters are the :class:`MailAdapter` behaviour, chosen by ``[mail] adapter``
(:func:`adapter_for`):

- ``"outbox"``, the default, :class:`OutboxAdapter`: writes the mail to the ``outbox`` table
  through the Repo; nothing leaves the machine, and an operator (or a later sender) reads it
  there;
- ``"smtp"``, :class:`SmtpAdapter`: sends it to the configured SMTP server (aiosmtplib), with
  STARTTLS or TLS and a login when configured, and returns once the server accepted it;
- ``"package.module:attribute"``: any other implementation (a test names its mock).

Each delivery logs one line with the recipient and the subject. Never the body: it carries
secrets such as password reset links. For the same reason a :class:`Mail`'s repr leaves the
body out, and the outbox insert reaches the Repo inside a function rather than as
parameters: crash reports and ``process_info`` show a process's last message.

A failing adapter crashes the Mailer (its supervisor restarts it), and the caller of
``deliver`` gets :class:`otp.ProcessExited`: a mail that was not stored is not quietly lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, NamedTuple, Protocol

import aiosmtplib

from hearth.behaviours import implementation
from hearth.config import MailConfig
from otp import From, GenServer, Ok, Reply, call
from store import NAME as REPO
from store import Connection, Repo

__all__ = ["NAME", "Mail", "MailAdapter", "Mailer", "OutboxAdapter", "SmtpAdapter", "adapter_for"]

NAME = "hearth.mailer"
"""The name the Mailer is registered under in the tree."""

DELIVER_TIMEOUT = 30.0
"""Seconds a caller of :meth:`Mailer.deliver` waits: an SMTP delivery takes several round
trips, each allowed ``mail.smtp_timeout`` (at most 10 s)."""

log = logging.getLogger(__name__)


class Mail(NamedTuple):
    """One message: a recipient address, a subject line and a plain-text body."""

    to: str
    subject: str
    body: str

    def __repr__(self) -> str:
        return f"Mail(to={self.to!r}, subject={self.subject!r}, body=<{len(self.body)} chars>)"


class MailAdapter(Protocol):
    """Where mail goes. ``deliver`` returns once the mail is safely handed over and raises if
    it could not be."""

    async def deliver(self, mail: Mail) -> None: ...


class OutboxAdapter:
    """Stores each mail as a row of the ``outbox`` table (``sent_at`` stays empty)."""

    def __init__(self, repo: Any = REPO, clock: Callable[[], float] = time.time) -> None:
        self.repo = repo
        self.clock = clock

    async def deliver(self, mail: Mail) -> None:
        now = self.clock()

        async def insert(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO outbox (recipient, subject, body, created_at) VALUES (?, ?, ?, ?)",
                (mail.to, mail.subject, mail.body, now),
            )

        await Repo.transaction(insert, repo=self.repo)


class SmtpAdapter:
    """Sends each mail to an SMTP server; ``deliver`` returns once the server accepted it
    and raises ``aiosmtplib.SMTPException`` (or ``OSError``) when it did not."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config

    def message(self, mail: Mail) -> EmailMessage:
        """The message sent for ``mail``: plain text, UTF-8."""
        message = EmailMessage()
        message["From"] = self.config.from_address
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.config.from_address.rpartition("@")[2]
                                           .rstrip(">") or None)
        message.set_content(mail.body)
        return message

    async def deliver(self, mail: Mail) -> None:
        config = self.config
        await aiosmtplib.send(
            self.message(mail),
            hostname=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username or None,
            password=config.smtp_password or None,
            use_tls=config.smtp_security == "tls",
            start_tls=config.smtp_security == "starttls",
            timeout=config.smtp_timeout,
        )

    def __repr__(self) -> str:  # never the password
        return f"SmtpAdapter({self.config.smtp_host}:{self.config.smtp_port})"


def adapter_for(config: MailConfig) -> MailAdapter:
    """The adapter ``[mail] adapter`` chooses; raises ``hearth.config.ConfigError``."""
    if config.adapter == "outbox":
        return OutboxAdapter()
    if config.adapter == "smtp":
        return SmtpAdapter(config)
    adapter: MailAdapter = implementation(config.adapter, "mail.adapter", MailAdapter, config)
    return adapter


class Mailer(GenServer):
    """Start under a supervisor with ``Mailer.child_spec(name=NAME)`` (the outbox) or
    ``Mailer.child_spec(adapter, name=NAME)``."""

    def init(self, adapter: MailAdapter | None = None) -> Any:
        return Ok(adapter if adapter is not None else OutboxAdapter())

    async def handle_call(self, request: Any, from_: From, state: MailAdapter) -> Any:
        if type(request) is Mail:
            await state.deliver(request)
            log.info("mail to %s: %r", request.to, request.subject)
            return Reply(None, state)
        return super().handle_call(request, from_, state)

    @staticmethod
    async def deliver(to: str, subject: str, body: str, mailer: Any = NAME) -> None:
        """Send one mail; returns once the adapter has it."""
        await call(mailer, Mail(to, subject, body), timeout=DELIVER_TIMEOUT)
