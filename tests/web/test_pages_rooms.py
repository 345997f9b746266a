"""The rooms pages: the list, a room's page, making a room, and the scripts they load."""

from __future__ import annotations

import html
from pathlib import Path

from contexts import chat
from web.assets import PHOENIX_JS, STATIC

from ._browser import Browser, running_node, user_with_role


async def test_everyone_sees_the_rooms_but_only_moderators_the_form(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "mod@example.com", "moderator")
        await user_with_role(node, "ann@example.com", "user")
        async with Browser(node) as visitor, Browser(node) as ann, Browser(node) as mod:
            await ann.log_in("ann@example.com")
            await mod.log_in("mod@example.com")

            pages = [await b.get("/rooms") for b in (visitor, ann, mod)]

            for page in pages:
                assert page.status == 200
                assert '<a href="/rooms/lobby">Lobby</a>' in page.text
            assert ['id="new-room"' in page.text for page in pages] == [False, False, True]


async def test_a_moderator_makes_a_room_and_lands_in_it(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as mod:
        await user_with_role(node, "mod@example.com", "moderator")
        await mod.log_in("mod@example.com")
        await mod.get("/rooms")

        made = await mod.post("/rooms", {"slug": "python", "name": "Python"})
        room = await mod.get("/rooms/python")

        assert (made.status, made.location) == (303, "/rooms/python")
        assert room.status == 200
        assert ("info", "Room Python created.") in room.flashes
        assert [r.slug for r in await chat.list_rooms()] == ["lobby", "python"]


async def test_a_room_breaking_the_rules_is_refused_with_the_reasons(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as mod:
        await user_with_role(node, "mod@example.com", "moderator")
        await mod.log_in("mod@example.com")
        await mod.get("/rooms")

        refused = await mod.post("/rooms", {"slug": "Bad Slug", "name": ""}, follow=True)
        taken = await mod.post("/rooms", {"slug": "lobby", "name": "Again"}, follow=True)

        assert refused.flashes == [
            ("error", "Slug should have only lowercase letters, digits and dashes."),
            ("error", "Name can't be blank."),
        ]
        assert taken.flashes == [("error", "Slug has already been taken.")]
        assert [r.slug for r in await chat.list_rooms()] == ["lobby"]


async def test_a_user_may_not_make_a_room(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as ann:
        await ann.register("ann@example.com", "Ann")
        await ann.get("/rooms")

        refused = await ann.post("/rooms", {"slug": "mine", "name": "Mine"})

        assert (refused.status, refused.location) == (302, "/")
        assert await chat.get_room("mine") is None


async def test_a_rooms_page_has_its_messages_a_composer_and_the_scripts(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as ann, Browser(node) as visitor:
        await ann.register("ann@example.com", "Ann <3")
        user = await node.accounts.get_user_by_email("ann@example.com")
        lobby = await chat.get_room("lobby")
        assert user is not None and lobby is not None
        await chat.post_message(lobby.id, user.id, "<b>hello</b>")

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


async def test_a_room_that_does_not_exist_is_a_404(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as visitor:
        page = await visitor.get("/rooms/nowhere")

        assert page.status == 404
        assert "There is no such room." in page.text


async def test_the_scripts_are_served_and_nothing_else_is(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as visitor:
        room_js = await visitor.get("/assets/room.js")
        phoenix_js = await visitor.get("/assets/phoenix.js")
        stylesheet = await visitor.get("/assets/app.css")
        home = await visitor.get("/")
        others = [await visitor.get(p) for p in
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
