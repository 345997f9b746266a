"""Mail over SMTP ([mail] adapter = "smtp"), to a real SMTP server started by the test."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

import otp
from actors.mailer import Mailer
from hearth.testing import Conn, insert, redirected_to

from ._smtp import SmtpServer, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PUBLIC = "https://chat.example.com"
SECRET_PASSWORD = "smtp-password-never-logged"


@pytest.fixture
async def smtp(request: pytest.FixtureRequest) -> AsyncIterator[SmtpServer]:
    login = getattr(request, "param", None)
    async with smtp_server(login) as server:
        yield server


@pytest.fixture
def hearth_overrides(smtp: SmtpServer, request: pytest.FixtureRequest) -> dict[str, Any]:
    settings = {
        "mail.adapter": "smtp",
        "mail.smtp_host": smtp.host,
        "mail.smtp_port": smtp.port,
        "mail.smtp_security": "none",
        "mail.from_address": "Hearth <noreply@chat.example.com>",
        "server.public_url": PUBLIC,
    }
    marker = request.node.get_closest_marker("smtp_settings")
    if marker is not None:
        settings.update(marker.args[0])
    return settings


async def test_the_reset_mail_arrives_with_a_link_on_the_public_url(
    conn: Conn, smtp: SmtpServer
) -> None:
    user = await insert("user")

    sent = await conn.post("/password/forgot", {"email": user.email})

    assert redirected_to(sent) == "/login"
    [message] = smtp.received.messages
    assert message["To"] == user.email
    assert message["From"] == "Hearth <noreply@chat.example.com>"
    assert message["Subject"] == "Reset your Hearth password"
    assert smtp.received.envelopes[0].rcpt_tos == [user.email]
    body = message.get_content()
    [link] = re.findall(r"https?://\S+", body)
    assert link.startswith(f"{PUBLIC}/password/reset/")
    # The link works: it opens the reset form on the node.
    form = await conn.get(link.removeprefix(PUBLIC))
    assert form.status == 200 and 'name="password"' in form.text


async def test_no_mail_leaves_for_an_unknown_address(conn: Conn, smtp: SmtpServer) -> None:
    await insert("user")

    sent = await conn.post("/password/forgot", {"email": "nobody@example.com"})

    assert redirected_to(sent) == "/login"
    assert smtp.received.messages == []


@pytest.mark.parametrize("smtp", [("hearth", SECRET_PASSWORD)], indirect=True)
@pytest.mark.smtp_settings({"mail.smtp_username": "hearth",
                            "mail.smtp_password": SECRET_PASSWORD})
async def test_it_logs_in_when_the_server_asks(conn: Conn, smtp: SmtpServer) -> None:
    await Mailer.deliver("ann@example.com", "Hello", "Hi Ann")

    assert smtp.received.logins == ["hearth"]
    assert [m["Subject"] for m in smtp.received.messages] == ["Hello"]


@pytest.mark.parametrize("smtp", [("hearth", "the real password")], indirect=True)
@pytest.mark.smtp_settings({"mail.smtp_username": "hearth",
                            "mail.smtp_password": SECRET_PASSWORD})
async def test_a_refused_login_fails_the_delivery_and_never_logs_the_password(
    conn: Conn, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(otp.ProcessExited):
        await Mailer.deliver("ann@example.com", "Hello", "Hi Ann")

    assert smtp.received.messages == []
    assert "535" in caplog.text  # the crash report says why
    assert SECRET_PASSWORD not in caplog.text


@pytest.mark.smtp_settings({"mail.smtp_security": "starttls"})
async def test_starttls_required_means_no_mail_in_plain_text(
    conn: Conn, smtp: SmtpServer
) -> None:
    with pytest.raises(otp.ProcessExited):
        await Mailer.deliver("ann@example.com", "Hello", "Hi Ann")

    assert smtp.received.messages == []
