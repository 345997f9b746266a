"""A closed connection leaves no reference cycle behind.

A node freezes the objects of the connections it holds (``otp.gc_policy``), and the collector
never frees a cycle among frozen objects: whatever a connection leaves when it closes must go
by reference counting alone, or a node that freezes leaks it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from urllib.parse import urlsplit

import orjson

from .conftest import WAIT, Server, sessions

CONNECTIONS = 20
CYCLE = ("these server objects of closed connections are held by a reference cycle: a node "
         "that froze them (otp.gc_policy) never frees them; break the cycle at teardown")


async def until(condition: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def masked(text: bytes) -> bytes:
    """A client text frame with a zero mask (clients mask every frame)."""
    assert len(text) < 126
    return bytes([0x81, 0x80 | len(text), 0, 0, 0, 0]) + text


async def joined_client(server: Server) -> asyncio.StreamWriter:
    """A WebSocket client over a bare TCP stream, joined to ``room:lobby``."""
    url = urlsplit(server.ws_url())
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    writer.write(masked(orjson.dumps(["1", "1", "room:lobby", "phx_join", {}])))
    header = await reader.readexactly(2)  # the join's reply: the channel is up
    assert header[1] < 126
    await reader.readexactly(header[1])  # all of it: a socket closed unread sends a reset
    return writer


def server_garbage() -> list[str]:
    """The server-side objects a full collection finds unreachable now."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage]
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.collect()  # what was saved above is garbage again: free it
    return [name for name in found
            if name.startswith(("aiohttp.web", "channels.", "otp.", "web."))]


async def test_clients_that_vanish_leave_no_cycle_on_the_server(server: Server) -> None:
    server_garbage()
    clients = [await joined_client(server) for _ in range(CONNECTIONS)]
    await until(lambda: len(sessions()) == CONNECTIONS)

    for writer in clients:
        writer.close()  # no close frame: the client is just gone (FIN)
    await until(lambda: not sessions() and not server.runner.server.connections)

    assert server_garbage() == [], CYCLE


async def test_clients_that_close_leave_no_cycle_on_the_server(server: Server) -> None:
    server_garbage()
    clients = [await server.raw() for _ in range(CONNECTIONS)]
    for client in clients:
        await client.join("room:lobby")

    for client in clients:
        await client.close()
    await until(lambda: not sessions() and not server.runner.server.connections)

    assert server_garbage() == [], CYCLE
