"""SocketSession: the process behind one client connection.

The transport hands it each decoded frame; it answers heartbeats, starts a Channel process
(linked to it) for each join, forwards other messages to the channel of their topic, and
turns a channel's exit into ``phx_close`` (clean) or ``phx_error`` (crash; the client
rejoins). Broadcasts on joined topics take the fast lane: they are written to the connection
the moment PubSub delivers them, without a trip through the mailbox, unless the channel
intercepts that event. When the session ends, its channels end with it.

Every client event but a heartbeat spends a token of the user's :mod:`~channels.rate`
bucket (``Limits.event_rate``); past it the event is answered ``error``
``{"reason": "rate_limited"}`` and goes no further. Once the connection is closed, frames
still queued are dropped: nothing a client that left sent is handled after it left.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import otp
from otp import Exit, GenServer, NoReply, Ok, Pid, PubSub, StartError, Stop

from . import rate
from .channel import Error, In, Socket
from .conn import CLOSE_GOING_AWAY, Conn, no_backlog
from .handler import Limits, SocketHandler
from .serializer import Broadcast, Message

__all__ = ["SocketSession"]

log = logging.getLogger("channels")


class _Joined(NamedTuple):
    pid: Pid
    join_ref: str | None
    intercept: frozenset[str]


class _State:
    __slots__ = ("aliases", "assigns", "bucket", "by_pid", "channels", "conn", "handler",
                 "limits", "pubsub", "socket_id")

    def __init__(
        self,
        conn: Conn,
        handler: SocketHandler,
        assigns: dict[str, Any],
        socket_id: str | None,
        pubsub: str,
        limits: Limits,
    ) -> None:
        self.conn = conn
        self.handler = handler
        self.assigns = assigns
        self.socket_id = socket_id
        # Further names (SocketHandler.ids): a disconnect on any of them closes this too.
        self.aliases = frozenset(handler.ids(assigns))
        self.pubsub = pubsub
        self.limits = limits
        self.channels: dict[str, _Joined] = {}
        self.by_pid: dict[Pid, str] = {}
        self.bucket = rate.hold(socket_id, limits.event_rate, limits.event_burst)


def _ended(session: Any, _reason: Any) -> None:
    """However a session ends (killed, too): its share of the user's rate is given back, and
    its connection lets go of it (no cycle left for the collector)."""
    state = session._state
    if type(state) is _State:
        rate.release(state.socket_id)
        state.conn.backlog = no_backlog


class SocketSession(GenServer):
    """Started by the transport under the session supervisor; see the module docstring."""

    def init(
        self,
        conn: Conn,
        handler: SocketHandler,
        assigns: dict[str, Any],
        socket_id: str | None,
        pubsub: str,
        limits: Limits,
    ) -> Any:
        otp.trap_exit(True)
        if socket_id is not None:
            PubSub.subscribe(pubsub, socket_id)
        state = _State(conn, handler, assigns, socket_id, pubsub, limits)
        for alias in state.aliases:
            PubSub.subscribe(pubsub, alias)
        conn.backlog = self._backlog
        self._on_exit(_ended)
        return Ok(state)

    def _backlog(self) -> int:
        """Client frames waiting here and in the channels' mailboxes."""
        waiting = len(self._mailbox) if self._mailbox else 0
        state = self._state
        if type(state) is _State:
            for joined in state.channels.values():
                proc = joined.pid._proc
                if proc is not None and proc._mailbox:
                    waiting += len(proc._mailbox)
        return waiting

    def _deliver(self, msg: Any) -> None:
        if type(msg) is Broadcast:
            state = self._state
            joined = state.channels.get(msg.topic) if type(state) is _State else None
            if joined is not None and msg.event not in joined.intercept:
                state.conn.broadcast(msg)
                return
        super()._deliver(msg)

    def handle_info(self, msg: Any, state: _State) -> Any:
        t = type(msg)
        if t is Message:
            result = self._inbound(msg, state)
            state.conn.handled()
            return result
        if t is Exit:
            result = self._channel_exited(msg, state)
            state.conn.handled()
            return result
        if t is Broadcast:
            joined = state.channels.get(msg.topic)
            if joined is not None:  # an intercepted event: the channel decides
                otp.send(joined.pid, msg)
            elif msg.event == "disconnect" and (
                msg.topic == state.socket_id or msg.topic in state.aliases
            ):
                state.conn.close(CLOSE_GOING_AWAY, "disconnected")
                return Stop(("shutdown", "disconnected"), state)
            return NoReply(state)
        return super().handle_info(msg, state)

    def terminate(self, reason: Any, state: _State | None) -> None:
        if state is not None:
            state.conn.close(CLOSE_GOING_AWAY, "server closing")

    # -- inbound frames ------------------------------------------------------------------

    def _inbound(self, msg: Message, state: _State) -> Any:
        conn = state.conn
        if conn.closed:
            return NoReply(state)  # the client is gone; what it left queued goes nowhere
        if msg.topic == "phoenix" and msg.event == "heartbeat":
            conn.reply(None, msg.ref, "phoenix", "ok", {})
            return NoReply(state)
        if state.handler.counts_toward_rate(msg.topic, msg.event) and not state.bucket.take():
            conn.reply(msg.join_ref, msg.ref, msg.topic, "error", {"reason": "rate_limited"})
            return NoReply(state)
        if msg.event == "phx_join":
            return self._join(msg, state)
        joined = state.channels.get(msg.topic)
        if msg.event == "phx_leave":
            if joined is None:
                conn.reply(msg.join_ref, msg.ref, msg.topic, "ok", {})
                return NoReply(state)
            conn.reply(joined.join_ref, msg.ref, msg.topic, "ok", {})
            return self._leave(msg.topic, joined, state)
        if joined is None:
            conn.reply(None, msg.ref, msg.topic, "error", {"reason": "unmatched topic"})
        elif msg.join_ref is None or msg.join_ref == joined.join_ref:
            proc = joined.pid._proc
            if proc is not None:
                proc._deliver(In(msg.ref, msg.event, msg.payload))
        # else: a stale join_ref, from a channel instance that is gone: dropped, as Phoenix does
        return NoReply(state)

    async def _join(self, msg: Message, state: _State) -> Any:
        conn, topic = state.conn, msg.topic
        old = state.channels.get(topic)
        if old is not None:
            # A duplicate join: the old instance closes (its client, if any, sees phx_close
            # with the old join_ref) and the new join proceeds.
            await self._stop_channel(topic, old, state)
            conn.push_control(old.join_ref, topic, "phx_close", {})
        if len(topic.encode()) > state.limits.max_topic_bytes:
            log.info("join refused: topic longer than %d bytes", state.limits.max_topic_bytes)
            conn.reply(msg.join_ref, msg.ref, topic, "error", {"reason": "topic too long"})
            return NoReply(state)
        if len(state.channels) >= state.limits.max_channels:
            log.info("join refused: %d channels already joined", len(state.channels))
            conn.reply(msg.join_ref, msg.ref, topic, "error",
                       {"reason": "too many channels joined"})
            return NoReply(state)
        channel_cls = state.handler.route(topic)
        if channel_cls is None:
            conn.reply(msg.join_ref, msg.ref, topic, "error", {"reason": "unmatched topic"})
            return NoReply(state)
        socket = Socket(topic, msg.join_ref, conn, self.pid, state.pubsub,
                        dict(state.assigns), socket_id=state.socket_id)
        outcome: list[Any] = []
        try:
            pid = await channel_cls.start_link(topic, msg.payload, socket, outcome)
        except StartError:
            conn.reply(msg.join_ref, msg.ref, topic, "error", {"reason": "join crashed"})
            return NoReply(state)
        if pid is None:
            refused: Error = outcome[0]
            conn.reply(msg.join_ref, msg.ref, topic, "error", refused.response)
            return NoReply(state)
        state.channels[topic] = _Joined(pid, msg.join_ref, frozenset(channel_cls.intercept))
        state.by_pid[pid] = topic
        PubSub.subscribe(state.pubsub, topic)
        conn.reply(msg.join_ref, msg.ref, topic, "ok", outcome[0])
        return NoReply(state)

    async def _leave(self, topic: str, joined: _Joined, state: _State) -> Any:
        await self._stop_channel(topic, joined, state)
        state.conn.push_control(joined.join_ref, topic, "phx_close", {})
        return NoReply(state)

    async def _stop_channel(self, topic: str, joined: _Joined, state: _State) -> None:
        del state.channels[topic]
        state.by_pid.pop(joined.pid, None)
        PubSub.unsubscribe(state.pubsub, topic)
        await otp.supervisor.shutdown_child(joined.pid, 5.0)

    def _channel_exited(self, msg: Exit, state: _State) -> Any:
        topic = state.by_pid.pop(msg.pid, None)
        if topic is None:
            return NoReply(state)  # not one of our channels (a leave already handled it)
        joined = state.channels.pop(topic)
        PubSub.unsubscribe(state.pubsub, topic)
        if otp.is_normal_exit(msg.reason):
            state.conn.push_control(joined.join_ref, topic, "phx_close", {})
        else:
            state.conn.push_control(joined.join_ref, topic, "phx_error",
                                    {"reason": "channel_crash"})
        return NoReply(state)

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info["behaviour"] = "socket_session"
        state = self._state
        if isinstance(state, _State):
            info["socket_id"] = state.socket_id
            info["channels"] = {t: repr(j.pid) for t, j in state.channels.items()}
        return info
