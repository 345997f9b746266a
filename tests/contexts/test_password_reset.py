"""Password resets: the same answer for every email, a single-use token kept only as a hash,
an expiry, and a reset that signs the user out everywhere."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from contexts.accounts import Accounts, InvalidToken, ValidationError
from hearth.config import AuthConfig
from store import Repo, schema

from ..actors._tree import rows, store_tree
from ._clock import Clock

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple grasshopper"
LINK = "https://hearth.example/reset/"
TTL = 600.0


def accounts(clock: Clock) -> Accounts:
    return Accounts(AuthConfig(bcrypt_cost=4, reset_token_ttl=TTL), clock=clock)


async def mailed_tokens() -> list[str]:
    """The tokens in the reset links of the outbox, oldest first."""
    bodies = await rows("SELECT body FROM outbox ORDER BY id")
    return [re.findall(re.escape(LINK) + r"(\S+)", row["body"])[0] for row in bodies]


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        await accounts(clock).register("ann@example.com", PASSWORD, "Ann")

        # Both return None and raise nothing: the caller cannot tell them apart.
        await accounts(clock).request_password_reset("ANN@example.com", LINK)
        await accounts(clock).request_password_reset("bob@example.com", LINK)

        outbox = await rows("SELECT recipient, subject FROM outbox")
        resets = await rows("SELECT user_id, created_at, expires_at FROM password_resets")

    assert outbox == [{"recipient": "ann@example.com", "subject": "Reset your Hearth password"}]
    assert resets == [{"user_id": 1, "created_at": clock.now, "expires_at": clock.now + TTL}]


async def test_the_token_is_kept_only_as_its_sha256(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        [token] = await mailed_tokens()

        tables = [*await Repo.transaction(schema.tables), "schema_migrations"]
        # The outbox holds the mail itself, link included, until it is sent.
        stored = [
            str(row)
            for table in tables
            if table != "outbox"
            for row in await rows(f"SELECT * FROM {table}")
        ]
        [reset] = await rows("SELECT token_hash FROM password_resets")

    assert len(token) == 43  # 32 random bytes, base64url without padding
    assert not any(token in row for row in stored)
    assert reset["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


async def test_a_token_sets_a_new_password_once(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        ann = await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        [token] = await mailed_tokens()
        clock.advance(5)

        user = await accounts(clock).reset_password(token, NEW_PASSWORD)
        with pytest.raises(InvalidToken):
            await accounts(clock).reset_password(token, "a third password")

        assert await accounts(clock).authenticate("ann@example.com", PASSWORD) is None
        assert await accounts(clock).authenticate("ann@example.com", NEW_PASSWORD) == user
        [reset] = await rows("SELECT used_at FROM password_resets")

    assert (user.id, user.updated_at) == (ann.id, clock.now)
    assert reset["used_at"] == clock.now


async def test_a_token_expires_after_the_configured_ttl(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        clock.advance(TTL - 1)
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        old, fresh = await mailed_tokens()
        clock.advance(1)

        with pytest.raises(InvalidToken):
            await accounts(clock).reset_password(old, NEW_PASSWORD)
        await accounts(clock).reset_password(fresh, NEW_PASSWORD)

        assert await accounts(clock).authenticate("ann@example.com", NEW_PASSWORD) is not None


async def test_using_one_token_voids_the_others(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        first, second = await mailed_tokens()

        await accounts(clock).reset_password(second, NEW_PASSWORD)
        with pytest.raises(InvalidToken):
            await accounts(clock).reset_password(first, "a third password")


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 10_000])
async def test_an_unknown_token_is_invalid(tmp_path: Path, token: str) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        with pytest.raises(InvalidToken):
            await accounts(Clock()).reset_password(token, NEW_PASSWORD)


async def test_a_too_short_new_password_keeps_the_token_usable(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        [token] = await mailed_tokens()

        with pytest.raises(ValidationError) as caught:
            await accounts(clock).reset_password(token, "short")
        await accounts(clock).reset_password(token, NEW_PASSWORD)

    assert caught.value.errors == {"password": ["should be at least 12 characters"]}


async def test_a_reset_ends_the_users_sessions_and_revokes_their_api_tokens(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        ann = await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        bob = await accounts(clock).register("bob@example.com", PASSWORD, "Bob")
        for user, name in ((ann, "ann"), (bob, "bob")):
            await Repo.execute(
                "INSERT INTO sessions (id_hash, user_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (f"session-{name}", user.id, clock.now, clock.now + 3600),
            )
            await Repo.execute(
                "INSERT INTO token_families (id, user_id, created_at) VALUES (?, ?, ?)",
                (f"family-{name}", user.id, clock.now),
            )
        await accounts(clock).request_password_reset("ann@example.com", LINK)
        [token] = await mailed_tokens()
        clock.advance(5)

        await accounts(clock).reset_password(token, NEW_PASSWORD)

        sessions = await rows("SELECT id_hash FROM sessions")
        families = await rows("SELECT id, revoked_at FROM token_families ORDER BY id")

    assert sessions == [{"id_hash": "session-bob"}]
    assert families == [
        {"id": "family-ann", "revoked_at": clock.now},
        {"id": "family-bob", "revoked_at": None},
    ]
