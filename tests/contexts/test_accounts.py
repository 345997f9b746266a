"""Accounts: registration rules, case-insensitive emails, passwords checked on the dirty pool,
roles."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from contexts.accounts import Accounts, User, ValidationError
from hearth.config import AuthConfig

from ..actors._tree import rows, store_tree
from ._clock import Clock

PASSWORD = "correct horse battery"


def accounts(clock: Callable[[], float] | None = None) -> Accounts:
    """Accounts at bcrypt cost 4: the tests are about the rules, not the work factor."""
    return Accounts(AuthConfig(bcrypt_cost=4), clock=clock or Clock())


async def test_register_returns_the_user_and_stores_only_a_bcrypt_hash(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        ann = await accounts(clock).register(" Ann@Example.com ", PASSWORD, " Ann ", "admin")

        stored = await rows("SELECT email, email_norm, password_hash FROM users")
        by_id = await accounts().get_user(ann.id)
        by_email = await accounts().get_user_by_email("ANN@example.COM")

    assert ann == User(ann.id, "Ann@Example.com", "admin", "Ann", clock.now, clock.now)
    assert by_id == by_email == ann
    assert not hasattr(ann, "password_hash")
    assert "password" not in str(ann.to_json())
    [row] = stored
    assert (row["email"], row["email_norm"]) == ("Ann@Example.com", "ann@example.com")
    assert row["password_hash"].startswith("$2b$04$")
    assert PASSWORD not in row["password_hash"]


async def test_register_reports_every_bad_field_at_once(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        with pytest.raises(ValidationError) as caught:
            await accounts().register("ann at example", "too short", "   ", role="owner")

        users = await rows("SELECT * FROM users")

    assert caught.value.errors == {
        "email": ["has invalid format"],
        "password": ["should be at least 12 characters"],
        "display_name": ["can't be blank"],
        "role": ["should be one of user, moderator, admin"],
    }
    assert users == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "", "can't be blank"),
        ("email", "ann@localhost", "has invalid format"),
        ("email", "ann @example.com", "has invalid format"),
        ("email", "a@b@example.com", "has invalid format"),
        ("email", "a" * 250 + "@example.com", "should be at most 254 characters"),
        ("password", "x" * 11, "should be at least 12 characters"),
        ("password", "x" * 129, "should be at most 128 characters"),
        ("display_name", "n" * 81, "should be at most 80 characters"),
        ("display_name", "Ann\x00", "can't contain control characters"),
    ],
)
async def test_each_rule_names_its_field(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    fields = {"email": "ann@example.com", "password": PASSWORD, "display_name": "Ann"}
    fields[field] = value
    async with store_tree(tmp_path / "hearth.db"):
        with pytest.raises(ValidationError) as caught:
            await accounts().register(**fields)

    assert caught.value.errors == {field: [message]}


async def test_passwords_of_12_and_128_characters_are_accepted(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        short = await accounts().register("short@example.com", "x" * 12, "Short")
        long = await accounts().register("long@example.com", "é" * 128, "Long")

        assert await accounts().authenticate("short@example.com", "x" * 12) == short
        assert await accounts().authenticate("long@example.com", "é" * 128) == long


async def test_every_character_of_a_long_password_counts(tmp_path: Path) -> None:
    # bcrypt alone reads 72 bytes; these two differ only after the 100th character.
    password = "p" * 100 + "one"
    async with store_tree(tmp_path / "hearth.db"):
        await accounts().register("ann@example.com", password, "Ann")

        assert await accounts().authenticate("ann@example.com", "p" * 100 + "two") is None
        assert await accounts().authenticate("ann@example.com", password) is not None


async def test_an_email_is_taken_whatever_its_case(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        await accounts().register("Ann@Example.com", PASSWORD, "Ann")

        with pytest.raises(ValidationError) as caught:
            await accounts().register("ann@EXAMPLE.com", "another password", "Other Ann")

    assert caught.value.errors == {"email": ["has already been taken"]}


async def test_two_registrations_of_one_email_at_once_make_one_user(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db", pool_size=2):
        results = await asyncio.gather(
            accounts().register("ann@example.com", PASSWORD, "Ann"),
            accounts().register("ANN@example.com", PASSWORD, "Ann"),
            return_exceptions=True,
        )

        users = await accounts().list_users()

    assert len(users) == 1
    [error] = [r for r in results if isinstance(r, ValidationError)]
    assert error.errors == {"email": ["has already been taken"]}


async def test_authenticate_knows_the_right_password_only(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await accounts().register("ann@example.com", PASSWORD, "Ann")

        assert await accounts().authenticate("ann@example.com", PASSWORD) == ann
        assert await accounts().authenticate(" ANN@example.com", PASSWORD) == ann
        assert await accounts().authenticate("ann@example.com", PASSWORD + "!") is None
        assert await accounts().authenticate("ann@example.com", "") is None
        assert await accounts().authenticate("bob@example.com", PASSWORD) is None


async def test_bcrypt_runs_on_the_dirty_pool_at_the_configured_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, bool]] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(password: bytes, salt_or_hash: bytes) -> Any:
            try:
                asyncio.get_running_loop()
                on_a_loop = True
            except RuntimeError:
                on_a_loop = False
            seen.append((name, threading.current_thread().name, on_a_loop))
            if name == "checkpw":
                assert salt_or_hash.startswith(b"$2b$04$")  # the dummy hash too
            return real(password, salt_or_hash)

        return run

    monkeypatch.setattr(bcrypt, "hashpw", spy("hashpw", bcrypt.hashpw))
    monkeypatch.setattr(bcrypt, "checkpw", spy("checkpw", bcrypt.checkpw))
    async with store_tree(tmp_path / "hearth.db"):
        await accounts().register("ann@example.com", PASSWORD, "Ann")
        await accounts().authenticate("ann@example.com", PASSWORD)
        await accounts().authenticate("bob@example.com", PASSWORD)

    assert [name for name, _, _ in seen] == ["hashpw", "checkpw", "checkpw"]
    for _, thread, on_a_loop in seen:
        assert thread.startswith("DirtyWorker-")
        assert not on_a_loop


async def test_set_role_changes_the_role_and_refuses_unknown_ones(tmp_path: Path) -> None:
    clock = Clock()
    async with store_tree(tmp_path / "hearth.db"):
        ann = await accounts(clock).register("ann@example.com", PASSWORD, "Ann")
        bob = await accounts(clock).register("bob@example.com", PASSWORD, "Bob")
        clock.advance(60)

        promoted = await accounts(clock).set_role("ANN@example.com", "moderator")
        with pytest.raises(ValidationError) as bad_role:
            await accounts(clock).set_role("bob@example.com", "owner")
        with pytest.raises(ValidationError) as nobody:
            await accounts(clock).set_role("carol@example.com", "admin")

        users = await accounts().list_users()

    assert (promoted.role, promoted.updated_at, promoted.created_at) == (
        "moderator",
        clock.now,
        ann.created_at,
    )
    assert bad_role.value.errors == {"role": ["should be one of user, moderator, admin"]}
    assert nobody.value.errors == {"email": ["does not belong to any user"]}
    assert users == [promoted, bob]


async def test_signing_up_a_taken_email_mails_its_owner_a_few_times_at_most(
    tmp_path: Path,
) -> None:
    auth = AuthConfig(bcrypt_cost=4, login_limit_per_account=3)
    async with store_tree(tmp_path / "hearth.db"):
        await Accounts(auth).sign_up("ann@example.com", PASSWORD, "Ann", "https://hearth.test")
        for i in range(5):  # each answered as a new address would be: without an error
            await Accounts(auth).sign_up("ANN@example.com", f"guess number {i}", "Mallory",
                                         "https://hearth.test")
        users = await rows("SELECT email, display_name FROM users")
        mail = await rows("SELECT recipient, subject FROM outbox ORDER BY id")

    assert users == [{"email": "ann@example.com", "display_name": "Ann"}]
    # The welcome, then two of the five attempts: auth.login_limit_per_account in all.
    assert mail == [{"recipient": "ann@example.com", "subject": "Welcome to Hearth"}] + [
        {"recipient": "ann@example.com", "subject": "Your Hearth account"}] * 2


async def test_signing_up_never_says_an_email_is_taken(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        await accounts().sign_up("ann@example.com", PASSWORD, "Ann", "https://hearth.test")
        with pytest.raises(ValidationError) as caught:
            await accounts().sign_up("ann@example.com", "short", "", "https://hearth.test")

    assert caught.value.errors == {"password": ["should be at least 12 characters"],
                                   "display_name": ["can't be blank"]}
