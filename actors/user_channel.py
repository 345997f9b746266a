"""``user:<id>``: one user's private channel; only that user's sockets may join it.

Anything for one person (a notification, say) is sent with :func:`notify`, which reaches every
socket the user has joined it on, in every browser and tab. A socket of anyone else, or an
anonymous one, is refused with ``{"reason": "unauthorized"}`` (seed Example 35).
"""

from __future__ import annotations

from typing import Any

from channels.channel import Channel, Error, Socket
from channels.serializer import Broadcast
from hearth.names import PUBSUB
from otp import Ok, PubSub, Reply

__all__ = ["PREFIX", "UserChannel", "notify", "topic_of"]

PREFIX = "user:"


def topic_of(user_id: int) -> str:
    """The private topic of ``user_id``."""
    return f"{PREFIX}{user_id}"


def notify(user_id: int, event: str, payload: dict[str, Any], pubsub: Any = PUBSUB) -> None:
    """Push ``event`` to every socket of ``user_id`` joined to its private channel."""
    topic = topic_of(user_id)
    PubSub.broadcast(pubsub, topic, Broadcast(topic, event, payload))


class UserChannel(Channel):
    """Routed from ``user:*``; see the module docstring."""

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        user_id = socket.assigns.get("user_id")
        if user_id is None or topic != topic_of(user_id):
            return Error({"reason": "unauthorized"})
        return Ok(socket)

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        return Reply(("error", {"reason": f"unknown event {event!r}"}), socket)
