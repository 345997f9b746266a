"""Social login once in a real browser: Debian's Chromium, driven by Playwright, through the
real provider's own sign-in and consent pages (``conftest.py``), then linking a second site
on the account page. Every wait is on the page (Playwright's ``expect``), never a sleep; the
screenshots of the login and account pages go to the run's ``oauth`` folder (``pytest -s``
prints it).

The browser is ``tests/browser``'s (its ``chromium`` fixture: skipped only when no Chromium
is installed; ``.ci/run`` installs it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from actors.repo import Repo
from hearth.testing import TestNode
from tests.browser import test_room_page
from tests.browser.test_room_page import WAIT_MS

chromium = test_room_page.chromium
"""The browser fixture, shared with the room's page tests."""


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "oauth"
    folder.mkdir(exist_ok=True)
    print(f"\nscreenshots of social login: {folder}")
    return folder


async def through_the_provider(page: Page, login: str) -> None:
    """The provider's pages, as a person fills them: sign in (when asked), then consent."""
    submit = page.locator("button.login-submit")
    await expect(submit).to_be_visible(timeout=WAIT_MS)
    if await page.locator('input[name="login"]').count():
        await page.fill('input[name="login"]', login)
        await page.fill('input[name="password"]', "any password")
        await submit.click()
        await expect(page.locator('input[name="login"]')).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator('input[name="prompt"][value="consent"]')).to_have_count(
        1, timeout=WAIT_MS)
    await page.locator("button.login-submit").click()


async def test_signing_in_and_linking_a_second_site_in_a_browser(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    context = await chromium.new_context(base_url=hearth_node.url)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    try:
        await page.goto("/login?next=/rooms")
        buttons = page.locator(".social-login button.provider")
        await expect(buttons).to_have_count(5)
        await page.screenshot(path=screenshots / "login.png", full_page=True)

        await page.click('button[data-provider="basic"]')
        await through_the_provider(page, "ann")

        await expect(page).to_have_url(f"{hearth_node.url}/rooms", timeout=WAIT_MS)
        await expect(page.locator(".current-user")).to_have_text("Ann Example")
        await expect(page.locator(".flash-info")).to_have_text(
            "Signed in with Local ID. Welcome, Ann Example!")

        await page.goto("/account")
        await page.click('li[data-provider="github"] button.provider')
        await through_the_provider(page, "ann")  # still signed in there: consent only

        await expect(page).to_have_url(f"{hearth_node.url}/account", timeout=WAIT_MS)
        await expect(page.locator(".flash-info")).to_have_text(
            "Your GitHub account is linked: you can sign in with it.")
        await expect(page.locator('li[data-provider="basic"] .linked')).to_have_text(
            "linked as ann@example.com")
        await expect(page.locator('li[data-provider="github"] .linked')).to_have_text(
            "linked as ann@example.com")
        await expect(page.locator('li[data-provider="public"] button.provider')).to_have_text(
            "Link Local ID (public)")
        await page.screenshot(path=screenshots / "account.png", full_page=True)
    finally:
        await context.close()

    rows = await Repo.fetch_all("SELECT provider FROM identities ORDER BY id")
    assert [r["provider"] for r in rows] == ["basic", "github"]
