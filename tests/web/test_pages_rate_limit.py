"""Failed logins are limited per account and per address; over a limit, even the right
password is refused with a 429 until the window ends."""

from __future__ import annotations

from pathlib import Path

from ._browser import PASSWORD, Browser, running_node, user_with_role

WRONG = "not the password at all"
TOO_MANY = ("error", "Too many attempts, try again in 5 minutes.")


async def test_an_account_is_locked_after_its_failed_logins(tmp_path: Path) -> None:
    limits = {"auth.login_limit_per_account": 3, "auth.login_limit_per_address": 100,
              "auth.login_limit_window": 300.0}
    async with running_node(tmp_path, **limits) as node:
        await user_with_role(node, "alice@example.com", "user")
        await user_with_role(node, "bob@example.com", "user")
        async with Browser(node) as browser:
            for _ in range(3):
                assert (await browser.log_in("alice@example.com", WRONG)).status == 422

            refused = await browser.log_in("alice@example.com", PASSWORD)

            assert refused.status == 429
            assert refused.flashes == [TOO_MANY]
            assert 0 < int(refused.headers["Retry-After"]) <= 300
            assert refused.user is None
            # the limit is the account's: the same address may still sign someone else in
            assert (await browser.log_in("bob@example.com", PASSWORD)).user == "bob"


async def test_the_account_limit_ignores_case_and_spaces(tmp_path: Path) -> None:
    limits = {"auth.login_limit_per_account": 2, "auth.login_limit_per_address": 100}
    async with running_node(tmp_path, **limits) as node, Browser(node) as browser:
        await browser.log_in("Alice@Example.com", WRONG)
        await browser.log_in(" alice@example.com ", WRONG)

        refused = await browser.log_in("ALICE@EXAMPLE.COM", WRONG)

        assert refused.status == 429


async def test_a_successful_login_clears_the_accounts_failures(tmp_path: Path) -> None:
    limits = {"auth.login_limit_per_account": 3, "auth.login_limit_per_address": 100}
    async with running_node(tmp_path, **limits) as node:
        await user_with_role(node, "alice@example.com", "user")
        async with Browser(node) as browser:
            for _ in range(2):
                await browser.log_in("alice@example.com", WRONG)
            assert (await browser.log_in("alice@example.com", PASSWORD)).user == "alice"
            await browser.log_out()

            for _ in range(2):
                assert (await browser.log_in("alice@example.com", WRONG)).status == 422
            assert (await browser.log_in("alice@example.com", PASSWORD)).user == "alice"


async def test_an_address_is_locked_after_failed_logins_on_any_accounts(tmp_path: Path) -> None:
    limits = {"auth.login_limit_per_account": 100, "auth.login_limit_per_address": 3}
    async with running_node(tmp_path, **limits) as node:
        await user_with_role(node, "dave@example.com", "user")
        async with Browser(node) as browser:
            for name in ("alice", "bob", "carol"):
                assert (await browser.log_in(f"{name}@example.com", WRONG)).status == 422

            refused = await browser.log_in("dave@example.com", PASSWORD)

            assert refused.status == 429
            assert refused.flashes == [TOO_MANY]
            assert refused.user is None
