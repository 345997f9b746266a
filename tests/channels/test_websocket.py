"""The WebSocket transport speaks protocol.md §1 to a client that sends exact frames."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

import otp
from channels import serializer
from channels.client import encode_client
from channels.handler import disconnect_socket
from channels.serializer import Broadcast, Message
from hearth import names
from otp import PubSub

from .conftest import WAIT, Serve, Server, channels_of, sessions


async def test_a_heartbeat_is_answered_without_a_join(server: Server) -> None:
    raw = await server.raw()

    await raw.send(None, "1", "phoenix", "heartbeat")

    assert await raw.recv() == [None, "1", "phoenix", "phx_reply",
                                {"status": "ok", "response": {}}]


async def test_join_ok_carries_the_join_response(server: Server) -> None:
    raw = await server.raw(user="ann")

    _join_ref, reply = await raw.join("room:lobby", {})

    assert reply == {"status": "ok", "response": {"topic": "room:lobby", "user": "ann"}}


async def test_a_refused_join_answers_the_error_and_joins_nothing(server: Server) -> None:
    raw = await server.raw()

    join_ref, reply = await raw.join("room:lobby", {"deny": True})
    pushed = await raw.call(join_ref, "room:lobby", "echo", {"x": 1})

    assert reply == {"status": "error", "response": {"reason": "unauthorized"}}
    assert pushed == {"status": "error", "response": {"reason": "unmatched topic"}}


async def test_a_topic_no_route_matches_is_an_unmatched_topic(server: Server) -> None:
    raw = await server.raw()

    await raw.send("1", "1", "nowhere", "phx_join")

    assert await raw.recv() == ["1", "1", "nowhere", "phx_reply",
                                {"status": "error", "response": {"reason": "unmatched topic"}}]


async def test_a_message_for_a_topic_not_joined_is_an_unmatched_topic(server: Server) -> None:
    raw = await server.raw()

    await raw.send(None, "7", "room:elsewhere", "echo")

    assert await raw.recv() == [None, "7", "room:elsewhere", "phx_reply",
                                {"status": "error", "response": {"reason": "unmatched topic"}}]


async def test_a_join_that_crashes_answers_join_crashed(server: Server) -> None:
    raw = await server.raw()

    _join_ref, reply = await raw.join("room:lobby", {"crash": True})

    assert reply == {"status": "error", "response": {"reason": "join crashed"}}
    assert (await raw.join("room:lobby"))[1]["status"] == "ok"  # the socket carries on


async def test_handle_in_replies_ok_and_error_with_the_channel_join_ref(server: Server) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await raw.send(join_ref, "2", "room:lobby", "echo", {"body": "hi"})
    ok = await raw.recv()
    await raw.send(join_ref, "3", "room:lobby", "fail")
    error = await raw.recv()

    assert ok == [join_ref, "2", "room:lobby", "phx_reply",
                  {"status": "ok", "response": {"body": "hi"}}]
    assert error == [join_ref, "3", "room:lobby", "phx_reply",
                     {"status": "error", "response": {"reason": "refused"}}]


async def test_a_deferred_reply_through_socket_ref_answers_the_right_ref(server: Server) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await raw.send(join_ref, "5", "room:lobby", "later", {"n": 1})

    assert await raw.recv() == [join_ref, "5", "room:lobby", "phx_reply",
                                {"status": "ok", "response": {"later": {"n": 1}}}]


async def test_a_channel_push_carries_the_join_ref_and_no_ref(server: Server) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await raw.send(join_ref, "2", "room:lobby", "push_me", {"n": 1})

    assert await raw.recv() == [join_ref, None, "room:lobby", "pushed", {"n": 1}]
    assert (await raw.recv())[3] == "phx_reply"


async def test_a_push_right_after_join_follows_the_join_reply(server: Server) -> None:
    raw = await server.raw()

    join_ref, reply = await raw.join("room:lobby", {"welcome": True})

    assert reply["status"] == "ok"
    assert await raw.recv() == [join_ref, None, "room:lobby", "welcome", {"topic": "room:lobby"}]


async def test_broadcast_reaches_every_socket_on_the_topic(server: Server) -> None:
    ann, bob = await server.raw(), await server.raw()
    ann_ref, _ = await ann.join("room:lobby")
    await bob.join("room:lobby")
    other = await server.raw()
    await other.join("room:other")

    await ann.send(ann_ref, "9", "room:lobby", "shout", {"body": "yo"})

    assert await ann.recv() == [None, None, "room:lobby", "shout", {"body": "yo"}]
    assert (await ann.recv())[:4] == [ann_ref, "9", "room:lobby", "phx_reply"]
    assert await bob.recv() == [None, None, "room:lobby", "shout", {"body": "yo"}]
    assert await other.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}


async def test_broadcast_from_skips_the_sender(server: Server) -> None:
    ann, bob = await server.raw(), await server.raw()
    ann_ref, _ = await ann.join("room:lobby")
    await bob.join("room:lobby")

    reply = await ann.call(ann_ref, "room:lobby", "whisper", {"body": "psst"})

    assert reply == {"status": "ok", "response": {}}
    assert await bob.recv() == [None, None, "room:lobby", "whisper", {"body": "psst"}]
    # The sender's next frame is the heartbeat reply, not its own whisper.
    assert await ann.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}


async def test_a_broadcast_is_encoded_once_for_all_subscribers(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = [await server.raw() for _ in range(5)]
    for raw in clients:
        await raw.join("room:lobby")
    encodings: list[Message] = []
    frames: list[bytes] = []
    encode, ws_frame = serializer.encode, serializer.ws_frame

    def counting_encode(msg: Message, vsn: int) -> bytes:
        encodings.append(msg)
        return encode(msg, vsn)

    def counting_frame(data: bytes, opcode: int = serializer.TEXT) -> bytes:
        frames.append(data)
        return ws_frame(data, opcode)

    monkeypatch.setattr(serializer, "encode", counting_encode)
    monkeypatch.setattr(serializer, "ws_frame", counting_frame)

    await clients[0].send(None, "9", "room:lobby", "shout", {"body": "once"})
    for raw in clients:
        assert await raw.recv() == [None, None, "room:lobby", "shout", {"body": "once"}]

    assert [m.event for m in encodings] == ["shout"]
    assert len(frames) == 1


async def test_a_duplicate_join_closes_the_old_instance_first(server: Server) -> None:
    raw = await server.raw()
    old_ref, _ = await raw.join("room:lobby")

    await raw.send("5", "5", "room:lobby", "phx_join")

    assert await raw.recv() == [old_ref, old_ref, "room:lobby", "phx_close", {}]
    assert (await raw.recv())[:5] == ["5", "5", "room:lobby", "phx_reply",
                                      {"status": "ok",
                                       "response": {"topic": "room:lobby", "user": None}}]
    assert await raw.call("5", "room:lobby", "echo", {"n": 2}) == {
        "status": "ok", "response": {"n": 2}}


async def test_a_message_with_a_stale_join_ref_is_dropped(server: Server) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await raw.send("999", "2", "room:lobby", "echo", {"stale": True})
    await raw.send(join_ref, "3", "room:lobby", "echo", {"stale": False})

    assert await raw.recv() == [join_ref, "3", "room:lobby", "phx_reply",
                                {"status": "ok", "response": {"stale": False}}]


async def test_a_null_join_ref_is_accepted(server: Server) -> None:
    raw = await server.raw()
    await raw.join("room:lobby")

    assert await raw.call(None, "room:lobby", "echo", {"n": 1}) == {
        "status": "ok", "response": {"n": 1}}


async def test_leave_replies_then_closes_the_channel(server: Server) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await raw.send(join_ref, "2", "room:lobby", "phx_leave")

    assert await raw.recv() == [join_ref, "2", "room:lobby", "phx_reply",
                                {"status": "ok", "response": {}}]
    assert await raw.recv() == [join_ref, join_ref, "room:lobby", "phx_close", {}]
    assert (await raw.call(join_ref, "room:lobby", "echo"))["response"] == {
        "reason": "unmatched topic"}


async def test_leaving_a_topic_not_joined_is_ok(server: Server) -> None:
    raw = await server.raw()

    await raw.send("4", "4", "room:never", "phx_leave")

    assert await raw.recv() == ["4", "4", "room:never", "phx_reply",
                                {"status": "ok", "response": {}}]


async def test_a_channel_that_stops_normally_sends_phx_close(server: Server) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await raw.send(join_ref, "2", "room:lobby", "stop")

    assert await raw.recv() == [join_ref, join_ref, "room:lobby", "phx_close", {}]


async def test_a_channel_crash_errors_that_topic_only(server: Server) -> None:
    raw = await server.raw()
    lobby_ref, _ = await raw.join("room:lobby")
    other_ref, _ = await raw.join("room:other")

    await raw.send(lobby_ref, "9", "room:lobby", "crash")

    assert await raw.recv() == [lobby_ref, lobby_ref, "room:lobby", "phx_error",
                                {"reason": "channel_crash"}]
    assert await raw.call(other_ref, "room:other", "echo", {"still": "here"}) == {
        "status": "ok", "response": {"still": "here"}}
    _rejoin_ref, reply = await raw.join("room:lobby")
    assert reply["status"] == "ok"


async def test_closing_the_socket_ends_the_session_and_its_channels(server: Server) -> None:
    raw = await server.raw(user="ann")
    await raw.join("room:lobby")
    await raw.join("room:other")
    [session] = sessions()
    processes = [session, *channels_of(session)]
    refs = [otp.monitor(pid) for pid in processes]

    await raw.close()

    for ref in refs:
        await otp.receive(timeout=WAIT, match=lambda m, ref=ref: type(m) is otp.Down
                          and m.ref is ref)
    assert len(processes) == 3


# -- the handshake -----------------------------------------------------------------------------


async def test_a_refused_connect_is_a_403_before_the_upgrade(server: Server) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.raw(token="bad")

    assert refused.value.status == 403


async def test_an_origin_not_allowed_is_a_403(serve: Serve) -> None:
    server = await serve(origins=("allowed.example",))

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.raw(headers={"Origin": "https://evil.example"})
    allowed = await server.raw(headers={"Origin": "https://allowed.example"})
    same_host = await server.raw(headers={"Origin": server.url.replace("/socket", "")})

    assert refused.value.status == 403
    assert await allowed.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}
    assert await same_host.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}


async def test_an_unknown_vsn_is_a_400(server: Server) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.raw(vsn="3.0.0")

    assert refused.value.status == 400


async def test_the_socket_offers_the_phoenix_subprotocol(server: Server) -> None:
    ws = await server.http.ws_connect(server.ws_url(), protocols=("phoenix",))

    assert ws.protocol == "phoenix"
    await ws.close()


async def test_disconnect_socket_closes_with_1001(server: Server) -> None:
    ann, ann_again, bob = (await server.raw(user="ann"), await server.raw(user="ann"),
                           await server.raw(user="bob"))
    await ann.join("room:lobby")

    disconnect_socket(names.PUBSUB, "users_socket:ann")

    assert await ann.closed() == 1001
    assert await ann_again.closed() == 1001
    assert await bob.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}


async def test_a_killed_session_closes_its_socket_with_1001(server: Server) -> None:
    raw = await server.raw()
    await raw.join("room:lobby")
    [session] = sessions()

    otp.exit(session, "kill")

    assert await raw.closed() == 1001


async def test_shutting_down_asks_clients_to_come_back_later(server: Server) -> None:
    raw = await server.raw()
    await raw.join("room:lobby")
    [session] = sessions()
    ref = otp.monitor(session)

    stopping = asyncio.ensure_future(server.stop())

    assert await raw.closed() == 1012
    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)
    await stopping


# -- serializers -------------------------------------------------------------------------------


async def test_the_v1_serializer_speaks_objects(server: Server) -> None:
    raw = await server.raw(vsn=None)

    await raw.ws.send_str(orjson.dumps({"topic": "room:lobby", "event": "phx_join",
                                        "payload": {}, "ref": "1", "join_ref": "1"}).decode())
    joined = await raw.recv()
    await raw.ws.send_str(orjson.dumps({"topic": "room:lobby", "event": "push_me",
                                        "payload": {"n": 1}, "ref": "2"}).decode())
    pushed = await raw.recv()

    assert joined == {"topic": "room:lobby", "event": "phx_reply", "ref": "1",
                      "payload": {"status": "ok",
                                  "response": {"topic": "room:lobby", "user": None}}}
    assert pushed == {"topic": "room:lobby", "event": "pushed", "ref": None,
                      "payload": {"n": 1}}


async def test_a_binary_push_reaches_handle_in_as_bytes_and_bytes_go_back(
    server: Server,
) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")
    frame, _binary = encode_client(Message(join_ref, "2", "room:lobby", "upload", b"\x00\x01ab"))

    await raw.ws.send_bytes(frame)

    assert await raw.recv() == Message(join_ref, None, "room:lobby", "bytes", b"ba\x01\x00")
    assert await raw.recv() == Message(join_ref, "2", "room:lobby", "phx_reply",
                                       {"status": "ok", "response": b"ba\x01\x00"})


async def test_a_binary_broadcast_is_a_kind_2_frame(server: Server) -> None:
    raw = await server.raw()
    await raw.join("room:lobby")

    PubSub.broadcast(names.PUBSUB, "room:lobby", Broadcast("room:lobby", "blob", b"\xff\x00"))

    assert await raw.recv() == Message(None, None, "room:lobby", "blob", b"\xff\x00")
