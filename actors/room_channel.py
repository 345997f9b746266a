"""``room:<slug>``: a chat room, one process per joined socket (seed Examples 32 and 35).

Anyone may join a room that exists, signed in or not, and read it; only a signed-in socket
(``user_id`` in its assigns, see ``actors/user_socket.py``) may post or say it is typing.

- join: ``{"messages": [...]}``, the room's last :data:`~contexts.chat.HISTORY` messages,
  oldest first, each ``{"id", "body", "author": {"id", "display_name"}, "inserted_at"}``;
  or the error ``{"reason": "no such room"}``.
- ``new_message`` ``{"body": text, "client_id": optional}``: stored first (the Repo's
  commit is awaited); then broadcast as ``new_message`` (the stored message, with its id,
  author, time and ``client_id`` if it had one) to every socket in the room, the sender's
  too, and answered ``ok`` ``{"id": id}``. A retry with a ``client_id`` already stored in
  the room by the same user stores and broadcasts nothing and is answered ``ok`` with the
  stored message's id. A body that breaks the rules is answered ``error``
  ``{"reason": "invalid", "errors": {"body": [...]}}`` and goes nowhere; an anonymous
  socket gets ``error`` ``{"reason": "sign in to post"}``. Posting counts against the
  user's API quota (``api.rate_limit``, when the socket was given one): past it,
  ``error`` ``{"reason": "rate_limited"}``.
- ``typing`` ``{}``: broadcast as ``typing`` ``{"user": {"id", "display_name"}}`` to every
  socket in the room but the sender's; no reply (as in the seed). Anonymous: the same error.

Presence (seed Example 34): after the join reply the channel pushes ``presence_state``
(who is in the room, with each user's ``display_name``), and a signed-in socket is tracked
under its user id with ``{"online_at", "status": "online"}``, so everyone gets a
``presence_diff`` join, and a leave when the channel ends for whatever reason. ``status``
``{"status": "online" | "away"}`` updates the meta (a leave and a join with ``phx_ref_prev``).

The channel handles one message at a time, so one socket's messages are stored, and
broadcast, in the order it sent them.
"""

from __future__ import annotations

import time
from typing import Any

import otp
from channels.channel import Channel, Error, Socket, broadcast, broadcast_from, push
from channels.presence import Presence
from channels.serializer import Broadcast
from contexts import chat
from contexts.validation import ValidationError
from hearth.names import PRESENCE, PUBSUB
from otp import NoReply, PubSub, Reply

from .rate_limiter import USER_QUOTA, RateLimiter

__all__ = ["PREFIX", "RoomChannel", "announce"]

PREFIX = "room:"

SIGN_IN = {"reason": "sign in to post"}
RATE_LIMITED = {"reason": "rate_limited"}
STATUSES = ("online", "away")
AFTER_JOIN = "after_join"


def announce(room: chat.Room, message: chat.ChatMessage, pubsub: Any = PUBSUB) -> None:
    """Broadcast a stored ``message`` as ``new_message`` to everyone in ``room``: how a
    message posted elsewhere (the JSON API) reaches the room's sockets as one sent there."""
    PubSub.broadcast(pubsub, room.topic,
                     Broadcast(room.topic, "new_message", message.to_json()))


class RoomChannel(Channel):
    """Routed from ``room:*``; see the module docstring."""

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        room = await chat.get_room(topic.removeprefix(PREFIX))
        if room is None:
            return Error({"reason": "no such room"})
        history = await chat.last_messages(room.id, chat.HISTORY)
        socket.assign(room_id=room.id)
        otp.send(otp.self(), AFTER_JOIN)  # presence goes out after the join reply
        return Reply({"messages": [m.to_json() for m in history]}, socket)

    async def handle_message(self, msg: Any, socket: Socket) -> Any:
        if msg == AFTER_JOIN:
            user_id = socket.assigns.get("user_id")
            if user_id is None:  # a reader: sees who is here, is not listed
                push(socket, "presence_state", await Presence.list(PRESENCE, socket.topic))
            else:
                socket.assign(online_at=int(time.time()))
                await Presence.track_socket(PRESENCE, socket, str(user_id), _meta(socket,
                                                                                   "online"))
            return NoReply(socket)
        return super().handle_message(msg, socket)

    async def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        if event == "new_message":
            return await self._new_message(payload, socket)
        if event == "status":
            return await self._set_status(payload, socket)
        if event == "typing":
            user = _author(socket)
            if user is None:
                return Reply(("error", SIGN_IN), socket)
            broadcast_from(socket, "typing", {"user": user})
            return NoReply(socket)
        return Reply(("error", {"reason": f"unknown event {event!r}"}), socket)

    async def _new_message(self, payload: Any, socket: Socket) -> Any:
        user_id = socket.assigns.get("user_id")
        if user_id is None:
            return Reply(("error", SIGN_IN), socket)
        quota = socket.assigns.get("post_quota")
        if quota is not None and not (await RateLimiter.shared_hit(USER_QUOTA, str(user_id),
                                                                   *quota)).allowed:
            return Reply(("error", RATE_LIMITED), socket)
        fields = payload if isinstance(payload, dict) else {}
        try:
            message = await chat.post_message(socket.assigns["room_id"], user_id,
                                              fields.get("body"), fields.get("client_id"))
        except ValidationError as e:
            return Reply(("error", {"reason": "invalid", "errors": e.errors}), socket)
        if not message.replay:
            broadcast(socket, "new_message", message.to_json())
        return Reply(("ok", {"id": message.id}), socket)

    async def _set_status(self, payload: Any, socket: Socket) -> Any:
        user_id = socket.assigns.get("user_id")
        if user_id is None:
            return Reply(("error", SIGN_IN), socket)
        status = payload.get("status") if isinstance(payload, dict) else None
        if status not in STATUSES:
            return Reply(("error", {"reason": "invalid",
                                    "errors": {"status": ["must be online or away"]}}), socket)
        await Presence.update(PRESENCE, self.pid, socket.topic, str(user_id),
                              _meta(socket, status))
        return Reply("ok", socket)


def _meta(socket: Socket, status: str) -> dict[str, Any]:
    return {"online_at": socket.assigns["online_at"], "status": status}


def _author(socket: Socket) -> dict[str, Any] | None:
    user_id = socket.assigns.get("user_id")
    if user_id is None:
        return None
    return {"id": user_id, "display_name": socket.assigns.get("display_name")}
