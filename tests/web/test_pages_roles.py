"""Every protected page, walked as a visitor, a user, a moderator and an admin.

The routes and their roles come from ``web.pages.ROUTES``, the table the router is built
from, and from the live sessions of ``web.live.ROUTER`` that require a user: a page added
there is walked here without another line. The routes on one
post (``{id}``) are walked on a fresh post by someone else, where only a moderator or an
admin gets past the post's own check, and again by the post's author.
"""

from __future__ import annotations

from contexts import posts
from contexts.accounts import User
from contexts.posts import Post
from contexts.roles import ROLES, at_least
from hearth.testing import PASSWORD, Conn, TestNode, insert, log_in
from web.live import ROUTER
from web.live.hooks import require_user
from web.pages import ROUTES, Page

LIVE = [Page("GET", route.path, route.view, role="user")  # type: ignore[arg-type]
        for session in ROUTER.sessions if require_user in session.on_mount
        for route in session.routes]
PROTECTED = [page for page in ROUTES if page.role is not None] + LIVE
ON_A_POST = [page for page in PROTECTED if "{id}" in page.path]
"""Every protected route on one post changes it, so each asks ``can_modify``."""

SOMEONE_ELSE = "someone.else@example.com"
FORM = {"title": "Walked", "body": "Written by the role walk."}


def concrete(path: str, post_id: int) -> str:
    return (path.replace("{token}", "some-token").replace("{id}", str(post_id))
            .replace("{provider}", "some-provider"))


async def a_post_by(author: User) -> Post:
    return await insert("post", author=author, title="A post", body="Its body.")


async def visit(browser: Conn, page: Page, post_id: int) -> str:
    """What the guards made of the request: ``"log in"`` or ``"refused"`` (the route's role
    guard redirects with 302), ``"not yours"`` (the post's own check sends back to it with a
    flash) or ``"allowed"`` (a handler answers a page, or a form's 303)."""
    path = concrete(page.path, post_id)
    if page.method == "GET":
        response = await browser.get(path)
    else:
        response = await browser.post(path, FORM)
    status, location = response.status, response.location
    if status == 302 and location is not None and location.split("?")[0] == "/login":
        return "log in"
    if (status, location) == (302, "/"):
        return "refused"
    assert status in (200, 302, 303), (page, status, location)
    if status in (302, 303) and location == f"/posts/{post_id}":
        told = (await browser.get(location)).flashes
        if any(kind == "error" and text.startswith("You are not allowed") for kind, text in told):
            return "not yours"
    return "allowed"


def expected(role: str, page: Page) -> str:
    """What a signed-in ``role`` who did not write the post should meet."""
    assert page.role is not None
    if not at_least(role, page.role):
        return "refused"
    if page in ON_A_POST and not at_least(role, "moderator"):
        return "not yours"
    return "allowed"


async def signed_in(node: TestNode, role: str) -> Conn:
    """A client signed in as a new ``role``, shown as the role's name."""
    user = await insert("user", email=f"{role}@example.com", display_name=role, role=role)
    return await log_in(Conn(node), user)


def test_the_protected_pages_include_each_role_and_the_routes_on_a_post() -> None:
    assert {page.role for page in PROTECTED} == set(ROLES)
    assert {(page.method, page.path) for page in ON_A_POST} == {
        ("GET", "/posts/{id}/edit"),
        ("POST", "/posts/{id}/edit"),
        ("POST", "/posts/{id}/delete"),
    }


async def test_a_visitor_is_sent_to_log_in_from_every_protected_page(conn: Conn) -> None:
    post = await a_post_by(await insert("user", email=SOMEONE_ELSE))
    for page in PROTECTED:
        assert await visit(conn, page, post.id) == "log in", page
    assert await posts.get_post(post.id) == post


async def test_each_role_opens_exactly_the_pages_its_rank_allows(hearth_node: TestNode) -> None:
    someone_else = await insert("user", email=SOMEONE_ELSE)
    for role in ROLES:
        async with await signed_in(hearth_node, role) as browser:
            for page in PROTECTED:
                post = await a_post_by(someone_else)  # fresh: a walk may delete it

                assert await visit(browser, page, post.id) == expected(role, page), (
                    role, page,
                )


async def test_the_author_passes_the_check_on_their_own_post(conn: Conn) -> None:
    author = await insert("user", email="user@example.com")
    await log_in(conn, author)
    for page in ON_A_POST:
        post = await a_post_by(author)

        assert await visit(conn, page, post.id) == "allowed", page


async def test_a_visitor_is_told_to_log_in_and_comes_back_after(conn: Conn) -> None:
    await insert("user", email="alice@example.com")
    sent = await conn.get("/account")
    assert sent.location == "/login?next=/account"

    login = await conn.get(sent.location)
    assert login.flashes == [("error", "Please log in to continue.")]
    assert 'name="next" value="/account"' in login.text

    page = await conn.post(
        "/login", {"email": "alice@example.com", "password": PASSWORD, "next": "/account"},
    )
    assert (page.status, page.location) == (303, "/account")


async def test_a_user_below_the_role_is_told_so(hearth_node: TestNode) -> None:
    async with await signed_in(hearth_node, "moderator") as browser:
        page = await browser.get("/admin", follow=True)

    assert page.status == 200
    assert page.flashes == [("error", "You are not allowed to see that page.")]
    assert page.user == "moderator"


async def test_the_admin_page_lists_every_user_with_their_role(hearth_node: TestNode) -> None:
    await insert("user", "moderator", email="bob@example.com")
    async with await signed_in(hearth_node, "admin") as admin:
        page = await admin.get("/admin")

    assert page.status == 200
    assert "bob@example.com" in page.text and "moderator" in page.text
    assert "admin@example.com" in page.text
