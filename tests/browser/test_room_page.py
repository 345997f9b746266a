"""A room's page in a real browser: Debian's Chromium, driven by Playwright, running the stock
phoenix.js client against a running node. Two people in two browser contexts (two cookie
jars) open the same room; what one types, the other sees.

Every wait is on the page's DOM (Playwright's ``expect`` polls until its timeout), never a
sleep. The test is skipped only when no Chromium can be found: ``.ci/run`` installs it
(``apt-get install chromium``), so CI always runs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from actors.repo import Repo
from hearth.testing import PASSWORD, TestNode, insert

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000


def find_chromium() -> str | None:
    """Debian's Chromium, where ``apt-get install chromium`` puts it."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium not found (/usr/bin/chromium): `apt-get install -y chromium`, "
                    "as .ci/run does")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Browser, node: TestNode, email: str) -> tuple[BrowserContext, Page]:
    """A new browser context (its own cookies) logged in as ``email``, on the lobby's page
    with the room joined."""
    context = await browser.new_context(base_url=node.url)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto("/login?next=/rooms/lobby")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click('form[action="/login"] button[type="submit"]')
    await expect(page).to_have_url(f"{node.url}/rooms/lobby", timeout=WAIT_MS)
    await expect(page.locator("#room")).to_have_attribute("data-state", "joined",
                                                          timeout=WAIT_MS)
    return context, page


async def test_a_message_typed_in_one_browser_appears_in_the_other(
    chromium: Browser, hearth_node: TestNode
) -> None:
    await insert("user", email="ann@example.com", display_name="Ann")
    await insert("user", email="bob@example.com", display_name="Bob")
    ann_context, ann = await signed_in(chromium, hearth_node, "ann@example.com")
    bob_context, bob = await signed_in(chromium, hearth_node, "bob@example.com")
    try:
        await ann.locator("#message-body").press_sequentially("Hello from Ann")

        # Bob sees Ann typing; Ann does not see herself.
        await expect(bob.locator("#typing")).to_be_visible(timeout=WAIT_MS)
        await expect(bob.locator("#typing")).to_have_text("Ann is typing…")
        await expect(ann.locator("#typing")).to_be_hidden()

        await ann.locator("#message-body").press("Enter")

        for page in (bob, ann):
            last = page.locator("#messages li.message").last
            await expect(last.locator(".body")).to_have_text("Hello from Ann",
                                                             timeout=WAIT_MS)
            await expect(last.locator(".author")).to_have_text("Ann")
        await expect(ann.locator("#message-body")).to_have_value("")
        await expect(bob.locator("#typing")).to_be_hidden()
        stored = await Repo.fetch_all("SELECT body FROM messages")
        assert [row["body"] for row in stored] == ["Hello from Ann"]
        shown_id = await bob.locator("#messages li.message").last.get_attribute("data-id")
        row = await Repo.fetch_one("SELECT id FROM messages")
        assert row is not None and shown_id == str(row["id"])

        # And back: Bob answers, Ann sees it.
        await bob.locator("#message-body").fill("Hi Ann")
        await bob.locator("#composer button[type=submit]").click()
        await expect(ann.locator("#messages li.message .body").last).to_have_text(
            "Hi Ann", timeout=WAIT_MS
        )
    finally:
        await ann_context.close()
        await bob_context.close()


async def test_a_visitor_reads_the_room_live_but_has_no_composer(
    chromium: Browser, hearth_node: TestNode
) -> None:
    await insert("user", email="ann@example.com", display_name="Ann")
    visitor_context = await chromium.new_context(base_url=hearth_node.url)
    visitor = await visitor_context.new_page()
    await visitor.goto("/rooms/lobby")
    await expect(visitor.locator("#room")).to_have_attribute("data-state", "joined",
                                                             timeout=WAIT_MS)
    ann_context, ann = await signed_in(chromium, hearth_node, "ann@example.com")
    try:
        await ann.locator("#message-body").fill("Anyone there?")
        await ann.locator("#message-body").press("Enter")

        await expect(visitor.locator("#messages li.message .body").last).to_have_text(
            "Anyone there?", timeout=WAIT_MS
        )
        await expect(visitor.locator("#composer")).to_have_count(0)
    finally:
        await ann_context.close()
        await visitor_context.close()


async def test_the_page_shows_who_is_online_and_who_left(
    chromium: Browser, hearth_node: TestNode
) -> None:
    await insert("user", email="ann@example.com", display_name="Ann")
    await insert("user", email="bob@example.com", display_name="Bob")
    ann_context, ann = await signed_in(chromium, hearth_node, "ann@example.com")
    bob_context, bob = await signed_in(chromium, hearth_node, "bob@example.com")
    try:
        for page in (ann, bob):
            await expect(page.locator("#online li")).to_have_text(["Ann", "Bob"],
                                                                  timeout=WAIT_MS)

        # Bob's tab goes to the background: he shows as away to Ann.
        await bob.evaluate(
            "() => { Object.defineProperty(document, 'hidden', {value: true,"
            " configurable: true});"
            " document.dispatchEvent(new Event('visibilitychange')); }"
        )
        await expect(ann.locator("#online li")).to_have_text(["Ann", "Bob (away)"],
                                                             timeout=WAIT_MS)

        # Then he closes it without a word: the leave reaches Ann all the same.
        await bob_context.close()

        await expect(ann.locator("#online li")).to_have_text(["Ann"], timeout=WAIT_MS)
    finally:
        await ann_context.close()
