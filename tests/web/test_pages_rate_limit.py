"""Failed logins are limited per account and per address; over a limit, even the right
password is refused with a 429 until the window ends."""

from __future__ import annotations

import pytest

from hearth.testing import PASSWORD, Conn, Response, insert

WRONG = "not the password at all"
TOO_MANY = ("error", "Too many attempts, try again in 5 minutes.")


async def log_in_by_form(conn: Conn, email: str, password: str) -> Response:
    """Open the login page and submit it, as a person does; the page after."""
    await conn.get("/login")
    return await conn.post("/login", {"email": email, "password": password}, follow=True)


@pytest.mark.hearth_config({"auth.login_limit_per_account": 3,
                            "auth.login_limit_per_address": 100,
                            "auth.login_limit_window": 300.0})
async def test_an_account_is_locked_after_its_failed_logins(conn: Conn) -> None:
    await insert("user", email="alice@example.com", display_name="alice")
    await insert("user", email="bob@example.com", display_name="bob")
    for _ in range(3):
        assert (await log_in_by_form(conn, "alice@example.com", WRONG)).status == 422

    refused = await log_in_by_form(conn, "alice@example.com", PASSWORD)

    assert refused.status == 429
    assert refused.flashes == [TOO_MANY]
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    assert refused.user is None
    # the limit is the account's: the same address may still sign someone else in
    assert (await log_in_by_form(conn, "bob@example.com", PASSWORD)).user == "bob"


@pytest.mark.hearth_config({"auth.login_limit_per_account": 2,
                            "auth.login_limit_per_address": 100})
async def test_the_account_limit_ignores_case_and_spaces(conn: Conn) -> None:
    await log_in_by_form(conn, "Alice@Example.com", WRONG)
    await log_in_by_form(conn, " alice@example.com ", WRONG)

    refused = await log_in_by_form(conn, "ALICE@EXAMPLE.COM", WRONG)

    assert refused.status == 429


@pytest.mark.hearth_config({"auth.login_limit_per_account": 3,
                            "auth.login_limit_per_address": 100})
async def test_a_successful_login_clears_the_accounts_failures(conn: Conn) -> None:
    await insert("user", email="alice@example.com", display_name="alice")
    for _ in range(2):
        await log_in_by_form(conn, "alice@example.com", WRONG)
    assert (await log_in_by_form(conn, "alice@example.com", PASSWORD)).user == "alice"
    await conn.post("/logout", follow=True)

    for _ in range(2):
        assert (await log_in_by_form(conn, "alice@example.com", WRONG)).status == 422
    assert (await log_in_by_form(conn, "alice@example.com", PASSWORD)).user == "alice"


@pytest.mark.hearth_config({"auth.login_limit_per_account": 100,
                            "auth.login_limit_per_address": 3})
async def test_an_address_is_locked_after_failed_logins_on_any_accounts(conn: Conn) -> None:
    await insert("user", email="dave@example.com", display_name="dave")
    for name in ("alice", "bob", "carol"):
        assert (await log_in_by_form(conn, f"{name}@example.com", WRONG)).status == 422

    refused = await log_in_by_form(conn, "dave@example.com", PASSWORD)

    assert refused.status == 429
    assert refused.flashes == [TOO_MANY]
    assert refused.user is None
