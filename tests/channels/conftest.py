"""A socket endpoint on a free port, and WebSocket clients that see the exact frames.

The node's PubSub and session supervisor run under their usual names for each test; the
endpoint is a bare aiohttp application with ``mount_socket``, as the real one mounts it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from aiohttp import web

import otp
from channels.client import decode_server_binary
from channels.handler import Limits, SocketHandler
from hearth import names
from otp import DynamicSupervisor, PubSub
from web.keys import SECRET
from web.sockets import SocketMount, mount_socket

from ._app import UserSocket

WAIT = 5.0
SECRET_KEY = b"a test secret of more than twenty bytes"


@dataclass
class Server:
    """A mounted socket at ``url`` (``http://127.0.0.1:<port>/socket``)."""

    url: str
    http: aiohttp.ClientSession
    runner: web.AppRunner

    async def stop(self) -> None:
        """Shut the application down, as the node does when it stops."""
        await self.runner.cleanup()

    def ws_url(self, vsn: str | None = "2.0.0", **params: str) -> str:
        query = {**params, **({"vsn": vsn} if vsn is not None else {})}
        return f"{self.url}/websocket?{urlencode(query)}"

    @property
    def longpoll_url(self) -> str:
        return f"{self.url}/longpoll"

    async def raw(self, vsn: str | None = "2.0.0", headers: dict[str, str] | None = None,
                  **params: str) -> Raw:
        """A raw WebSocket client, connected."""
        ws = await self.http.ws_connect(self.ws_url(vsn, **params), headers=headers)
        return Raw(ws)


class Raw:
    """A WebSocket client that sends and reads exact frames."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ref = 0

    def next_ref(self) -> str:
        self.ref += 1
        return str(self.ref)

    async def send(self, join_ref: str | None, ref: str | None, topic: str, event: str,
                   payload: Any = None) -> None:
        frame = [join_ref, ref, topic, event, {} if payload is None else payload]
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def recv(self) -> Any:
        """The next frame: a decoded JSON text frame, or a binary frame as a Message."""
        msg = await self.ws.receive(timeout=WAIT)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return orjson.loads(msg.data)
        if msg.type is aiohttp.WSMsgType.BINARY:
            return decode_server_binary(msg.data)
        raise AssertionError(f"expected a frame, got {msg!r}")

    async def join(self, topic: str, payload: Any = None) -> tuple[str, Any]:
        """Join ``topic``; its join_ref and the reply payload."""
        ref = self.next_ref()
        await self.send(ref, ref, topic, "phx_join", payload)
        frame = await self.recv()
        assert frame[:4] == [ref, ref, topic, "phx_reply"], frame
        return ref, frame[4]

    async def call(self, join_ref: str | None, topic: str, event: str,
                   payload: Any = None) -> Any:
        """Send ``event`` and return the reply frame's payload (the next frame)."""
        ref = self.next_ref()
        await self.send(join_ref, ref, topic, event, payload)
        frame = await self.recv()
        assert frame[1] == ref and frame[3] == "phx_reply", frame
        return frame[4]

    async def closed(self) -> int:
        """Read until the server closes the connection; the close code."""
        while True:
            msg = await self.ws.receive(timeout=WAIT)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING):
                code = self.ws.close_code
                assert code is not None
                return code

    async def close(self) -> None:
        await self.ws.close()


Serve = Callable[..., Awaitable[Server]]


def sessions() -> list[otp.Pid]:
    """The live SocketSession processes."""
    return [pid for pid in otp.processes()
            if (otp.process_info(pid) or {}).get("behaviour") == "socket_session"]


def channels_of(session: otp.Pid) -> list[otp.Pid]:
    """The channel processes of a live session."""
    info = otp.process_info(session)
    assert info is not None
    return [otp.Pid.parse(pid) for pid in info["channels"].values()]


@pytest.fixture
async def node() -> AsyncIterator[None]:
    """The node's PubSub and session supervisor, as the tree names them (the PubSub may
    already run for ``channel_case``)."""
    pubsub = None if otp.whereis(names.PUBSUB) else await PubSub.start(name=names.PUBSUB)
    sessions = await DynamicSupervisor.start(name=names.SESSIONS)
    yield
    for pid in (sessions, pubsub):
        if pid is not None and otp.is_alive(pid):
            await otp.stop(pid, "shutdown")


@pytest.fixture
async def serve(node: None) -> AsyncIterator[Serve]:
    """``await serve(handler=UserSocket(), limits=Limits(), origins=())``: a served socket."""
    runners: list[web.AppRunner] = []
    http = aiohttp.ClientSession()

    async def start(handler: SocketHandler | None = None, limits: Limits | None = None,
                    origins: tuple[str, ...] = ()) -> Server:
        app = web.Application()
        app[SECRET] = SECRET_KEY
        mount = SocketMount(handler or UserSocket(), limits or Limits(), origins)
        mount_socket(app, "/socket", mount)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=WAIT)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return Server(f"http://127.0.0.1:{port}/socket", http, runner)

    yield start
    await http.close()
    for runner in runners:
        if runner.server is not None:  # not stopped by its test
            await runner.cleanup()


@pytest.fixture
async def server(serve: Serve) -> Server:
    """The test socket with default limits."""
    return await serve()

