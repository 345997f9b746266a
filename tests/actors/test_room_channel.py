"""``room:<slug>`` as its clients see it: history on join, messages stored before anyone
hears of them, typing for the others, and anonymous readers (seed Examples 32 and 36)."""

from __future__ import annotations

from pathlib import Path

import pytest

import otp
from actors.rate_limiter import USER_QUOTA, RateLimiter
from actors.repo import Repo
from actors.user_socket import UserSocket
from channels.client import JoinError
from channels.testing import ChannelCase
from contexts import chat
from hearth import names
from otp import GenServer, NoReply, Ok, PubSub, Reply

from ._chat import SECRET, chat_store
from ._tree import rows


async def test_join_answers_the_last_fifty_messages_oldest_first(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        lobby = await chat.get_room("lobby")
        assert lobby is not None
        for i in range(55):
            await chat.post_message(lobby.id, ann.id, f"message {i}")
        socket = await channel_case.connect(store.handler, store.token(ann))

        reply, _ = await channel_case.join(socket, "room:lobby")

        messages = reply["messages"]
        assert [m["body"] for m in messages] == [f"message {i}" for i in range(5, 55)]
        stored = await rows("SELECT id, created_at FROM messages ORDER BY id")
        assert [m["id"] for m in messages] == [r["id"] for r in stored[5:]]
        first = messages[0]
        assert set(first) == {"id", "body", "author", "inserted_at"}
        assert first["author"] == {"id": ann.id, "display_name": "Ann"}
        assert first["inserted_at"].endswith("Z")


async def test_a_room_that_does_not_exist_cannot_be_joined(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        socket = await channel_case.connect(store.handler)

        with pytest.raises(JoinError) as refused:
            await channel_case.join(socket, "room:nowhere")

        assert refused.value.response == {"reason": "no such room"}


class _Witness(GenServer):
    """Subscribed to a room's topic: on each broadcast, reads the database at once and keeps
    what it found, to show what was stored by the time the broadcast arrived."""

    def init(self, topic: str) -> object:
        PubSub.subscribe(names.PUBSUB, topic)
        return Ok([])

    async def handle_info(self, msg: object, seen: list[object]) -> object:
        payload = getattr(msg, "payload", None)
        if getattr(msg, "event", None) == "new_message" and isinstance(payload, dict):
            row = await Repo.fetch_one("SELECT id, user_id, body FROM messages WHERE id = ?",
                                       (payload["id"],))
            seen.append((payload, dict(row) if row is not None else None))
        return NoReply(seen)

    def handle_call(self, request: object, from_: object, seen: list[object]) -> object:
        return Reply(list(seen), seen)  # "seen"


async def test_a_new_message_is_stored_then_broadcast_to_everyone_then_acknowledged(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob = await store.user("Ann"), await store.user("Bob")
        ann_socket = await channel_case.connect(store.handler, store.token(ann))
        bob_socket = await channel_case.connect(store.handler, store.token(bob))
        _, room = await channel_case.subscribe_and_join(ann_socket, "room:lobby")
        await channel_case.join(bob_socket, "room:lobby")
        witness = await _Witness.start("room:lobby")

        ref = channel_case.push(room, "new_message", {"body": "  Hello, room!  "})

        acknowledged = await channel_case.assert_reply(ref, "ok")
        broadcast = await channel_case.assert_broadcast("new_message")
        to_bob = await channel_case.assert_push("new_message", to=bob_socket)
        to_ann = await channel_case.assert_push("new_message", to=ann_socket)
        [stored] = await rows("SELECT id, user_id, body, created_at FROM messages")
        assert acknowledged == {"id": stored["id"]}
        assert broadcast == to_bob == to_ann == {
            "id": stored["id"],
            "body": "Hello, room!",
            "author": {"id": ann.id, "display_name": "Ann"},
            "inserted_at": chat.ChatMessage(stored["id"], 1, ann.id, "Ann", "Hello, room!",
                                            stored["created_at"]).inserted_at,
        }
        # The broadcast names the row by the id the database gave it, and the row was there
        # the moment the broadcast arrived.
        [(seen, row)] = await otp.call(witness, "seen")
        assert seen == broadcast
        assert row == {"id": stored["id"], "user_id": ann.id, "body": "Hello, room!"}


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"body": "   "}, {"body": ["can't be blank"]}),
        ({}, {"body": ["can't be blank"]}),
        ({"body": 7}, {"body": ["can't be blank"]}),
        ({"body": "x" * 2001}, {"body": ["should be at most 2000 characters"]}),
    ],
)
async def test_an_invalid_message_is_refused_and_goes_nowhere(
    tmp_path: Path, channel_case: ChannelCase, payload: dict[str, object],
    errors: dict[str, list[str]],
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        socket = await channel_case.connect(store.handler, store.token(ann))
        _, room = await channel_case.subscribe_and_join(socket, "room:lobby")

        ref = channel_case.push(room, "new_message", payload)

        await channel_case.assert_reply(ref, "error", {"reason": "invalid", "errors": errors})
        channel_case.refute_broadcast("new_message")
        assert await rows("SELECT id FROM messages") == []


async def test_typing_reaches_everyone_but_the_typist(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob = await store.user("Ann"), await store.user("Bob")
        ann_socket = await channel_case.connect(store.handler, store.token(ann))
        bob_socket = await channel_case.connect(store.handler, store.token(bob))
        _, ann_room = await channel_case.subscribe_and_join(ann_socket, "room:lobby")
        await channel_case.join(bob_socket, "room:lobby")

        channel_case.push(ann_room, "typing", {})

        await channel_case.assert_push(
            "typing", {"user": {"id": ann.id, "display_name": "Ann"}}, to=bob_socket
        )
        # Ann's next message comes after her typing on the topic: once she has it, she
        # would have had the typing too.
        await channel_case.assert_reply(
            channel_case.push(ann_room, "new_message", {"body": "done"}), "ok"
        )
        await channel_case.assert_push("new_message", to=ann_socket)
        channel_case.refute_push("typing", to=ann_socket)


async def test_an_anonymous_socket_reads_but_may_not_post_or_type(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        lobby = await chat.get_room("lobby")
        assert lobby is not None
        await chat.post_message(lobby.id, ann.id, "before")
        reader = await channel_case.connect(store.handler)
        writer = await channel_case.connect(store.handler, store.token(ann))
        reply, room = await channel_case.subscribe_and_join(reader, "room:lobby")
        _, ann_room = await channel_case.join(writer, "room:lobby")

        posted = channel_case.push(room, "new_message", {"body": "let me in"})
        typed = channel_case.push(room, "typing", {})
        channel_case.push(ann_room, "new_message", {"body": "after"})

        assert [m["body"] for m in reply["messages"]] == ["before"]
        await channel_case.assert_reply(posted, "error", {"reason": "sign in to post"})
        await channel_case.assert_reply(typed, "error", {"reason": "sign in to post"})
        await channel_case.assert_push("new_message", {"body": "after"}, to=reader)
        channel_case.refute_broadcast("new_message", {"body": "let me in"})
        channel_case.refute_broadcast("typing")
        assert [r["body"] for r in await rows("SELECT body FROM messages")] == [
            "before", "after"
        ]


async def test_an_unknown_event_is_answered_with_an_error(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        socket = await channel_case.connect(store.handler)
        _, room = await channel_case.join(socket, "room:lobby")

        await channel_case.assert_reply(channel_case.push(room, "shout", {}), "error",
                                        {"reason": "unknown event 'shout'"})


async def test_a_retry_with_the_same_client_id_is_stored_and_broadcast_once(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        socket = await channel_case.connect(store.handler, store.token(ann))
        _, room = await channel_case.subscribe_and_join(socket, "room:lobby")
        sent = {"body": "only once", "client_id": "tab1-42"}

        first = await channel_case.assert_reply(channel_case.push(room, "new_message", sent),
                                                "ok")
        broadcast = await channel_case.assert_broadcast("new_message")
        retry = await channel_case.assert_reply(channel_case.push(room, "new_message", sent),
                                                "ok")
        other = await channel_case.assert_reply(
            channel_case.push(room, "new_message", {"body": "only once", "client_id": "b"}),
            "ok")
        await channel_case.assert_broadcast("new_message", {"id": other["id"]})

        assert retry == first and other != first
        assert broadcast["client_id"] == "tab1-42" and broadcast["id"] == first["id"]
        channel_case.refute_broadcast("new_message", {"id": first["id"]})
        stored = await rows("SELECT body, client_id FROM messages ORDER BY id")
        assert stored == [{"body": "only once", "client_id": "tab1-42"},
                          {"body": "only once", "client_id": "b"}]
        bad = channel_case.push(room, "new_message", {"body": "x", "client_id": "no spaces"})
        await channel_case.assert_reply(bad, "error", {
            "reason": "invalid", "errors": {"client_id": ["must be 1 to 64 letters, digits, - "
                                                          "or _"]}})


async def test_posting_from_a_socket_spends_the_users_api_quota(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        handler = UserSocket(SECRET, store.tokens, store.accounts, post_quota=(3, 3600.0))
        # One API request already counted against Ann's quota, as the API counts it.
        RateLimiter.hit(USER_QUOTA, str(ann.id), 3, 3600.0)
        socket = await channel_case.connect(handler, store.token(ann))
        _, room = await channel_case.join(socket, "room:lobby")

        replies = [await channel_case.assert_reply(
            channel_case.push(room, "new_message", {"body": f"m{n}"}), status)
            for n, status in enumerate(["ok", "ok", "error"])]

        assert replies[2] == {"reason": "rate_limited"}
        assert [r["body"] for r in await rows("SELECT body FROM messages")] == ["m0", "m1"]
