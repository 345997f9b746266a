"""The live pages in a real browser: Debian's Chromium, driven by Playwright, running the stock
phoenix_live_view client (npm, served by ``web/assets.py``) against a running node.

Each test does what a person does on a page (clicks, types, follows links) or what happens
elsewhere (the API, an operator killing the view's process) and asserts what the page then
shows. Every wait is on the page (Playwright's ``expect`` polls until its timeout) or on a
WebSocket frame Playwright reports, never a sleep. Each test ends with a screenshot of its
page in one directory of the run (its path is printed: ``pytest -s``).

The browser comes from ``test_room_page`` (its ``chromium`` fixture: skipped only when no
Chromium is installed).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocket, expect

from contexts.accounts import User
from hearth.testing import Conn, TestNode, api_conn, insert, json_response, log_in
from tests.browser import test_room_page
from tests.browser.test_room_page import WAIT_MS
from web.session import COOKIE

chromium = test_room_page.chromium
"""The browser fixture, shared with the room's page tests."""

ADMIN_TOKEN = "live-pages-admin-token-of-32-chars-at-least"
CONNECTED = "[data-phx-main].phx-connected"
"""The view's container once the client has joined its channel."""

Frame = list[Any]
"""A Phoenix V2 frame: ``[join_ref, ref, topic, event, payload]``."""


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests leave a picture of their page at the end."""
    # One folder for every module that imports this fixture (each gets its own instance).
    folder = tmp_path_factory.getbasetemp() / "live-pages"
    folder.mkdir(exist_ok=True)
    print(f"\nscreenshots of the live pages: {folder}")
    return folder


async def browsing(browser: Browser, node: TestNode,
                   user: User | None = None) -> tuple[BrowserContext, Page]:
    """A new browser context (its own cookies), signed in as ``user`` if given: the session
    cookie ``log_in`` makes (a real session row) is put in the context's jar."""
    context = await browser.new_context(base_url=node.url)
    context.set_default_timeout(WAIT_MS)
    if user is not None:
        async with Conn(node) as conn:
            await log_in(conn, user)
            cookie = conn.cookie
        assert cookie is not None
        await context.add_cookies([{"name": COOKIE, "value": cookie, "url": node.url,
                                    "httpOnly": True, "sameSite": "Lax"}])
    return context, await context.new_page()


async def open_live(page: Page, path: str) -> None:
    """Load ``path`` and wait until its view is connected."""
    await page.goto(path)
    await expect(page.locator(CONNECTED)).to_be_visible(timeout=WAIT_MS)


class SentFrames:
    """The frames a page sends on its WebSockets, heartbeats aside, in the order Playwright's
    ``framesent`` reports them."""

    def __init__(self, page: Page) -> None:
        self.frames: list[Frame] = []
        self._arrived = asyncio.Event()
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        socket.on("framesent", self._sent)

    def _sent(self, payload: str | bytes) -> None:
        frame = orjson.loads(payload)
        if frame[2] == "phoenix":  # the socket's heartbeat, not the page's
            return
        self.frames.append(frame)
        self._arrived.set()

    async def until(self, found: Callable[[Frame], bool]) -> int:
        """The index of the first frame ``found`` accepts, once it has been sent."""
        async def wait() -> int:
            while True:
                for index, frame in enumerate(self.frames):
                    if found(frame):
                        return index
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(wait(), WAIT_MS / 1000)


def is_event(name: str) -> Callable[[Frame], bool]:
    return lambda frame: frame[3] == "event" and frame[4].get("event") == name


def is_join(frame: Frame) -> bool:
    return frame[3] == "phx_join" and frame[2].startswith("lv:")


async def test_the_counter_counts_clicks(chromium: Browser, hearth_node: TestNode,
                                         screenshots: Path) -> None:
    context, page = await browsing(chromium, hearth_node)
    try:
        await open_live(page, "/counter")
        await expect(page.locator("h1")).to_have_text("Count: 0")

        for _ in range(3):
            await page.click("#inc")
        await page.click("#dec")

        await expect(page.locator("h1")).to_have_text("Count: 2", timeout=WAIT_MS)
        await page.screenshot(path=screenshots / "counter.png", full_page=True)
    finally:
        await context.close()


