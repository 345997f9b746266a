"""The Channel behaviour: one process per joined topic per connection.

Subclass :class:`Channel` and implement the callbacks; the socket is the state::

    class RoomChannel(Channel):
        async def join(self, topic, payload, socket):
            if not authorized(socket.assigns.get("user_id")):
                return Error({"reason": "unauthorized"})
            return Reply({"messages": await last_messages(topic)}, socket)

        def handle_in(self, event, payload, socket):
            if event == "new_msg":
                broadcast(socket, "new_msg", {"body": payload["body"]})
                return Reply(("ok", {}), socket)
            return NoReply(socket)

``join(topic, payload, socket)`` returns ``Ok(socket)`` (joined, empty response),
``Reply(response, socket)`` (joined, with a response object) or ``Error(response)``
(refused: the client gets ``{"status": "error", "response": response}``).

``handle_in(event, payload, socket)`` returns ``Reply(("ok" | "error", response), socket)``
(``Reply("ok", socket)`` for an empty response), ``NoReply(socket)`` (answer later with
:func:`reply` and a :func:`socket_ref`), or ``Stop(reason, socket)``.

``handle_out(event, payload, socket)`` sees the broadcasts of the events listed in the
class attribute ``intercept`` before they go out (push them yourself, or not);
``handle_info`` and ``terminate`` are the GenServer ones, with the socket as state.

A channel that raises crashes alone: its client gets ``phx_error`` and rejoins; the
connection and its other channels carry on. A channel whose connection has closed stops
(``("shutdown", "closed")``) at the next client message instead of handling it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import otp
from otp import GenServer, NoReply, Ok, Pid, PubSub, Reply, Stop
from otp._kernel import current
from otp.gen_server import _MISSING

from .conn import Conn
from .serializer import Broadcast

__all__ = [
    "Channel",
    "Error",
    "In",
    "Socket",
    "SocketRef",
    "broadcast",
    "broadcast_from",
    "push",
    "reply",
    "socket_ref",
]


class Error(NamedTuple):
    """``join`` refuses: the client's join gets ``{"status": "error", "response": ...}``."""

    response: dict[str, Any]


@dataclass
class Socket:
    """What a channel knows of its connection. ``assigns`` are the connection's (set at
    connect) plus what the channel adds; the rest is fixed for the channel's life."""

    topic: str
    join_ref: str | None
    conn: Conn = field(repr=False)
    session: Pid
    pubsub: str
    assigns: dict[str, Any] = field(default_factory=dict)
    channel: Pid | None = None
    socket_id: str | None = None

    def assign(self, **values: Any) -> Socket:
        """Add to ``assigns``; returns the socket, for ``return NoReply(socket.assign(...))``."""
        self.assigns.update(values)
        return self


class SocketRef(NamedTuple):
    """Where to send a late reply: see :func:`socket_ref` and :func:`reply`."""

    conn: Conn
    join_ref: str | None
    ref: str | None
    topic: str


class In(NamedTuple):
    """A client message for a channel, as the session hands it over."""

    ref: str | None
    event: str
    payload: Any


def push(socket: Socket, event: str, payload: Any) -> None:
    """Send ``event`` to this socket's client on the channel's topic."""
    socket.conn.push(socket.join_ref, socket.topic, event, payload)


def broadcast(socket: Socket, event: str, payload: Any) -> None:
    """Send ``event`` to every client joined to the socket's topic, on every node."""
    PubSub.broadcast(socket.pubsub, socket.topic, Broadcast(socket.topic, event, payload))


def broadcast_from(socket: Socket, event: str, payload: Any) -> None:
    """Like :func:`broadcast`, except to this socket's own connection."""
    PubSub.broadcast_from(
        socket.pubsub, socket.session, socket.topic, Broadcast(socket.topic, event, payload)
    )


def socket_ref(socket: Socket) -> SocketRef:
    """A handle for replying later to the message being handled (after ``NoReply``)."""
    channel = current()
    ref = channel._in_ref if isinstance(channel, Channel) else None
    return SocketRef(socket.conn, socket.join_ref, ref, socket.topic)


def reply(ref: SocketRef, status: str, response: Any = None) -> None:
    """Answer the client message behind ``ref`` with ``status`` ("ok" or "error")."""
    ref.conn.reply(ref.join_ref, ref.ref, ref.topic, status, response or {})


class Channel(GenServer):
    """Base class of channels; see the module docstring."""

    intercept: ClassVar[tuple[str, ...]] = ()
    _in_ref: str | None = None  # the ref of the client message being handled

    # -- callbacks (defaults) ------------------------------------------------------------

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        return Error({"reason": "unmatched topic"})

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no handle_in for {event!r}")

    def handle_out(self, event: str, payload: Any, socket: Socket) -> Any:
        push(socket, event, payload)
        return NoReply(socket)

    # -- the GenServer underneath --------------------------------------------------------

    async def init(
        self, topic: str, payload: dict[str, Any], socket: Socket, outcome: list[Any]
    ) -> Any:
        # Trap exits: the session's end arrives as an Exit from the parent, so terminate runs.
        otp.trap_exit(True)
        socket.channel = self.pid
        result = self.join(topic, payload, socket)
        if hasattr(result, "__await__"):
            result = await result
        if type(result) is Ok:
            outcome.append({})
            return Ok(result.state)
        if type(result) is Reply:
            outcome.append(result.reply if result.reply is not None else {})
            return Ok(result.state)
        if type(result) is Error:
            outcome.append(result)
            return otp.Ignore
        raise TypeError(f"bad return from {type(self).__name__}.join: {result!r}")

    def handle_info(self, msg: Any, socket: Socket) -> Any:
        t = type(msg)
        if t is In:
            return self._handle_in(msg, socket)
        if t is Broadcast:
            return self.handle_out(msg.event, msg.payload, socket)
        return self.handle_message(msg, socket)

    def handle_message(self, msg: Any, socket: Socket) -> Any:
        """Any other message (what ``handle_info`` is in Phoenix); default: log and ignore."""
        return super().handle_info(msg, socket)

    def _handle_in(self, msg: In, socket: Socket) -> Any:
        conn = socket.conn
        if conn.closed:
            conn.handled()
            return Stop(("shutdown", "closed"), socket)
        self._in_ref = msg.ref
        result = self.handle_in(msg.event, msg.payload, socket)
        if hasattr(result, "__await__"):
            return self._finish_in(result, msg, socket)
        conn.handled()
        return self._reply_for(result, msg, socket)

    async def _finish_in(self, pending: Any, msg: In, socket: Socket) -> Any:
        try:
            return self._reply_for(await pending, msg, socket)
        finally:
            socket.conn.handled()

    def _reply_for(self, result: Any, msg: In, socket: Socket) -> Any:
        t = type(result)
        if t is Reply:
            status, response = _status(result.reply)
            socket.conn.reply(socket.join_ref, msg.ref, socket.topic, status, response)
            return NoReply(result.state)
        if t is Stop and result.reply is not _MISSING:
            status, response = _status(result.reply)
            socket.conn.reply(socket.join_ref, msg.ref, socket.topic, status, response)
            return Stop(result.reason, result.state)
        return result

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info["behaviour"] = f"channel:{type(self).__qualname__}"
        state = self._state
        if isinstance(state, Socket):
            info["topic"] = state.topic
        return info


def _status(value: Any) -> tuple[str, Any]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, tuple) and len(value) == 2 and value[0] in ("ok", "error"):
        return value[0], value[1] if value[1] is not None else {}
    raise TypeError(f"a channel reply is 'ok', 'error' or (status, response), not {value!r}")
