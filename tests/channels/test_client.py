"""The Python client: joins, pushes, replies, heartbeats, reconnects and rejoins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from channels.client import (
    ConnectError,
    Disconnected,
    JoinError,
    PushTimeout,
    Reply,
    Socket,
)
from channels.handler import ConnectInfo, disconnect_socket
from channels.serializer import Broadcast, Message
from hearth import names
from otp import PubSub

from ._app import UserSocket
from .conftest import WAIT, Serve, Server

FAST = {"reconnect_after": (0.01,), "rejoin_after": (0.01,)}


@pytest.fixture
async def socket(server: Server) -> AsyncIterator[Socket]:
    async with Socket(server.url, {"user": "ann"}, **FAST) as socket:
        yield socket


def next_call(register: Any) -> asyncio.Future[Any]:
    """A future for the next call of a callback registered with ``register(callback)``."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def callback(*args: Any) -> None:
        if not future.done():
            future.set_result(args[0] if args else None)

    register(callback)
    return future


async def test_join_push_and_leave(socket: Socket) -> None:
    room = socket.channel("room:lobby", {"welcome": True})

    joined = await room.join()
    welcome = await room.receive(timeout=WAIT)
    ok = await room.push("echo", {"body": "hi"})
    error = await room.push("fail")
    await room.leave()

    assert joined == {"topic": "room:lobby", "user": "ann"}
    assert (welcome.event, welcome.payload) == ("welcome", {"topic": "room:lobby"})
    assert ok == Reply("ok", {"body": "hi"})
    assert error == Reply("error", {"reason": "refused"})
    assert room.state == "closed"
    with pytest.raises(RuntimeError, match="push before join"):
        room.push("echo")


async def test_broadcasts_reach_the_inbox_and_callbacks(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()
    called = next_call(lambda cb: room.on("news", cb))

    PubSub.broadcast(names.PUBSUB, "room:lobby", Broadcast("room:lobby", "news", {"n": 1}))

    assert await asyncio.wait_for(called, WAIT) == {"n": 1}
    msg = await room.receive(timeout=WAIT)
    assert msg == Message(None, None, "room:lobby", "news", {"n": 1})


async def test_a_refused_join_raises_and_closes_the_channel(socket: Socket) -> None:
    room = socket.channel("room:lobby", {"deny": True})

    with pytest.raises(JoinError) as refused:
        await room.join()

    assert refused.value.response == {"reason": "unauthorized"}
    assert room.state == "closed"


async def test_a_refused_connect_raises_with_the_status(server: Server) -> None:
    socket = Socket(server.url, {"token": "bad"})

    with pytest.raises(ConnectError) as refused:
        await socket.connect()

    assert refused.value.status == 403


async def test_a_push_without_reply_times_out(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()

    with pytest.raises(PushTimeout):
        await room.push("ignore", timeout=0.05)


async def test_a_push_while_rejoining_waits_for_the_rejoin(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()
    room.push("crash")
    assert (await room.receive(timeout=WAIT)).event == "phx_error"

    buffered = room.push("echo", {"buffered": True})

    assert room.state in ("errored", "joining")
    assert await buffered == Reply("ok", {"buffered": True})
    assert room.state == "joined"


async def test_binary_payloads_go_both_ways(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()

    reply = await room.push("upload", b"\x00\x01\x02")
    pushed = await room.receive(timeout=WAIT)

    assert reply == Reply("ok", b"\x02\x01\x00")
    assert pushed.payload == b"\x02\x01\x00"


async def test_the_v1_serializer(server: Server) -> None:
    async with Socket(server.url, vsn="1.0.0") as socket:
        room = socket.channel("room:lobby")
        await room.join()

        assert await room.push("echo", {"v": 1}) == Reply("ok", {"v": 1})


async def test_params_and_auth_token_reach_connect(serve: Serve) -> None:
    seen: list[tuple[dict[str, str], ConnectInfo]] = []

    class Recording(UserSocket):
        async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any]:
            seen.append((params, info))
            return {}

    server = await serve(handler=Recording())
    params = {"token": "abc", "user": {"id": 7, "admin": True}}
    async with Socket(server.url, params, auth_token="s3cret"):
        pass

    [(got, info)] = seen
    assert got == {"token": "abc", "user[id]": "7", "user[admin]": "true"}
    assert info.auth_token == "s3cret"


async def test_heartbeats_are_sent_and_answered(server: Server) -> None:
    beats: asyncio.Queue[Message] = asyncio.Queue()
    async with Socket(server.url, heartbeat_interval=0.02) as socket:
        socket.on_message(lambda m: beats.put_nowait(m) if m.topic == "phoenix" else None)

        first = await asyncio.wait_for(beats.get(), WAIT)
        second = await asyncio.wait_for(beats.get(), WAIT)

    assert first.payload == second.payload == {"status": "ok", "response": {}}
    assert int(second.ref or 0) > int(first.ref or 0)


async def test_pushes_in_flight_fail_when_the_connection_goes(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()
    pending = room.push("ignore")

    await socket.disconnect()

    with pytest.raises(Disconnected):
        await pending
    assert room.state == "errored"


async def test_a_server_side_disconnect_reconnects_and_rejoins(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()
    old_ref = room.join_ref
    closed = next_call(socket.on_close)
    rejoined = next_call(lambda cb: room.on("phx_join", cb))

    disconnect_socket(names.PUBSUB, "users_socket:ann")

    assert await asyncio.wait_for(closed, WAIT) == 1001
    assert (await asyncio.wait_for(rejoined, WAIT))["topic"] == "room:lobby"
    assert room.state == "joined" and room.join_ref != old_ref
    assert await room.push("echo", {"back": True}) == Reply("ok", {"back": True})


async def test_a_channel_crash_rejoins_on_the_rejoin_schedule(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()
    other = socket.channel("room:other")
    await other.join()
    old_ref = room.join_ref
    rejoined = next_call(lambda cb: room.on("phx_join", cb))

    room.push("crash")

    error = await room.receive(timeout=WAIT)
    assert (error.event, error.payload) == ("phx_error", {"reason": "channel_crash"})
    await asyncio.wait_for(rejoined, WAIT)
    assert room.join_ref != old_ref
    assert await room.push("echo", {"n": 1}) == Reply("ok", {"n": 1})
    assert other.state == "joined" and other.join_ref is not None


async def test_phx_close_ends_the_channel_without_rejoin(socket: Socket) -> None:
    room = socket.channel("room:lobby")
    await room.join()

    room.push("stop")
    events = [msg.event async for msg in room]

    assert events == ["phx_close"]
    assert room.state == "closed"


# -- against a server that misbehaves on purpose ----------------------------------------------


async def test_an_unanswered_heartbeat_reconnects() -> None:
    connections: asyncio.Queue[int] = asyncio.Queue()

    async def silent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connections.put_nowait(1)
        async for msg in ws:
            assert msg.type is WSMsgType.TEXT  # heartbeats, never answered
        return ws

    app = web.Application()
    app.router.add_get("/socket/websocket", silent)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        socket = Socket(f"http://127.0.0.1:{port}/socket", heartbeat_interval=0.02, **FAST)
        await socket.connect()
        reopened = next_call(socket.on_open)
        await asyncio.wait_for(connections.get(), WAIT)

        await asyncio.wait_for(reopened, WAIT)

        assert socket.connected
        await socket.disconnect()
    finally:
        await runner.cleanup()
