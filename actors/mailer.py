"""The Mailer: the one process that sends mail, through an adapter.

``await Mailer.deliver(to, subject, body)`` hands one mail to the adapter and returns once it
has taken it. The default adapter, :class:`OutboxAdapter`, writes the mail to the ``outbox``
table through the Repo: nothing leaves the machine, and an operator (or a later sender) reads
it there. Another transport, SMTP say, is a class with the same ``deliver`` coroutine
(:class:`MailAdapter`), passed to ``Mailer.child_spec(adapter, ...)``.

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
from typing import Any, NamedTuple, Protocol

import aiosqlite

from otp import From, GenServer, Ok, Reply, call

from .repo import NAME as REPO
from .repo import Repo

__all__ = ["NAME", "Mail", "MailAdapter", "Mailer", "OutboxAdapter"]

NAME = "hearth.mailer"
"""The name the Mailer is registered under in the tree."""

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

        async def insert(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO outbox (recipient, subject, body, created_at) VALUES (?, ?, ?, ?)",
                (mail.to, mail.subject, mail.body, now),
            )

        await Repo.transaction(insert, repo=self.repo)


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
        await call(mailer, Mail(to, subject, body))
