"""The Mailer: each mail lands in the outbox (or the adapter given), logged without its body."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import otp
from actors.mailer import Mail, Mailer

from ._tree import rows, store_tree

BODY = "Open https://hearth.example/reset/SECRET-TOKEN to choose a new password."


async def test_deliver_writes_the_outbox_and_logs_one_line_without_the_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        with caplog.at_level(logging.INFO, logger="actors.mailer"):
            await Mailer.deliver("ann@example.com", "Reset your password", BODY)

        outbox = await rows("SELECT recipient, subject, body, sent_at FROM outbox")

    assert outbox == [
        {
            "recipient": "ann@example.com",
            "subject": "Reset your password",
            "body": BODY,
            "sent_at": None,
        }
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "actors.mailer"]
    assert len(lines) == 1
    assert "ann@example.com" in lines[0] and "Reset your password" in lines[0]
    assert "SECRET-TOKEN" not in caplog.text


async def test_a_mail_shows_no_body_where_the_runtime_reports_last_messages(
    tmp_path: Path,
) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        await Mailer.deliver("ann@example.com", "Reset your password", BODY)

        mailer = otp.process_info("hearth.mailer")
        repo = otp.process_info("hearth.repo")

    assert mailer is not None and repo is not None
    assert "SECRET-TOKEN" not in repr(Mail("ann@example.com", "Reset", BODY))
    assert "SECRET-TOKEN" not in str(mailer["last_message"])
    assert "SECRET-TOKEN" not in str(repo["last_message"])


class Collect:
    """An adapter that keeps what it is given, as an SMTP adapter would send it."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def deliver(self, mail: Mail) -> None:
        self.sent.append(mail)


async def test_another_adapter_takes_the_mail_instead_of_the_outbox(tmp_path: Path) -> None:
    adapter = Collect()
    async with store_tree(tmp_path / "hearth.db", adapter=adapter):
        await Mailer.deliver("bob@example.com", "Hello", "Hi Bob")

        outbox = await rows("SELECT * FROM outbox")

    assert adapter.sent == [Mail("bob@example.com", "Hello", "Hi Bob")]
    assert outbox == []
