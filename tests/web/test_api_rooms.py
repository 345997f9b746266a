"""``/api/v1/rooms``: callers list rooms, read and post messages (which reach the room's
sockets); moderators create rooms; API writes to posts reach the ``posts`` channel."""

from __future__ import annotations

from pathlib import Path

import otp
from channels.serializer import Broadcast
from hearth import names
from otp import PubSub

from ._api import api_node


async def test_callers_list_and_read_rooms(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")

        listing = await node.request("GET", "/api/v1/rooms", token=token)
        lobby = await node.request("GET", "/api/v1/rooms/lobby", token=token)
        v2 = await node.request("GET", "/api/v2/rooms/lobby", token=token)
        nowhere = await node.request("GET", "/api/v1/rooms/nowhere", token=token)
        anonymous = await node.request("GET", "/api/v1/rooms")

        assert [room["slug"] for room in listing.body["data"]] == ["lobby"]
        assert listing.body["metadata"]["total_entries"] == 1
        assert (lobby.body["slug"], lobby.body["name"]) == ("lobby", "Lobby")
        assert v2.body["data"]["type"] == "room"
        assert v2.body["data"]["attributes"]["slug"] == "lobby"
        assert (nowhere.status, nowhere.code) == (404, "not_found")
        assert anonymous.status == 401


async def test_moderators_create_rooms_and_users_may_not(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        user = await node.token("ann@example.com")
        moderator = await node.token("max@example.com", "moderator")
        admin = await node.token("root@example.com", "admin")

        by_user = await node.request("POST", "/api/v1/rooms", token=user,
                                     json={"slug": "elixir", "name": "Elixir"})
        by_moderator = await node.request("POST", "/api/v1/rooms", token=moderator,
                                          json={"slug": "elixir", "name": "Elixir"})
        taken = await node.request("POST", "/api/v1/rooms", token=admin,
                                   json={"slug": "elixir", "name": "Again"})
        invalid = await node.request("POST", "/api/v1/rooms", token=admin,
                                     json={"slug": "Not A Slug!", "name": ""})

        assert (by_user.status, by_user.code) == (403, "forbidden")
        assert by_moderator.status == 201
        assert by_moderator.body["slug"] == "elixir"
        assert by_moderator.headers["Location"] == "/api/v1/rooms/elixir"
        assert (taken.status, taken.code) == (409, "slug_taken")
        assert (invalid.status, invalid.code) == (422, "validation_failed")
        assert set(invalid.body["errors"]) == {"slug", "name"}
        listing = await node.request("GET", "/api/v1/rooms", token=user)
        assert [room["slug"] for room in listing.body["data"]] == ["elixir", "lobby"]


async def test_a_message_posted_through_the_api_reaches_the_rooms_sockets(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        PubSub.subscribe(names.PUBSUB, "room:lobby")

        posted = await node.request("POST", "/api/v1/rooms/lobby/messages", token=token,
                                    json={"body": "  Hello, room  "})
        heard = await otp.receive(timeout=5, match=lambda m: type(m) is Broadcast)
        blank = await node.request("POST", "/api/v1/rooms/lobby/messages", token=token,
                                   json={"body": " "})
        history = await node.request("GET", "/api/v1/rooms/lobby/messages", token=token)

        assert posted.status == 201
        assert posted.body["body"] == "Hello, room"
        assert posted.body["author"]["display_name"] == "ann"
        assert (heard.topic, heard.event, heard.payload) == ("room:lobby", "new_message",
                                                             posted.body)
        assert (blank.status, blank.body["errors"]) == (422, {"body": ["can't be blank"]})
        assert history.body["data"] == [posted.body]


async def test_api_writes_publish_post_events(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        bob = await node.token("bob@example.com")
        PubSub.subscribe(names.PUBSUB, "posts")

        made = await node.request("POST", "/api/v1/posts", token=alice,
                                  json={"title": "T", "body": "B"})
        path = f"/api/v1/posts/{made.body['id']}"
        await node.request("POST", "/api/v1/posts", token=alice,
                           json={"title": "Draft", "body": "B", "published": False})
        liked = await node.request("POST", f"{path}/like", token=bob)
        edited = await node.request("PATCH", path, token=alice, json={"title": "T2"})
        await node.request("PATCH", path, token=alice, json={"published": False})
        unpublished_edit = await node.request("PATCH", path, token=alice, json={"title": "T3"})
        await node.request("DELETE", path, token=alice)

        # In order: a draft written or edited would show up between these.
        events = [await otp.receive(timeout=5) for _ in range(4)]
        assert [(e.topic, e.event, e.payload) for e in events] == [
            ("posts", "post_created", made.body),
            ("posts", "post_updated", liked.body),
            ("posts", "post_updated", edited.body),
            ("posts", "post_deleted", {"id": made.body["id"]}),
        ]
        assert unpublished_edit.status == 200
