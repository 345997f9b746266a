"""One client connection's outbound path, shared by its session and its channels.

Every frame for the client is written here, synchronously and without awaiting, so a channel
pushes without a hop through its session. A WebSocket connection writes whole frames straight
to its transport; when the transport's unsent bytes pass ``outbound_limit`` the client is not
keeping up, and the connection is closed with 1013 (and counted) rather than let it hold
memory or delay anyone else. A long-poll connection buffers encoded frames for the next GET.

Within one turn of the event loop, a WebSocket connection writes its first frame at once and
holds the frames after it, which go out together, in order and in one write, at the start of
the next turn (or before the connection closes). A busy room (many broadcasts in the same
turn) then costs each member one system call per turn instead of one per message, and a lone
frame is not delayed at all.

Inbound, a connection bounds what its client has in flight: the transport hands frames to
the session and asks :meth:`Conn.pressing` after each; past the bound it awaits
:meth:`Conn.drained` before it reads again, so a client that sends without waiting for
replies is held back by TCP instead of filling mailboxes. The session and its channels call
:meth:`Conn.handled` after each frame they handle, which wakes the transport once the
backlog is down to half.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .serializer import BINARY, TEXT, Broadcast, Message, encode, encode_binary, ws_frame

__all__ = ["CLOSE_GOING_AWAY", "Conn", "LongPollConn", "WebSocketConn", "metrics", "no_backlog"]

log = logging.getLogger("channels")

CLOSE_GOING_AWAY = 1001  # "come back": the client reconnects
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013  # slow consumer

metrics: dict[str, int] = {
    "slow_consumers_disconnected": 0,
    "bad_frames": 0,
    "frames_out": 0,
}
"""Node-wide counters, read by operators (and the admin CLI)."""


class Conn:
    """The outbound side of one connection; see the module docstring."""

    __slots__ = ("backlog", "closed", "on_close", "resume", "resume_at", "vsn")

    def __init__(self, vsn: int) -> None:
        self.vsn = vsn
        self.closed = False
        self.on_close: Callable[[int, str], None] | None = None
        # How many client frames wait in the session and its channels (the session sets it).
        self.backlog: Callable[[], int] = no_backlog
        # While the transport waits for the backlog to fall to ``resume_at``.
        self.resume: asyncio.Future[None] | None = None
        self.resume_at = 0

    # -- inbound pressure -------------------------------------------------------------------

    def pressing(self, limit: int) -> bool:
        """Whether the client has ``limit`` frames or more waiting to be handled."""
        return self.backlog() >= limit

    async def drained(self, limit: int) -> None:
        """Wait until the backlog is down to half of ``limit`` (or the connection closes)."""
        if self.closed:
            return
        self.resume_at = limit // 2
        waiter = self.resume = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self.resume = None

    def handled(self) -> None:
        """A client frame was handled: wake the transport if it waits and may read again."""
        waiter = self.resume
        if waiter is not None and not waiter.done() and self.backlog() <= self.resume_at:
            waiter.set_result(None)

    # -- what sessions and channels call ----------------------------------------------------

    def push(self, join_ref: str | None, topic: str, event: str, payload: Any) -> None:
        """A server push on a joined topic (``ref`` null)."""
        msg = Message(join_ref, None, topic, event, payload)
        if isinstance(payload, bytes):
            self._write(encode_binary(msg, 0), BINARY)
        else:
            self._write(encode(msg, self.vsn), TEXT)

    def push_control(self, join_ref: str | None, topic: str, event: str, payload: Any) -> None:
        """``phx_close`` / ``phx_error``: both refs are the channel's join_ref."""
        self._write(encode(Message(join_ref, join_ref, topic, event, payload), self.vsn), TEXT)

    def reply(
        self, join_ref: str | None, ref: str | None, topic: str, status: str, response: Any
    ) -> None:
        """A ``phx_reply`` to the client message ``ref``."""
        if isinstance(response, bytes):
            self._write(encode_binary(Message(join_ref, ref, topic, status, response), 1),
                        BINARY)
            return
        payload = {"status": status, "response": response}
        self._write(encode(Message(join_ref, ref, topic, "phx_reply", payload), self.vsn),
                    TEXT)

    def broadcast(self, bcast: Broadcast) -> None:
        """A fastlane broadcast: the encoding is shared with every other subscriber."""
        raise NotImplementedError

    def close(self, code: int, reason: str = "") -> None:
        """Close the connection with ``code`` (never 1000 when the client should return)."""
        if self.closed:
            return
        self.closed = True
        waiter = self.resume
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._close(code, reason)
        if self.on_close is not None:
            self.on_close(code, reason)

    def _write(self, data: bytes, opcode: int) -> None:
        raise NotImplementedError

    def _close(self, code: int, reason: str) -> None:
        raise NotImplementedError


