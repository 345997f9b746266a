"""Every protected page, walked as a visitor, a user, a moderator and an admin.

The routes and their roles come from ``web.pages.ROUTES``, the table the router is built
from: a page added there with a role is walked here without another line.
"""

from __future__ import annotations

from pathlib import Path

from contexts.roles import ROLES, at_least
from web.pages import ROUTES, Page

from ._browser import Browser, Node, running_node, user_with_role

PROTECTED = [page for page in ROUTES if page.role is not None]


def concrete(path: str) -> str:
    return path.replace("{token}", "some-token")


async def visit(browser: Browser, page: Page) -> str:
    """What the guard made of the request: ``"log in"``, ``"refused"`` or ``"allowed"``
    (the guard redirects with 302; a handler answers a page, or a form's 303)."""
    path = concrete(page.path)
    if page.method == "GET":
        response = await browser.get(path)
    else:
        await browser.get("/")  # a fresh token, as from the page with the form
        response = await browser.post(path)
    status, location = response.status, response.location
    if status == 302 and location is not None and location.split("?")[0] == "/login":
        return "log in"
    if (status, location) == (302, "/"):
        return "refused"
    assert status in (200, 303), (page, status, location)
    return "allowed"


async def signed_in(node: Node, role: str) -> Browser:
    email = f"{role}@example.com"
    await user_with_role(node, email, role)
    browser = Browser(node)
    page = await browser.log_in(email)
    assert page.user == role, page.text
    return browser


def test_the_protected_pages_include_each_role() -> None:
    assert {page.role for page in PROTECTED} == set(ROLES)


async def test_a_visitor_is_sent_to_log_in_from_every_protected_page(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as visitor:
        for page in PROTECTED:
            assert await visit(visitor, page) == "log in", page


async def test_each_role_opens_exactly_the_pages_its_rank_allows(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        for role in ROLES:
            async with await signed_in(node, role) as browser:
                for page in PROTECTED:
                    assert page.role is not None
                    expected = "allowed" if at_least(role, page.role) else "refused"

                    assert await visit(browser, page) == expected, (role, page)


async def test_a_visitor_is_told_to_log_in_and_comes_back_after(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "alice@example.com", "user")
        async with Browser(node) as browser:
            sent = await browser.get("/account")
            assert sent.location == "/login?next=/account"

            login = await browser.get(sent.location)
            assert login.flashes == [("error", "Please log in to continue.")]
            assert 'name="next" value="/account"' in login.text

            page = await browser.post(
                "/login", {"email": "alice@example.com", "password": "correct horse battery",
                           "next": "/account"},
            )
            assert (page.status, page.location) == (303, "/account")


async def test_a_user_below_the_role_is_told_so(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await signed_in(node, "moderator") as browser:
        page = await browser.get("/admin", follow=True)

        assert page.status == 200
        assert page.flashes == [("error", "You are not allowed to see that page.")]
        assert page.user == "moderator"


async def test_the_admin_page_lists_every_user_with_their_role(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "bob@example.com", "moderator")
        async with await signed_in(node, "admin") as admin:
            page = await admin.get("/admin")

        assert page.status == 200
        assert "bob@example.com" in page.text and "moderator" in page.text
        assert "admin@example.com" in page.text
