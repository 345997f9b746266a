"""The socket handler and channels the channel tests drive."""

from __future__ import annotations

import asyncio
from typing import Any

import otp
from channels.channel import (
    Channel,
    Error,
    Socket,
    broadcast,
    broadcast_from,
    push,
    reply,
    socket_ref,
)
from channels.handler import ConnectInfo, SocketHandler
from otp import NoReply, Reply, Stop


class Gate:
    """Holds ``wait`` events until the test opens it; counts the ones it let through."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.passed = 0

    async def through(self) -> None:
        await self.open.wait()
        self.passed += 1


GATE: list[Gate] = []
"""The gate of the running test, if it made one (``wait`` needs it)."""


class Room(Channel):
    """``room:*``: answers, broadcasts, pushes, defers, crashes and stops on request."""

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        if payload.get("deny"):
            return Error({"reason": "unauthorized"})
        if payload.get("crash"):
            raise RuntimeError("crashed while joining")
        if payload.get("welcome"):
            otp.send(otp.self(), "after_join")
        return Reply({"topic": topic, "user": socket.assigns.get("user")}, socket)

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        if isinstance(payload, bytes):  # a binary push: answer and push back, reversed
            push(socket, "bytes", payload[::-1])
            return Reply(("ok", payload[::-1]), socket)
        if event == "echo":
            return Reply(("ok", payload), socket)
        if event == "fail":
            return Reply(("error", {"reason": "refused"}), socket)
        if event == "shout":
            broadcast(socket, "shout", payload)
            return Reply("ok", socket)
        if event == "whisper":
            broadcast_from(socket, "whisper", payload)
            return Reply("ok", socket)
        if event == "push_me":
            push(socket, "pushed", payload)
            return Reply("ok", socket)
        if event == "later":
            otp.send(otp.self(), ("later", socket_ref(socket), payload))
            return NoReply(socket)
        if event == "ignore":
            return NoReply(socket)
        if event == "wait":
            return self._wait(payload, socket)
        if event == "crash":
            raise RuntimeError("crashed on request")
        if event == "stop":
            return Stop("normal", socket)
        return Reply(("error", {"reason": f"unknown event {event}"}), socket)

    async def _wait(self, payload: Any, socket: Socket) -> Any:
        await GATE[-1].through()
        return Reply(("ok", payload), socket)

    def handle_message(self, msg: Any, socket: Socket) -> Any:
        if msg == "after_join":
            push(socket, "welcome", {"topic": socket.topic})
            return NoReply(socket)
        if isinstance(msg, tuple) and msg[0] == "later":
            reply(msg[1], "ok", {"later": msg[2]})
            return NoReply(socket)
        return super().handle_message(msg, socket)


class UserSocket(SocketHandler):
    """Refuses ``token=bad``; a ``user`` param names the connection ``users_socket:<user>``."""

    channels = [("room:*", Room)]

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        if params.get("token") == "bad":
            return None
        return {"user": params["user"]} if "user" in params else {}

    def id(self, assigns: dict[str, Any]) -> str | None:
        return f"users_socket:{assigns['user']}" if "user" in assigns else None
