"""Signing in with a real OpenID provider: every kind of client, new and existing users."""

from __future__ import annotations

from hearth.testing import TestNode, get_flash, redirected_to

from ._provider import Browser


async def test_a_confidential_client_signs_a_new_user_in(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        back = await browser.sign_in("basic", "ann")
        home = await browser.conn.get(redirected_to(back))

    assert redirected_to(back, 303) == "/"
    assert get_flash(back, "info") == "Signed in with Local ID. Welcome, Ann Example!"
    assert home.user == "Ann Example"
