"""One client's flood costs only that client: garbage closes it, a backlog holds it back, a
rate refuses it, and what it left queued when it went is not handled."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson
import pytest

import otp
from channels.handler import Limits

from ._app import GATE, Gate
from .conftest import WAIT, Raw, Serve, Server, channels_of, sessions


@pytest.fixture
def gate() -> Iterator[Gate]:
    GATE.append(Gate())
    yield GATE[-1]
    GATE[-1].open.set()
    GATE.pop()


def backlog() -> int:
    """Client frames waiting in every session's and channel's mailbox."""
    total = 0
    for session in sessions():
        for pid in [session, *channels_of(session)]:
            total += (otp.process_info(pid) or {}).get("message_queue_len", 0)
    return total


async def until(condition: object, what: str) -> None:
    """Let the loop run (the server is in this process) until ``condition()`` holds."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0)


async def send_waits(raw: Raw, join_ref: str, count: int) -> None:
    for n in range(count):
        await raw.send(join_ref, f"w{n}", "room:lobby", "wait", {"n": n})


async def test_a_client_sending_without_waiting_is_held_back_and_loses_nothing(
    serve: Serve, gate: Gate
) -> None:
    server = await serve(limits=Limits(max_inflight=10, event_burst=1000))
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")

    await send_waits(raw, join_ref, 300)
    await until(lambda: backlog() >= 9, "the server read the client's frames")
    for _ in range(500):  # every turn the reader would need to take in all 300
        await asyncio.sleep(0)
    held = backlog()
    gate.open.set()
    replies = [await raw.recv() for _ in range(300)]

    assert held <= 10
    assert [r[1] for r in replies] == [f"w{n}" for n in range(300)]
    assert all(r[4] == {"status": "ok", "response": {"n": int(r[1][1:])}} for r in replies)


async def test_a_channel_whose_socket_is_gone_handles_nothing_it_left_queued(
    server: Server, gate: Gate
) -> None:
    raw = await server.raw()
    join_ref, _ = await raw.join("room:lobby")
    (session,) = sessions()
    (channel,) = channels_of(session)
    ref = otp.monitor(channel)

    await send_waits(raw, join_ref, 50)
    await until(lambda: backlog() >= 49, "the channel had the frames queued")
    await raw.close()
    await until(lambda: not sessions(), "the session ended with its connection")
    gate.open.set()

    down = await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)
    assert down.reason in ("shutdown", ("shutdown", "closed"))
    assert gate.passed <= 1  # the one it was waiting on, at most


async def test_bad_frames_past_the_limit_close_the_socket_with_1008_and_log_one_line(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = await serve(limits=Limits(max_bad_frames=3))
    flood, other = await server.raw(), await server.raw()

    with caplog.at_level(logging.WARNING, logger="channels"):
        for _ in range(50):
            if flood.ws.closed:
                break
            await flood.ws.send_str("x")
        code = await flood.closed()

    assert code == 1008
    assert await other.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}
    lines = [r.getMessage() for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("dropped 4 bad frame(s) from 127.0.0.1 (closed: too many)")


def _client_frame(payload: bytes, masked: bool) -> bytes:
    head = bytes([0x81, (0x80 if masked else 0) | len(payload)])
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _handshake(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(server.ws_url())
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _next_server_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await asyncio.wait_for(reader.readexactly(2), WAIT)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    return first & 0x0F, await reader.readexactly(length)


@pytest.mark.parametrize("split", [False, True])
async def test_an_unmasked_client_frame_closes_the_socket_with_1002(
    server: Server, split: bool
) -> None:
    reader, writer = await _handshake(server)
    heartbeat = orjson.dumps([None, "1", "phoenix", "heartbeat", {}])
    good = _client_frame(heartbeat, masked=True)
    # A masked frame (cut in two, so its header spans two reads) is answered; then an
    # unmasked one closes the connection.
    if split:
        writer.write(good[:3])
        await writer.drain()
        writer.write(good[3:])
    else:
        writer.write(good)
    opcode, reply = await _next_server_frame(reader)
    writer.write(_client_frame(heartbeat, masked=False))
    closing, close = await _next_server_frame(reader)

    assert opcode == 1 and orjson.loads(reply)[3] == "phx_reply"
    assert closing == 8 and int.from_bytes(close[:2], "big") == 1002
    writer.close()


async def test_a_users_events_past_the_rate_are_refused_on_all_their_sockets(
    serve: Serve,
) -> None:
    server = await serve(limits=Limits(event_rate=0.001, event_burst=4))
    tab1, tab2 = await server.raw(user="ann"), await server.raw(user="ann")
    other = await server.raw(user="bob")
    join1, _ = await tab1.join("room:lobby")
    join2, _ = await tab2.join("room:lobby")

    first = await tab1.call(join1, "room:lobby", "echo", {"n": 1})
    second = await tab2.call(join2, "room:lobby", "echo", {"n": 2})
    refused = await tab1.call(join1, "room:lobby", "echo", {"n": 3})
    refused_too = await tab2.call(join2, "room:lobby", "echo", {"n": 4})

    assert first == {"status": "ok", "response": {"n": 1}}
    assert second == {"status": "ok", "response": {"n": 2}}
    assert refused == refused_too == {"status": "error", "response": {"reason": "rate_limited"}}
    assert await tab1.call(None, "phoenix", "heartbeat") == {"status": "ok", "response": {}}
    bob_join, _ = await other.join("room:lobby")
    assert (await other.call(bob_join, "room:lobby", "echo", {}))["status"] == "ok"
