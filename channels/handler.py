"""What an application writes to accept sockets and route topics (Phoenix's ``UserSocket``).

::

    class UserSocket(SocketHandler):
        channels = [("room:*", RoomChannel), ("user:*", UserChannel)]

        async def connect(self, params, info):
            user = await verify(params.get("token"))
            return {"user_id": user.id} if user else None   # None refuses (HTTP 403)

        def id(self, assigns):
            return f"users_socket:{assigns['user_id']}" if "user_id" in assigns else None

``disconnect_socket(pubsub, id)`` closes every connection whose ``id`` is that, or one of
whose ``ids`` is (code 1001, so clients reconnect and ``connect`` runs again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from otp import PubSub

from .channel import Channel
from .serializer import Broadcast

__all__ = ["ConnectInfo", "Limits", "SocketHandler", "disconnect_socket"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what a client controls (``[channels]`` in config.toml)."""

    max_frame_bytes: int = 1_000_000
    max_channels: int = 100
    max_topic_bytes: int = 255
    outbound_buffer_bytes: int = 4_000_000
    idle_timeout: float = 60.0
    longpoll_window: float = 10.0
    # Frames that do not parse before the connection is closed (1008).
    max_bad_frames: int = 10
    # Client frames handed to the session and its channels and not yet handled; past it
    # the transport stops reading (TCP pushes back) until they are down to half.
    max_inflight: int = 100
    # Client events (all but heartbeats) per second one user may send, over all their
    # connections (an anonymous connection has its own); bursts up to ``event_burst``.
    event_rate: float = 50.0
    event_burst: int = 200
    # Long-poll sessions held at once, in all and from one client address.
    longpoll_max_sessions: int = 10_000
    longpoll_sessions_per_address: int = 100


@dataclass(frozen=True)
class ConnectInfo:
    """What ``connect`` may know of the connection besides its params."""

    peer: str | None
    origin: str | None
    user_agent: str | None
    auth_token: str | None = None
    transport: str = "websocket"
    headers: dict[str, str] = field(default_factory=dict)


class SocketHandler:
    """Accepts connections and routes topics to channel classes; see the module docstring."""

    channels: ClassVar[list[tuple[str, type[Channel]]]] = []

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        """The connection's assigns, or ``None`` to refuse it (HTTP 403)."""
        return {}

    def id(self, assigns: dict[str, Any]) -> str | None:
        """A name for this connection, so :func:`disconnect_socket` can reach it."""
        return None

    def ids(self, assigns: dict[str, Any]) -> tuple[str, ...]:
        """Further names for this connection (the credential it came with, say), each
        reachable by :func:`disconnect_socket` like :meth:`id`."""
        return ()

    def counts_toward_rate(self, topic: str, event: str) -> bool:
        """Whether a client event spends the user's event bucket (``Limits.event_rate``).
        A handler exempts traffic bounded otherwise (a file's chunks, by its size)."""
        return True

    def route(self, topic: str) -> type[Channel] | None:
        """The channel class for ``topic``: an exact pattern, or a ``prefix*`` one."""
        for pattern, channel in self.channels:
            if pattern.endswith("*"):
                if topic.startswith(pattern[:-1]):
                    return channel
            elif topic == pattern:
                return channel
        return None


def disconnect_socket(pubsub: Any, socket_id: str) -> None:
    """Close every connection named ``socket_id`` (1001: the clients reconnect)."""
    PubSub.broadcast(pubsub, socket_id, Broadcast(socket_id, "disconnect", {}))
