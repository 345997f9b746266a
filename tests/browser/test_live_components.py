"""Live components and async work in a real browser: Debian's Chromium, driven by Playwright,
running the stock phoenix_live_view client against a running node.

``/cart`` holds two instances of one component: what a click in one cart changes goes over
the wire for that cart alone (the WebSocket frames the page receives say so), and a cart
taken off the page is forgotten by its view once the client has said it destroyed it (the
view's process, as ``hearth info`` sees it, counts its instances). ``/stats`` shows
"Loading…" first and then its figures, and searches posts while the page stays usable.

The browser, the screenshots' directory and the frame watchers come from
``test_live_pages`` and ``test_room_page``. Every wait is on the page (Playwright's
``expect``) or on a frame Playwright reports, never a sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, WebSocket, expect

from hearth.testing import Conn, TestNode, insert, json_response
from tests.browser import test_live_pages
from tests.browser.test_live_pages import (
    ADMIN_TOKEN,
    CONNECTED,
    Frame,
    SentFrames,
    browsing,
    is_join,
    live_view_pids,
    open_live,
)
from tests.browser.test_room_page import WAIT_MS

chromium = test_live_pages.chromium
"""The browser fixture, shared with the other pages' browser tests."""
screenshots = test_live_pages.screenshots
"""The run's directory of screenshots, shared with ``test_live_pages``."""


class ReceivedFrames(SentFrames):
    """The frames a page receives on its WebSockets, heartbeats aside, in the order
    Playwright's ``framereceived`` reports them."""

    def _opened(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._sent)


class Wire:
    """What one page sends and receives, to match a push with its reply."""

    def __init__(self, page: Page) -> None:
        self.sent = SentFrames(page)
        self.received = ReceivedFrames(page)

    def mark(self) -> int:
        """Where the frames sent from now on begin."""
        return len(self.sent.frames)

    async def push(self, since: int, found: Callable[[Frame], bool]) -> Frame:
        """The first frame sent at ``since`` or later that ``found`` accepts."""
        index = await self.sent.until(
            lambda frame: found(frame) and any(frame is other
                                               for other in self.sent.frames[since:]))
        return self.sent.frames[index]

    async def reply(self, push: Frame) -> Any:
        """The response of the server's reply to ``push``, once it has arrived."""
        index = await self.received.until(
            lambda frame: frame[3] == "phx_reply" and frame[2] == push[2]
            and frame[1] == push[1])
        payload = self.received.frames[index][4]
        assert payload["status"] == "ok", payload
        return payload["response"]


def is_component_event(name: str, cid: int) -> Callable[[Frame], bool]:
    return lambda frame: (frame[3] == "event" and frame[4].get("event") == name
                          and frame[4].get("cid") == cid)


def is_push(event: str) -> Callable[[Frame], bool]:
    return lambda frame: frame[3] == event and frame[2].startswith("lv:")


async def cid_of(page: Page, selector: str) -> int:
    """The cid the client marks a component's root with (``data-phx-component``)."""
    cid = await page.locator(selector).get_attribute("data-phx-component")
    assert cid is not None, f"{selector} is not a component's root"
    return int(cid)


async def live_components(admin: Conn, view: str) -> int:
    """The number of component instances the one process running ``view`` holds (``hearth
    info``'s ``live_components``)."""
    [pid] = await live_view_pids(admin, view)
    found = await admin.request("GET", "/_admin/info", params={"target": pid},
                                token=ADMIN_TOKEN)
    count = json_response(found, 200)["live_components"]
    assert isinstance(count, int)
    return count


async def catalog() -> None:
    """Three products, listed by name on the cart page."""
    await insert("product", name="Apple", price_cents=125)
    await insert("product", name="Bread", price_cents=340)
    await insert("product", name="Cheese", price_cents=799)


def line(product: str, quantity: int) -> str:
    """A cart's line as its text reads: the product, the times sign, the quantity, its button."""
    return f"{product} \N{MULTIPLICATION SIGN} {quantity} Remove one"


