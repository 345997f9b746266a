"""Forged requests: a form posted without this session's token, or from another site, is
refused with a 403 page and changes nothing."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from actors.repo import Repo
from hearth.config import load_config
from hearth.testing import PASSWORD, SECRET_KEY, Conn, TestNode, insert, log_in
from web import csrf
from web.endpoint import build_app

ALICE = {"email": "alice@example.com", "display_name": "Alice", "password": PASSWORD}


async def user_count() -> int:
    row = await Repo.fetch_one("SELECT COUNT(*) AS n FROM users")
    assert row is not None
    n: int = row["n"]
    return n


async def test_a_form_without_the_token_is_refused_and_changes_nothing(conn: Conn) -> None:
    await conn.get("/register")

    page = await conn.post("/register", ALICE, csrf="")

    assert page.status == 403
    assert "nothing was changed" in page.text
    assert await user_count() == 0


async def test_a_form_with_a_wrong_token_is_refused_and_changes_nothing(conn: Conn) -> None:
    await log_in(conn, await insert("user", display_name="Alice"))

    page = await conn.post("/logout", csrf="x" * 43)

    assert page.status == 403
    assert (await conn.get("/")).user == "Alice"


async def test_another_sessions_token_does_not_do(hearth_node: TestNode) -> None:
    async with Conn(hearth_node) as alice, Conn(hearth_node) as mallory:
        await log_in(alice, await insert("user", display_name="Alice"))
        alices = (await alice.get("/")).csrf_meta
        mallorys = (await mallory.get("/")).csrf_meta
        assert alices is not None and mallorys is not None and mallorys != alices

        page = await alice.post("/logout", csrf=mallorys)

        assert page.status == 403
        assert (await alice.get("/")).user == "Alice"


async def test_without_a_session_no_token_is_right(conn: Conn) -> None:
    page = await conn.post("/register", ALICE, csrf="anything")

    assert page.status == 403
    assert await user_count() == 0


async def test_the_token_may_come_in_a_header(conn: Conn) -> None:
    await log_in(conn, await insert("user", display_name="Alice"))
    token = (await conn.get("/")).csrf_meta
    assert token is not None

    page = await conn.post("/logout", csrf="", headers={"X-CSRF-Token": token})

    assert (page.status, page.location) == (303, "/")
    assert (await conn.get("/")).user is None


async def test_a_post_from_another_origin_is_refused_even_with_the_token(
    hearth_node: TestNode, conn: Conn,
) -> None:
    await conn.get("/register")
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": hearth_node.url.replace("127.0.0.1", "localhost")},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
    ):
        page = await conn.post("/register", ALICE, headers=headers)

        assert page.status == 403, headers
    assert await user_count() == 0


async def test_a_post_from_this_origin_passes(hearth_node: TestNode, conn: Conn) -> None:
    await conn.get("/register")

    page = await conn.post(
        "/register", ALICE,
        headers={"Origin": hearth_node.url, "Referer": hearth_node.url + "/register"},
    )

    assert (page.status, page.location) == (303, "/login")
    assert await user_count() == 1


async def test_every_post_form_carries_the_token(conn: Conn) -> None:
    await log_in(conn, await insert("user", "admin", display_name="Alice"))
    for path in ("/", "/register", "/login", "/password/forgot", "/password/reset/t",
                 "/account", "/moderation", "/admin"):
        page = await conn.get(path)

        forms = page.text.count('<form method="post"')
        assert forms >= 1, path
        assert page.text.count('name="_csrf"') == forms, path


async def test_a_handler_marked_exempt_takes_posts_without_a_token(tmp_path: Path) -> None:
    config = load_config(
        env={},
        overrides={"auth.secret_key": SECRET_KEY, "database.path": str(tmp_path / "h.db")},
    )
    app = build_app(config)

    async def hook(request: web.Request) -> web.Response:
        return web.Response(text="taken")

    app.router.add_post("/hook", csrf.exempt(hook))
    app.router.add_post("/guarded", hook)
    async with TestClient(TestServer(app)) as client:
        exempt = await client.post("/hook", headers={"Origin": "http://evil.example"})
        guarded = await client.post("/guarded")

        assert (exempt.status, await exempt.text()) == (200, "taken")
        assert guarded.status == 403