async def test_a_post_made_through_the_api_comes_and_goes_on_an_open_posts_page(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    ann = await insert("user", display_name="Ann")
    await insert("post", author=ann, title="An older post")
    await insert("post", author=ann, title="The newest post yet")
    reader_context, reader = await browsing(chromium, hearth_node)
    author_context, author = await browsing(chromium, hearth_node, ann)
    try:
        for page in (reader, author):
            await open_live(page, "/posts")
            await expect(page.locator("#posts article h2")).to_have_text(
                ["The newest post yet", "An older post"])
            await page.evaluate("window.__marker = 1")

        async with await api_conn(ann) as api:
            made = json_response(await api.post(
                "/api/v1/posts", json={"title": "Fresh from the API", "body": "Hello."}), 201)

            for page in (reader, author):
                first = page.locator("#posts article").first
                await expect(first.locator("h2")).to_have_text("Fresh from the API",
                                                               timeout=WAIT_MS)
                await expect(first.locator(".author")).to_have_text("Ann")
                await expect(page.locator("#posts article")).to_have_count(3)
            await reader.screenshot(path=screenshots / "posts-created.png", full_page=True)

            deleted = await api.delete(f"/api/v1/posts/{made['id']}")
            assert deleted.status == 204

        for page in (reader, author):
            await expect(page.locator("#posts article h2")).to_have_text(
                ["The newest post yet", "An older post"], timeout=WAIT_MS)
            assert await page.evaluate("window.__marker") == 1  # no reload
        await reader.screenshot(path=screenshots / "posts-deleted.png", full_page=True)
    finally:
        await reader_context.close()
        await author_context.close()


async def test_the_delete_modal_opens_and_closes_without_a_round_trip(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    ann = await insert("user", display_name="Ann")
    post = await insert("post", author=ann, title="Soon gone")
    context, page = await browsing(chromium, hearth_node, ann)
    sent = SentFrames(page)
    try:
        await open_live(page, f"/posts/{post.id}")
        await sent.until(is_join)
        before = len(sent.frames)
        modal = page.locator("#delete-modal")
        await expect(modal).to_be_hidden()

        await page.click("#delete-button")
        await expect(modal).to_be_visible(timeout=WAIT_MS)
        await expect(modal).to_contain_text('"Soon gone" will be gone for everyone.')
        await expect(page.locator("#cancel-delete")).to_be_focused()
        await expect(modal).not_to_have_class(re.compile(r"\bfade-in\b"), timeout=WAIT_MS)
        await page.screenshot(path=screenshots / "post-delete-modal.png", full_page=True)
        opened = len(sent.frames)

        await page.click("#cancel-delete")
        await expect(modal).to_be_hidden(timeout=WAIT_MS)
        cancelled = len(sent.frames)

        await page.click("#delete-button")
        await expect(modal).to_be_visible(timeout=WAIT_MS)
        await page.click("#confirm-delete")
        pushed = await sent.until(is_event("delete"))

        assert before == opened == cancelled
        # Frames go out in order: had opening or cancelling sent one, it would come before
        # the delete (after it, the page leaves the view it navigates away from).
        assert pushed == before
        await expect(page).to_have_url(f"{hearth_node.url}/posts", timeout=WAIT_MS)
        await expect(page.locator("#flash-info")).to_have_text("Post deleted.",
                                                               timeout=WAIT_MS)
        await expect(page.locator("#posts article")).to_have_count(0)
        await page.screenshot(path=screenshots / "post-deleted.png", full_page=True)
    finally:
        await context.close()


LIKE_AND_READ = """() => {
  const button = document.querySelector("#like-button");
  button.click();
  return button.innerText;
}"""
"""Click the like button and read the count it shows, in the same task as the click."""


async def test_a_like_shows_at_once_and_rolls_back_when_refused(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    post = await insert("post", title="Worth a like")
    for _ in range(3):
        await insert("like", post=post)
    bob = await insert("user", display_name="Bob")
    context, page = await browsing(chromium, hearth_node, bob)
    try:
        await open_live(page, f"/posts/{post.id}")
        like = page.locator("#like-button")
        await expect(like).to_have_text("♥ 3", use_inner_text=True)

        assert await page.evaluate(LIKE_AND_READ) == "♥ 4"
        await expect(like).not_to_have_class(re.compile(r"\bphx-click-loading\b"),
                                             timeout=WAIT_MS)
        await expect(like).to_have_text("♥ 4", use_inner_text=True)
        await expect(page.locator("#flash-error")).to_have_count(0)

        assert await page.evaluate(LIKE_AND_READ) == "♥ 5"
        await expect(page.locator("#flash-error")).to_have_text(
            "You have liked this post already.", timeout=WAIT_MS)
        await expect(like).not_to_have_class(re.compile(r"\bphx-click-loading\b"))
        await expect(like).to_have_text("♥ 4", use_inner_text=True)
        await page.screenshot(path=screenshots / "post-like-refused.png", full_page=True)
    finally:
        await context.close()


async def live_view_pids(admin: Conn, view: str) -> list[str]:
    """The pids of the processes running ``view`` (``hearth ps``'s behaviour column)."""
    listed = json_response(await admin.request("GET", "/_admin/ps", params={"limit": "1000"},
                                               token=ADMIN_TOKEN), 200)
    return [p["pid"] for p in listed["processes"] if p["behaviour"] == f"live:{view}"]


@pytest.mark.hearth_config({"admin.token": ADMIN_TOKEN})
async def test_a_killed_view_is_mounted_again_and_stays_usable(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    context, page = await browsing(chromium, hearth_node)
    try:
        await open_live(page, "/counter")
        await page.click("#inc")
        await page.click("#inc")
        await expect(page.locator("h1")).to_have_text("Count: 2", timeout=WAIT_MS)
        await page.evaluate("window.__marker = 1")

        async with Conn(hearth_node) as admin:
            [pid] = await live_view_pids(admin, "CounterLive")
            killed = await admin.request("POST", "/_admin/kill", json={"target": pid},
                                         token=ADMIN_TOKEN)
            assert json_response(killed, 200)["killed"] == pid

            # The client rejoins: a fresh mount, in the same page (no reload).
            await expect(page.locator("h1")).to_have_text("Count: 0", timeout=WAIT_MS)
            await expect(page.locator(CONNECTED)).to_be_visible(timeout=WAIT_MS)
            assert await page.evaluate("window.__marker") == 1
            [again] = await live_view_pids(admin, "CounterLive")
            assert again != pid

        await page.click("#inc")
        await expect(page.locator("h1")).to_have_text("Count: 1", timeout=WAIT_MS)
        await page.screenshot(path=screenshots / "counter-after-kill.png", full_page=True)
    finally:
        await context.close()


async def test_live_links_go_between_the_posts_pages_without_a_page_load(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    post = await insert("post", title="Follow me", body="You came by a live link.")
    context, page = await browsing(chromium, hearth_node)
    try:
        await open_live(page, "/posts")
        await page.evaluate("window.__marker = 1")

        await page.click("#posts article h2 a")

        await expect(page).to_have_url(f"{hearth_node.url}/posts/{post.id}", timeout=WAIT_MS)
        await expect(page.locator("#post h1")).to_have_text("Follow me", timeout=WAIT_MS)
        await expect(page.locator(".post-body")).to_have_text("You came by a live link.")
        await expect(page.locator(CONNECTED)).to_be_visible(timeout=WAIT_MS)
        assert await page.evaluate("window.__marker") == 1
        await page.screenshot(path=screenshots / "live-link-post.png", full_page=True)

        await page.click("text=All posts")

        await expect(page).to_have_url(f"{hearth_node.url}/posts", timeout=WAIT_MS)
        await expect(page.locator("#posts article h2")).to_have_text(["Follow me"],
                                                                     timeout=WAIT_MS)
        await expect(page.locator(CONNECTED)).to_be_visible(timeout=WAIT_MS)
        assert await page.evaluate("window.__marker") == 1
        await page.screenshot(path=screenshots / "live-link-posts.png", full_page=True)
    finally:
        await context.close()


async def test_the_new_post_form_shows_errors_as_typed_and_saves(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    ann = await insert("user", display_name="Ann")
    context, page = await browsing(chromium, hearth_node, ann)
    try:
        await open_live(page, "/posts/new")
        title = page.locator("#post_title")

        await title.press_sequentially("Hi")
        await title.fill("")

        await expect(page.locator('.field-error[data-field="title"]')).to_have_text(
            ["can't be blank"], timeout=WAIT_MS)
        await expect(title).to_have_attribute("aria-invalid", "true")
        await expect(page.locator('.field-error[data-field="body"]')).to_have_count(0)
        await page.screenshot(path=screenshots / "post-form-errors.png", full_page=True)

        await title.fill("Written live")
        await page.locator("#post_body").fill("Every word checked as typed.")
        await expect(page.locator(".field-error")).to_have_count(0, timeout=WAIT_MS)
        await page.click('#post-form button[type="submit"]')

        await expect(page).to_have_url(re.compile(rf"^{re.escape(hearth_node.url)}/posts/\d+$"),
                                       timeout=WAIT_MS)
        await expect(page.locator("#flash-info")).to_have_text("Post created.",
                                                               timeout=WAIT_MS)
        await expect(page.locator("#post h1")).to_have_text("Written live")
        await expect(page.locator(".post-body")).to_have_text("Every word checked as typed.")
        await page.screenshot(path=screenshots / "post-created.png", full_page=True)
    finally:
        await context.close()
