"""channels.testing, as a channel test would use it (seed Example 36)."""

from __future__ import annotations

import pytest

from channels.client import ConnectError, JoinError
from channels.handler import disconnect_socket
from channels.testing import ChannelCase
from hearth import names

from ._app import UserSocket
from .conftest import Server


async def test_a_pushed_message_is_broadcast(channel_case: ChannelCase) -> None:
    socket = await channel_case.connect(UserSocket(), {"user": "ann"})
    reply, room = await channel_case.subscribe_and_join(socket, "room:123")

    ref = channel_case.push(room, "shout", {"body": "Hello"})

    assert reply == {"topic": "room:123", "user": "ann"}
    await channel_case.assert_reply(ref, "ok")
    await channel_case.assert_broadcast("shout", {"body": "Hello"})
    await channel_case.assert_push("shout", {"body": "Hello"})  # the socket got it too


async def test_the_join_push_and_replies(channel_case: ChannelCase) -> None:
    socket = await channel_case.connect(UserSocket())
    _, room = await channel_case.subscribe_and_join(socket, "room:1", {"welcome": True})

    await channel_case.assert_push("welcome", {"topic": "room:1"})
    assert await channel_case.assert_reply(channel_case.push(room, "echo", {"a": 1, "b": 2}),
                                           "ok", {"a": 1}) == {"a": 1, "b": 2}
    await channel_case.assert_reply(channel_case.push(room, "fail"), "error",
                                    {"reason": "refused"})
    await channel_case.assert_reply(channel_case.push(room, "later", {"n": 1}), "ok",
                                    {"later": {"n": 1}})


async def test_broadcast_from_is_a_broadcast_the_sender_does_not_get(
    channel_case: ChannelCase,
) -> None:
    ann = await channel_case.connect(UserSocket())
    bob = await channel_case.connect(UserSocket())
    _, ann_room = await channel_case.subscribe_and_join(ann, "room:1")
    await channel_case.join(bob, "room:1")

    await channel_case.assert_reply(channel_case.push(ann_room, "whisper", {"w": 1}), "ok")

    await channel_case.assert_broadcast("whisper", {"w": 1})
    await channel_case.assert_push("whisper", to=bob)
    channel_case.refute_push("whisper", to=ann)


async def test_refute_broadcast_after_a_reply(channel_case: ChannelCase) -> None:
    socket = await channel_case.connect(UserSocket())
    _, room = await channel_case.subscribe_and_join(socket, "room:1")

    await channel_case.assert_reply(channel_case.push(room, "push_me", {"x": 1}), "ok")

    channel_case.refute_broadcast("pushed")
    await channel_case.assert_push("pushed", {"x": 1})


async def test_a_refused_join_and_a_refused_connect(channel_case: ChannelCase) -> None:
    socket = await channel_case.connect(UserSocket())

    with pytest.raises(JoinError) as refused:
        await channel_case.subscribe_and_join(socket, "room:1", {"deny": True})
    with pytest.raises(ConnectError):
        await channel_case.connect(UserSocket(), {"token": "bad"})

    assert refused.value.response == {"reason": "unauthorized"}


async def test_leave_crash_and_disconnect(channel_case: ChannelCase) -> None:
    socket = await channel_case.connect(UserSocket(), {"user": "ann"})
    _, lobby = await channel_case.join(socket, "room:lobby")
    _, other = await channel_case.join(socket, "room:other")

    await channel_case.assert_reply(channel_case.leave(lobby), "ok")
    await channel_case.assert_push("phx_close", topic="room:lobby")
    channel_case.push(other, "crash")
    await channel_case.assert_push("phx_error", {"reason": "channel_crash"}, topic="room:other")
    disconnect_socket(names.PUBSUB, "users_socket:ann")

    assert await channel_case.assert_closed(socket) == 1001


async def test_binary_pushes_and_the_v1_serializer(channel_case: ChannelCase) -> None:
    v1 = await channel_case.connect(UserSocket(), vsn=1)
    _, room = await channel_case.join(v1, "room:1")

    await channel_case.assert_reply(channel_case.push(room, "echo", {"v": 1}), "ok", {"v": 1})
    v2 = await channel_case.connect(UserSocket())
    _, room2 = await channel_case.join(v2, "room:1")
    assert await channel_case.assert_reply(channel_case.push(room2, "up", b"abc"),
                                           "ok") == b"cba"
    assert await channel_case.assert_push("bytes") == b"cba"


async def test_a_missing_message_fails_the_assertion_in_bounded_time() -> None:
    case = ChannelCase(timeout=0.05)

    with pytest.raises(AssertionError, match="expected a broadcast 'never'"):
        await case.assert_broadcast("never")
    with pytest.raises(AssertionError, match="expected a push 'never'"):
        await case.assert_push("never")


async def test_the_same_helpers_over_a_real_socket(
    channel_case: ChannelCase, server: Server
) -> None:
    socket = await channel_case.connect_url(server.url, {"user": "ann"})
    reply, room = await channel_case.subscribe_and_join(socket, "room:9", {"welcome": True})

    ref = channel_case.push(room, "shout", {"body": "over the wire"})

    assert reply == {"topic": "room:9", "user": "ann"}
    await channel_case.assert_push("welcome")
    await channel_case.assert_reply(ref, "ok")
    await channel_case.assert_broadcast("shout", {"body": "over the wire"})
    await channel_case.assert_push("shout", {"body": "over the wire"})
    disconnect_socket(names.PUBSUB, "users_socket:ann")
    assert await channel_case.assert_closed(socket) == 1001
