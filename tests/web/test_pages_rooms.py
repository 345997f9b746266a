"""The rooms pages: the list, a room's page, making a room, and the scripts they load."""

from __future__ import annotations

import html

from contexts import chat
from hearth.testing import Conn, TestNode, insert, log_in
from web.assets import PHOENIX_JS, STATIC


async def test_everyone_sees_the_rooms_but_only_moderators_the_form(hearth_node: TestNode) -> None:
    mod_user = await insert("user", "moderator", email="mod@example.com")
    ann_user = await insert("user", email="ann@example.com")
    async with (
        Conn(hearth_node) as visitor,
        await log_in(Conn(hearth_node), ann_user) as ann,
        await log_in(Conn(hearth_node), mod_user) as mod,
    ):
        pages = [await b.get("/rooms") for b in (visitor, ann, mod)]

        for page in pages:
            assert page.status == 200
            assert '<a href="/rooms/lobby">Lobby</a>' in page.text
        assert ['id="new-room"' in page.text for page in pages] == [False, False, True]


async def test_a_moderator_makes_a_room_and_lands_in_it(conn: Conn) -> None:
    await log_in(conn, await insert("user", "moderator", email="mod@example.com"))
    await conn.get("/rooms")

    made = await conn.post("/rooms", {"slug": "python", "name": "Python"})
    room = await conn.get("/rooms/python")

    assert (made.status, made.location) == (303, "/rooms/python")
    assert room.status == 200
    assert ("info", "Room Python created.") in room.flashes
    assert [r.slug for r in await chat.list_rooms()] == ["lobby", "python"]


async def test_a_room_breaking_the_rules_is_refused_with_the_reasons(conn: Conn) -> None:
    await log_in(conn, await insert("user", "moderator", email="mod@example.com"))
    await conn.get("/rooms")

    refused = await conn.post("/rooms", {"slug": "Bad Slug", "name": ""}, follow=True)
    taken = await conn.post("/rooms", {"slug": "lobby", "name": "Again"}, follow=True)

    assert refused.flashes == [
        ("error", "Slug should have only lowercase letters, digits and dashes."),
        ("error", "Name can't be blank."),
    ]
    assert taken.flashes == [("error", "Slug has already been taken.")]
    assert [r.slug for r in await chat.list_rooms()] == ["lobby"]


async def test_a_user_may_not_make_a_room(conn: Conn) -> None:
    await log_in(conn, await insert("user", email="ann@example.com", display_name="Ann"))
    await conn.get("/rooms")

    refused = await conn.post("/rooms", {"slug": "mine", "name": "Mine"})

    assert (refused.status, refused.location) == (302, "/")
    assert await chat.get_room("mine") is None


async def test_a_rooms_page_has_its_messages_a_composer_and_the_scripts(
    hearth_node: TestNode,
) -> None:
    user = await insert("user", email="ann@example.com", display_name="Ann <3")
    lobby = await chat.get_room("lobby")
    assert lobby is not None
    await insert("message", room=lobby, author=user, body="<b>hello</b>")
    async with await log_in(Conn(hearth_node), user) as ann, Conn(hearth_node) as visitor:
        mine = await ann.get("/rooms/lobby")
        theirs = await visitor.get("/rooms/lobby")

    for page in (mine, theirs):
        assert page.status == 200
        assert 'data-slug="lobby"' in page.text
        assert '<script type="module" src="/assets/room.js"></script>' in page.text
        assert html.escape("<b>hello</b>", quote=False) in page.text
        assert "<b>hello</b>" not in page.text
        assert 'id="typing"' in page.text
    assert 'name="socket-token"' in mine.text and 'id="composer"' in mine.text
    assert 'name="socket-token"' not in theirs.text
    assert 'id="composer"' not in theirs.text
    assert 'href="/login?next=/rooms/lobby"' in theirs.text
    assert mine.headers["Cache-Control"] == "no-store"  # the token is Ann's


async def test_a_room_that_does_not_exist_is_a_404(conn: Conn) -> None:
    page = await conn.get("/rooms/nowhere")

    assert page.status == 404
    assert "There is no such room." in page.text


async def test_the_scripts_are_served_and_nothing_else_is(conn: Conn) -> None:
    room_js = await conn.get("/assets/room.js")
    phoenix_js = await conn.get("/assets/phoenix.js")
    stylesheet = await conn.get("/assets/app.css")
    home = await conn.get("/")
    others = [await conn.get(p) for p in
              ("/assets/package.json", "/assets/..%2Fsession.py", "/assets/")]

    assert room_js.status == 200
    assert room_js.text == (STATIC / "room.js").read_text()
    assert room_js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert stylesheet.status == 200 and stylesheet.text == (STATIC / "app.css").read_text()
    assert stylesheet.headers["Content-Type"] == "text/css; charset=utf-8"
    assert '<link rel="stylesheet" href="/assets/app.css">' in home.text
    assert phoenix_js.status == 200, "run `npm ci` at the repository root"
    assert phoenix_js.text == PHOENIX_JS.read_text()
    assert "export {" in phoenix_js.text
    assert [page.status for page in others] == [404, 404, 404]
