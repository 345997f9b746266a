"""The socket the phoenix.js interop scenarios connect to: the channel tests' ``room:*``
channel, a ``presence:*`` channel tracked by a Presence tracker, and a handler that can
refuse WebSocket connections (so phoenix.js falls back to long-poll)."""

from __future__ import annotations

from typing import Any

import otp
from channels.channel import Channel, Error, Socket, push
from channels.handler import ConnectInfo
from channels.presence import Presence, presence_time
from otp import NoReply, Reply

from ..channels._app import Room, UserSocket

TRACKER = "interop.presence"


class PresenceRoom(Channel):
    """``presence:*``: tracks the connection's user (``user`` param) once joined, pushes
    ``presence_state`` after every join and rejoin; ``crash`` crashes it."""

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        if "user" not in socket.assigns:
            return Error({"reason": "a user param is needed"})
        otp.send(otp.self(), "after_join")
        return Reply({"user": socket.assigns["user"]}, socket)

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        if event == "crash":
            raise RuntimeError("presence channel crashed on request")
        return Reply(("error", {"reason": f"unknown event {event}"}), socket)

    async def handle_message(self, msg: Any, socket: Socket) -> Any:
        if msg == "after_join":
            assert socket.channel is not None
            await Presence.track(TRACKER, socket.channel, socket.topic, socket.assigns["user"],
                                 {"online_at": presence_time()})
            push(socket, "presence_state", await Presence.list(TRACKER, socket.topic))
            return NoReply(socket)
        return super().handle_message(msg, socket)


class InteropSocket(UserSocket):
    """:class:`UserSocket` (``user`` names the connection ``users_socket:<user>``), plus
    ``refuse_websocket``: such a connection is refused over WebSocket, accepted over
    long-poll; and an ``authToken`` (phoenix.js >= 1.8) is taken as the user."""

    channels = [("room:*", Room), ("presence:*", PresenceRoom)]

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        if params.get("refuse_websocket") and info.transport == "websocket":
            return None
        if info.auth_token is not None:
            return {"user": info.auth_token, "transport": info.transport}
        return await super().connect(params, info)
