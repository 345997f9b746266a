"""``/api/v1/rooms``: callers list rooms, read and post messages (which reach the room's
sockets); moderators create rooms; API writes to posts reach the ``posts`` channel."""

from __future__ import annotations

import otp
from channels.serializer import Broadcast
from hearth import names
from hearth.testing import Conn, TestNode, api_conn, insert, json_response, problem_response
from otp import PubSub


async def test_callers_list_and_read_rooms(conn: Conn) -> None:
    async with await api_conn(await insert("user")) as ann:
        listing = await ann.get("/api/v1/rooms")
        lobby = await ann.get("/api/v1/rooms/lobby")
        v2 = await ann.get("/api/v2/rooms/lobby")
        nowhere = await ann.get("/api/v1/rooms/nowhere")
    anonymous = await conn.get("/api/v1/rooms")

    assert [room["slug"] for room in listing.body["data"]] == ["lobby"]
    assert listing.body["metadata"]["total_entries"] == 1
    assert (lobby.body["slug"], lobby.body["name"]) == ("lobby", "Lobby")
    assert v2.body["data"]["type"] == "room"
    assert v2.body["data"]["attributes"]["slug"] == "lobby"
    problem_response(nowhere, 404, "not_found")
    assert anonymous.status == 401


async def test_moderators_create_rooms_and_users_may_not(hearth_node: TestNode) -> None:
    elixir = {"slug": "elixir", "name": "Elixir"}
    async with (await api_conn(await insert("user")) as user,
                await api_conn(await insert("user", "moderator")) as moderator,
                await api_conn(await insert("user", "admin")) as admin):
        by_user = await user.post("/api/v1/rooms", json=elixir)
        by_moderator = await moderator.post("/api/v1/rooms", json=elixir)
        taken = await admin.post("/api/v1/rooms", json={"slug": "elixir", "name": "Again"})
        invalid = await admin.post("/api/v1/rooms", json={"slug": "Not A Slug!", "name": ""})

        problem_response(by_user, 403, "forbidden")
        assert json_response(by_moderator, 201)["slug"] == "elixir"
        assert by_moderator.headers["Location"] == "/api/v1/rooms/elixir"
        problem_response(taken, 409, "slug_taken")
        assert set(problem_response(invalid, 422, "validation_failed")["errors"]) == {
            "slug", "name"}
        listing = await user.get("/api/v1/rooms")
        assert [room["slug"] for room in listing.body["data"]] == ["elixir", "lobby"]


async def test_a_message_posted_through_the_api_reaches_the_rooms_sockets(
    hearth_node: TestNode,
) -> None:
    async with await api_conn(await insert("user", display_name="ann")) as ann:
        PubSub.subscribe(names.PUBSUB, "room:lobby")

        posted = await ann.post("/api/v1/rooms/lobby/messages", json={"body": "  Hello, room  "})
        heard = await otp.receive(timeout=5, match=lambda m: type(m) is Broadcast)
        blank = await ann.post("/api/v1/rooms/lobby/messages", json={"body": " "})
        history = await ann.get("/api/v1/rooms/lobby/messages")

    assert json_response(posted, 201)["body"] == "Hello, room"
    assert posted.body["author"]["display_name"] == "ann"
    assert (heard.topic, heard.event, heard.payload) == ("room:lobby", "new_message",
                                                         posted.body)
    assert (blank.status, blank.body["errors"]) == (422, {"body": ["can't be blank"]})
    assert history.body["data"] == [posted.body]


async def test_api_writes_publish_post_events(hearth_node: TestNode) -> None:
    async with (await api_conn(await insert("user")) as alice,
                await api_conn(await insert("user")) as bob):
        PubSub.subscribe(names.PUBSUB, "posts")

        made = await alice.post("/api/v1/posts", json={"title": "T", "body": "B"})
        path = f"/api/v1/posts/{made.body['id']}"
        await alice.post("/api/v1/posts", json={"title": "Draft", "body": "B",
                                                "published": False})
        liked = await bob.post(f"{path}/like")
        edited = await alice.patch(path, json={"title": "T2"})
        await alice.patch(path, json={"published": False})
        unpublished_edit = await alice.patch(path, json={"title": "T3"})
        await alice.delete(path)

    # In order: a draft written or edited would show up between these.
    events = [await otp.receive(timeout=5) for _ in range(4)]
    assert [(e.topic, e.event, e.payload) for e in events] == [
        ("posts", "post_created", made.body),
        ("posts", "post_updated", liked.body),
        ("posts", "post_updated", edited.body),
        ("posts", "post_deleted", {"id": made.body["id"]}),
    ]
    assert unpublished_edit.status == 200
