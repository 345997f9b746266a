"""What one client can cost is bounded (``[channels]``), and garbage costs it nothing."""

from __future__ import annotations

import logging

import pytest

import otp
from channels.conn import metrics
from channels.handler import Limits
from channels.serializer import Broadcast
from hearth import names
from otp import PubSub
from web import sockets

from .conftest import WAIT, Raw, Serve, Server, sessions


async def test_the_101st_channel_is_refused(server: Server) -> None:
    raw = await server.raw()
    for n in range(100):
        _, reply = await raw.join(f"room:{n}")
        assert reply["status"] == "ok"

    _, reply = await raw.join("room:100")

    assert reply == {"status": "error", "response": {"reason": "too many channels joined"}}


async def test_a_topic_over_the_limit_is_refused(server: Server) -> None:
    raw = await server.raw()

    _, refused = await raw.join("room:" + "x" * 251)
    _, accepted = await raw.join("room:" + "x" * 250)

    assert refused == {"status": "error", "response": {"reason": "topic too long"}}
    assert accepted["status"] == "ok"


async def test_a_frame_over_max_frame_bytes_closes_with_1009(serve: Serve) -> None:
    server = await serve(limits=Limits(max_frame_bytes=2048))
    raw = await server.raw()

    await raw.send(None, "1", "phoenix", "heartbeat", {"pad": "x" * 4096})

    assert await raw.closed() == 1009


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"an": "object"}',
        '["1", "1", "room:lobby"]',
        '["1", "1", "room:lobby", "phx_join", "not an object"]',
        '["1", "1", 7, "phx_join", {}]',
        b"\x05garbage",
        b"\x00\x09\x00\x00\x00",
        b"\x00\x01\x01\x01\x01\xff\xfe\xfd\xfc",
    ],
)
async def test_a_malformed_frame_is_counted_and_the_socket_carries_on(
    server: Server, frame: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")
    before = metrics["bad_frames"]
    (session,) = sessions()
    ref = otp.monitor(session)

    with caplog.at_level(logging.WARNING, logger="channels"):
        if isinstance(frame, bytes):
            await raw.ws.send_bytes(frame)
        else:
            await raw.ws.send_str(frame)
        reply = await raw.call(join_ref, "room:lobby", "echo", {"still": "fine"})
        logged_at_once = caplog.text
        await raw.close()
        await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)

    assert reply == {"status": "ok", "response": {"still": "fine"}}
    assert metrics["bad_frames"] == before + 1
    assert "bad frame" not in logged_at_once  # one line per connection, when it ends
    assert "dropped 1 bad frame(s) from 127.0.0.1; the first: " in caplog.text


async def test_a_silent_socket_is_closed_with_1001(serve: Serve) -> None:
    server = await serve(limits=Limits(idle_timeout=0.2))
    raw = await server.raw()

    assert await raw.closed() == 1001


async def flood_until_slow_consumer(slow: Raw, fast: Raw) -> None:
    """Broadcast to both until the server gives up on ``slow``, which reads nothing; ``fast``
    reads each broadcast before the next is sent. Once the kernel's buffers towards the slow
    client are full, its unsent bytes pile up in the server until they pass the limit."""
    await slow.join("room:lobby")
    await fast.join("room:lobby")
    before = metrics["slow_consumers_disconnected"]
    chunk = "x" * 32 * 1024
    sent = 0
    while metrics["slow_consumers_disconnected"] == before:
        assert sent < 2000, "the slow consumer was never disconnected"
        bcast = Broadcast("room:lobby", "big", {"n": sent, "pad": chunk})
        PubSub.broadcast(names.PUBSUB, "room:lobby", bcast)
        assert (await fast.recv())[3:] == ["big", {"n": sent, "pad": chunk}]
        sent += 1
    assert metrics["slow_consumers_disconnected"] == before + 1


async def test_a_slow_consumer_is_closed_with_1013_and_counted(serve: Serve) -> None:
    server = await serve(limits=Limits(outbound_buffer_bytes=64 * 1024))
    slow, fast = await server.raw(), await server.raw()

    await flood_until_slow_consumer(slow, fast)

    assert await fast.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}
    assert await slow.closed() == 1013  # after reading what was queued before the close


async def test_a_slow_consumer_that_never_reads_is_dropped(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "CLOSE_TIMEOUT", 0.1)
    server = await serve(limits=Limits(outbound_buffer_bytes=64 * 1024))
    slow, fast = await server.raw(user="slow"), await server.raw()
    [session] = [pid for pid in sessions()
                 if (otp.process_info(pid) or {}).get("socket_id") == "users_socket:slow"]
    ref = otp.monitor(session)

    await flood_until_slow_consumer(slow, fast)

    # Its close frame is stuck behind what it does not read: the connection is dropped.
    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)
    assert await fast.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}
