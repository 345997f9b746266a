"""A real SMTP server (aiosmtpd) on a free port of this machine, in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """What the server accepted, in order, and a way to wait for the next one."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append(envelope)
        self.arrived.set()
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    received: Received


@asynccontextmanager
async def smtp_server(login: tuple[str, str] | None = None) -> AsyncIterator[SmtpServer]:
    """An SMTP server for the block; with ``login``, it asks every client to log in with
    that user and password (over plain text: this machine only)."""
    received = Received()

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and login is not None
              and (data.login.decode(), data.password.decode()) == login)
        if ok:
            received.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    def protocol() -> SMTP:
        # Login over plain text is what the test wants (aiosmtpd warns of it, rightly).
        return SMTP(received, hostname="mail.test", auth_required=login is not None,
                    auth_require_tls=False, authenticator=authenticate if login else None)

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        yield SmtpServer(host, port, received)
    finally:
        server.close()
        await server.wait_closed()