def add(page: Page, product: str, cart: str) -> Locator:
    """The button that adds ``product`` to ``cart``."""
    return page.get_by_role("button", name=f"add {product} to {cart}", exact=True)


async def test_two_carts_on_one_page_keep_their_own_items_and_diffs(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    await catalog()
    context, page = await browsing(chromium, hearth_node)
    wire = Wire(page)
    try:
        await open_live(page, "/cart")
        await wire.sent.until(is_join)
        await expect(page.locator(".cart h2")).to_have_text(["Cart A", "Cart B"])
        await expect(page.locator("#cart-a .catalog .product")).to_have_text(
            ["Apple", "Bread", "Cheese"])
        a, b = await cid_of(page, "#cart-a"), await cid_of(page, "#cart-b")
        assert a != b

        replies = []
        for product, cart, cid in (("Apple", "Cart A", a), ("Cheese", "Cart B", b),
                                   ("Apple", "Cart A", a), ("Bread", "Cart A", a)):
            since = wire.mark()
            await add(page, product, cart).click()
            push = await wire.push(since, is_component_event("add", cid))
            replies.append((cid, await wire.reply(push)))

        await expect(page.locator("#cart-a .items li")).to_have_text(
            [line("Apple", 2), line("Bread", 1)], timeout=WAIT_MS)
        await expect(page.locator("#cart-a .total strong")).to_have_text("5.90")
        await expect(page.locator("#cart-b .items li")).to_have_text(
            [line("Cheese", 1)])
        await expect(page.locator("#cart-b .total strong")).to_have_text("7.99")
        for cid, response in replies:
            assert list(response["diff"]) == ["c"], response
            assert list(response["diff"]["c"]) == [str(cid)], response

        # One Apple less in A: B is as it was.
        since = wire.mark()
        await page.locator("#cart-a").get_by_role("button", name="remove one Apple",
                                                exact=True).click()
        response = await wire.reply(await wire.push(since, is_component_event("remove", a)))
        assert list(response["diff"]["c"]) == [str(a)]
        await expect(page.locator("#cart-a .items li")).to_have_text(
            [line("Apple", 1), line("Bread", 1)], timeout=WAIT_MS)
        await expect(page.locator("#cart-a .total strong")).to_have_text("4.65")
        await expect(page.locator("#cart-b .items li")).to_have_text(
            [line("Cheese", 1)])
        await expect(page.locator("#cart-b .total strong")).to_have_text("7.99")
        await page.screenshot(path=screenshots / "cart-two-carts.png", full_page=True)
    finally:
        await context.close()


@pytest.mark.hearth_config({"admin.token": ADMIN_TOKEN})
async def test_a_cart_taken_away_is_destroyed_and_comes_back_empty(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    await catalog()
    context, page = await browsing(chromium, hearth_node)
    wire = Wire(page)
    try:
        async with Conn(hearth_node) as admin:
            await open_live(page, "/cart")
            await wire.sent.until(is_join)
            b = await cid_of(page, "#cart-b")
            assert await live_components(admin, "CartLive") == 2
            await add(page, "Cheese", "Cart B").click()
            await add(page, "Apple", "Cart A").click()
            await expect(page.locator("#cart-b .total strong")).to_have_text(
                "7.99", timeout=WAIT_MS)
            await expect(page.locator("#cart-a .total strong")).to_have_text(
                "1.25", timeout=WAIT_MS)

            since = wire.mark()
            await page.click("#toggle-b")

            await expect(page.locator("#cart-b")).to_have_count(0, timeout=WAIT_MS)
            await expect(page.locator("#toggle-b")).to_have_text("Bring cart B back")
            will = await wire.push(since, is_push("cids_will_destroy"))
            destroyed = await wire.push(since, is_push("cids_destroyed"))
            assert will[4] == {"cids": [b]}
            assert destroyed[4] == {"cids": [b]}
            assert wire.sent.frames.index(will) < wire.sent.frames.index(destroyed)
            assert await wire.reply(destroyed) == {"cids": [b]}
            assert await live_components(admin, "CartLive") == 1
            await page.screenshot(path=screenshots / "cart-b-taken-away.png",
                                  full_page=True)

            await page.click("#toggle-b")

            await expect(page.locator("#cart-b h2")).to_have_text("Cart B", timeout=WAIT_MS)
            await expect(page.locator("#cart-b .total strong")).to_have_text("0.00")
            await expect(page.locator("#cart-b .items li")).to_have_count(0)
            await expect(page.locator("#cart-b .empty-note")).to_have_text("Nothing yet.")
            await expect(page.locator("#cart-a .total strong")).to_have_text("1.25")
            await expect(page.locator("#toggle-b")).to_have_text("Take cart B away")
            assert await cid_of(page, "#cart-b") != b  # a new instance: cids are not reused
            assert await live_components(admin, "CartLive") == 2

        await add(page, "Bread", "Cart B").click()
        await expect(page.locator("#cart-b .total strong")).to_have_text("3.40",
                                                                          timeout=WAIT_MS)
        await expect(page.locator(CONNECTED)).to_be_visible()
        await page.screenshot(path=screenshots / "cart-b-brought-back.png", full_page=True)
    finally:
        await context.close()


async def test_the_stats_page_loads_its_figures_and_searches_posts(
    chromium: Browser, hearth_node: TestNode, screenshots: Path
) -> None:
    ann = await insert("user", display_name="Ann")
    bob = await insert("user", display_name="Bob")
    await insert("user", display_name="Cat")
    await insert("post", author=ann, title="Actors in Python", body="Mailboxes and links.")
    await insert("post", author=bob, title="Notes on supervisors", body="One for one.")
    await insert("post", "draft", author=ann, title="Actors, a draft")
    python = await insert("room", slug="python", name="Python")
    otp = await insert("room", slug="otp", name="OTP")
    await insert("room", slug="quiet", name="Quiet")
    for room, author in ((python, ann), (otp, bob), (python, bob), (otp, ann), (python, ann)):
        await insert("message", room=room, author=author)
    await insert("message", room=python, author=bob)
    context, page = await browsing(chromium, hearth_node)
    try:
        served = await page.goto("/stats")
        assert served is not None
        first = await served.text()  # the HTTP render: nothing counted yet
        assert first.count("Loading…") == 2
        await expect(page.locator(CONNECTED)).to_be_visible(timeout=WAIT_MS)

        for key, figure in (("users", "3"), ("posts", "2"), ("rooms", "4"),
                            ("messages", "6")):
            await expect(page.locator(f"#count-{key}")).to_have_text(figure, timeout=WAIT_MS)
        await expect(page.locator("#counts dt")).to_have_text(
            ["Users", "Posts", "Rooms", "Messages"])
        await expect(page.locator("#rooms li")).to_have_text(
            ["Python · 4 messages", "OTP · 2 messages", "Lobby · 0 messages",
             "Quiet · 0 messages"], timeout=WAIT_MS)
        await expect(page.locator("#rooms li a").first).to_have_attribute(
            "href", "/rooms/python")
        await expect(page.locator(".loading")).to_have_count(0)

        query = page.locator('#search input[name="q"]')
        await query.fill("actors")
        await expect(page.locator("#results li")).to_have_text(["Actors in Python"],
                                                               timeout=WAIT_MS)

        await query.fill("x" * 101)
        await expect(page.locator("#search-error")).to_have_text(
            "Search failed: a search is at most 100 characters", timeout=WAIT_MS)
        await expect(page.locator("#results")).to_have_count(0)
        await page.screenshot(path=screenshots / "stats-search-failed.png", full_page=True)

        await query.fill("one for one")
        await expect(page.locator("#results li")).to_have_text(["Notes on supervisors"],
                                                               timeout=WAIT_MS)
        await expect(page.locator("#search-error")).to_have_count(0)
        await expect(page.locator("#count-posts")).to_have_text("2")
        await page.screenshot(path=screenshots / "stats.png", full_page=True)
    finally:
        await context.close()