def no_backlog() -> int:
    """The backlog of a connection no session counts for (before it starts, after it ends)."""
    return 0


_turn: list[WebSocketConn] = []
"""The WebSocket connections written to during this turn of the event loop."""


def _end_turn() -> None:
    """Write what each connection held back during the last turn."""
    conns = _turn[:]
    _turn.clear()
    for conn in conns:
        conn._flush()


class WebSocketConn(Conn):
    """Writes WebSocket frames to the transport of an upgraded aiohttp request."""

    __slots__ = ("closer", "held", "limit", "seen", "transport")

    def __init__(
        self,
        vsn: int,
        transport: asyncio.WriteTransport,
        limit: int,
        closer: Callable[[int, str], Any],
    ) -> None:
        super().__init__(vsn)
        self.transport = transport
        self.limit = limit
        self.closer = closer
        self.seen = 0.0  # loop time of the client's last frame (web.sockets closes idle ones)
        # None: nothing written this turn; True: one frame written this turn; a list: the
        # frames written after it this turn, held for the next turn's single write.
        self.held: list[bytes] | bool | None = None

    def broadcast(self, bcast: Broadcast) -> None:
        self._send(bcast.frame(self.vsn))

    def _write(self, data: bytes, opcode: int) -> None:
        self._send(ws_frame(data, opcode))

    def _send(self, frame: bytes) -> None:
        if self.closed:
            return
        held = self.held
        if held is not None:  # not the first frame of this turn: it waits for the next
            if held is True:
                self.held = [frame]
            else:
                held.append(frame)  # type: ignore[union-attr]
            metrics["frames_out"] += 1
            return
        self._write_now(frame)
        if not self.closed:
            self.held = True
            if not _turn:
                asyncio.get_running_loop().call_soon(_end_turn)
            _turn.append(self)

    def _write_now(self, data: bytes) -> None:
        transport = self.transport
        if transport.is_closing():
            self.closed = True
            return
        transport.write(data)
        metrics["frames_out"] += 1
        if transport.get_write_buffer_size() > self.limit:
            metrics["slow_consumers_disconnected"] += 1
            log.warning("closing a slow consumer: %d bytes unsent",
                        transport.get_write_buffer_size())
            self.close(CLOSE_TRY_AGAIN, "slow consumer")

    def _flush(self) -> None:
        held, self.held = self.held, None
        if type(held) is list and not self.closed:
            metrics["frames_out"] -= 1  # counted when held; _write_now counts the write
            self._write_now(b"".join(held))

    def close(self, code: int, reason: str = "") -> None:
        if not self.closed:
            self._flush()  # what this turn held goes out before the close frame
        super().close(code, reason)

    def _close(self, code: int, reason: str) -> None:
        self.closer(code, reason)


class LongPollConn(Conn):
    """Buffers encoded frames (as text) until the client's next poll takes them."""

    __slots__ = ("buffer", "limit", "size", "waiter")

    def __init__(self, vsn: int, limit: int) -> None:
        super().__init__(vsn)
        self.buffer: list[str] = []
        self.size = 0
        self.limit = limit
        self.waiter: asyncio.Future[None] | None = None

    def broadcast(self, bcast: Broadcast) -> None:
        self._add(bcast.text(self.vsn), BINARY if isinstance(bcast.payload, bytes) else TEXT)

    def _write(self, data: bytes, opcode: int) -> None:
        self._add(data, opcode)

    def _add(self, data: bytes, opcode: int) -> None:
        if self.closed:
            return
        if opcode == BINARY:
            import base64

            text = base64.b64encode(data).decode()
        else:
            text = data.decode()
        self.buffer.append(text)
        self.size += len(text)
        metrics["frames_out"] += 1
        if self.size > self.limit:
            metrics["slow_consumers_disconnected"] += 1
            log.warning("closing a slow long-poll consumer: %d bytes unsent", self.size)
            self.close(CLOSE_TRY_AGAIN, "slow consumer")
            return
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> list[str]:
        """Everything buffered, oldest first; the buffer is emptied."""
        out, self.buffer, self.size = self.buffer, [], 0
        return out

    def _close(self, code: int, reason: str) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
