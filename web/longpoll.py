"""The long-poll fallback: ``<path>/longpoll`` (``protocol.md`` §1.6).

phoenix.js switches to it when WebSockets do not get through. A ``GET`` without a known
session token runs the same handshake as the WebSocket (vsn, origin, ``connect``) and starts
the same SocketSession, writing to a :class:`~channels.conn.LongPollConn`; the answer is
``{"status": 410, "token": ...}``, which the client takes as "open". A ``GET`` with the token
waits up to ``longpoll_window`` seconds for what the session has buffered (200 with the
already-encoded frames as strings, or 204). A ``POST`` of ``application/x-ndjson`` carries up
to 100 client frames, JSON or base64 of binary ones; it is answered once they are in the
session's mailbox, which keeps them in order (a bigger batch is a 400, a body over
``4 * max_frame_bytes`` a 413). Every answer is HTTP 200 with the logical
status in the JSON body, as the client expects; ``403`` means refused, ``410`` means the
session is gone (the client reconnects and rejoins its channels).

The token is signed (salt ``"longpoll"``, 14 days) with the node's secret and names the
session; sessions live in this node's memory, so a token from another node or from before a
restart is simply unknown. A session nobody polls for ``1.5 * longpoll_window`` ends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
from typing import Any

import orjson
from aiohttp import web

from channels import token
from channels.conn import LongPollConn, metrics
from channels.serializer import BadFrame, Message, decode, decode_binary
from otp import Pid

from .keys import SECRET
from .sockets import SocketMount, accept, end_session, origin_allowed, start_session

__all__ = ["MAX_BATCH", "SALT", "TOKEN_MAX_AGE", "LongPoll"]

log = logging.getLogger("channels")

SALT = "longpoll"
TOKEN_MAX_AGE = 14 * 86400.0
MAX_BATCH = 100
"""Frames one POST may carry (phoenix.js sends at most 100 per batch)."""

_TOKEN_HEADER = "X-Phoenix-Longpoll-Token"
_HEADERS = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}


class _Polled:
    """One long-poll session: its connection, its process, and when it was last polled."""

    __slots__ = ("conn", "expiry", "last_poll", "polling", "session", "sid")

    def __init__(self, sid: str, conn: LongPollConn, session: Pid, now: float) -> None:
        self.sid = sid
        self.conn = conn
        self.session = session
        self.polling = 0  # GETs in flight; a session being polled never expires
        self.last_poll = now
        self.expiry: asyncio.TimerHandle | None = None


def _json(data: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json",
                        headers=_HEADERS)


def _session_token(request: web.Request) -> str | None:
    """phoenix.js ≤ 1.8 appends ``token=`` to the socket's own params (so it comes last);
    1.9 sends a header."""
    header = request.headers.get(_TOKEN_HEADER)
    if header:
        return header
    values = request.query.getall("token", [])
    return values[-1] if values else None


def _frames(body: bytes, ndjson: bool, vsn: int, limit: int) -> list[Message]:
    """The client frames of a POST body; a bad one is logged and skipped, as on a
    WebSocket. Raises ``ValueError`` for a batch over :data:`MAX_BATCH` frames."""
    if not ndjson:
        lines = [body]
    else:
        lines = [line.rstrip(b"\r") for line in body.split(b"\n")]
        lines = [line for line in lines if line]
        if len(lines) > MAX_BATCH:
            raise ValueError(f"{len(lines)} frames in one batch; at most {MAX_BATCH}")
    frames = []
    for line in lines:
        try:
            if line[:1] in (b"[", b"{"):
                if len(line) > limit:
                    raise BadFrame(f"frame over {limit} bytes")
                frames.append(decode(line, vsn))
            else:
                try:
                    raw = base64.b64decode(line, validate=True)
                except binascii.Error:
                    raise BadFrame("neither a JSON frame nor base64") from None
                if len(raw) > limit:
                    raise BadFrame(f"frame over {limit} bytes")
                frames.append(decode_binary(raw))
        except BadFrame as e:
            metrics["bad_frames"] += 1
            log.warning("dropped a bad long-poll frame: %s", e)
    return frames


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The request body, or ``None`` if it is longer than ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class LongPoll:
    """The long-poll sessions of one mounted socket; :meth:`handle` is the aiohttp handler
    (GET, POST, OPTIONS) and :meth:`close` ends every session (at application shutdown)."""

    def __init__(self, mount: SocketMount) -> None:
        self.mount = mount
        self.window = mount.limits.longpoll_window
        self.sessions: dict[str, _Polled] = {}
        self.closing = False
        self._stopping: set[asyncio.Task[None]] = set()  # held so they are not collected
        # MAX_BATCH frames of max_frame_bytes each would be a memory hazard: bound the body.
        self.body_limit = 4 * mount.limits.max_frame_bytes

    async def handle(self, request: web.Request) -> web.Response:
        """The ``<path>/longpoll`` handler."""
        if not origin_allowed(request, self.mount.allowed_origins):
            log.info("long-poll refused: origin %r not allowed", request.headers.get("Origin"))
            return _json({"status": 403})
        if request.method == "OPTIONS":
            # CORS preflight: allowed, since the Origin header itself is checked above.
            return web.Response(headers={
                **_HEADERS,
                "Access-Control-Allow-Headers":
                    request.headers.get("Access-Control-Request-Headers", ""),
                "Access-Control-Allow-Methods": "get, post, options",
                "Access-Control-Max-Age": "3600",
            })
        polled = self._find(request)
        if request.method == "GET":
            if polled is None:
                return await self._new_session(request)
            return await self._listen(request, polled)
        if request.method == "POST":
            if polled is None:
                return _json({"status": 410})
            return await self._publish(request, polled)
        return web.Response(status=400, headers=_HEADERS)

    async def close(self, _app: web.Application | None = None) -> None:
        """End every session; polls in flight answer 410 (the clients reconnect)."""
        self.closing = True
        for polled in list(self.sessions.values()):
            self._forget(polled)
            await end_session(polled.session, ("shutdown", "closed"))

    # -- sessions --------------------------------------------------------------------------

    async def _new_session(self, request: web.Request) -> web.Response:
        if self.closing:
            return _json({"status": 410})
        accepted = await accept(request, self.mount, "longpoll")
        if isinstance(accepted, web.Response):
            return _json({"status": 403})  # what phoenix.js understands as "refused"
        vsn, assigns = accepted
        conn = LongPollConn(vsn, self.mount.limits.outbound_buffer_bytes)
        session = await start_session(self.mount, conn, assigns)
        loop = asyncio.get_running_loop()
        polled = _Polled(secrets.token_urlsafe(16), conn, session, loop.time())
        proc = session._proc
        if proc is None:
            return _json({"status": 403})
        self.sessions[polled.sid] = polled
        polled.expiry = loop.call_later(1.5 * self.window, self._check_expiry, polled)
        # However the session ends, the connection closes; and a closed connection (a slow
        # consumer, say) ends the session.
        proc._on_exit(lambda _proc, _reason: conn.close(1001, "session ended"))
        conn.on_close = lambda _code, _reason: self._end(polled)
        signed = token.sign(request.app[SECRET], SALT, polled.sid, max_age=TOKEN_MAX_AGE)
        return _json({"status": 410, "token": signed, "messages": []})

    def _find(self, request: web.Request) -> _Polled | None:
        try:
            sid = token.verify(request.app[SECRET], SALT, _session_token(request))
        except token.TokenError:
            return None
        return self.sessions.get(sid) if isinstance(sid, str) else None

    def _forget(self, polled: _Polled) -> None:
        if self.sessions.get(polled.sid) is polled:
            del self.sessions[polled.sid]
        if polled.expiry is not None:
            polled.expiry.cancel()
            polled.expiry = None

    def _end(self, polled: _Polled) -> None:
        self._forget(polled)
        if polled.session._proc is not None:
            task = asyncio.get_running_loop().create_task(
                end_session(polled.session, ("shutdown", "closed"))
            )
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _check_expiry(self, polled: _Polled) -> None:
        loop = asyncio.get_running_loop()
        idle = loop.time() - polled.last_poll
        limit = 1.5 * self.window
        if polled.polling or idle < limit:
            polled.expiry = loop.call_later(limit - (0.0 if polled.polling else idle),
                                            self._check_expiry, polled)
            return
        log.info("ending a long-poll session not polled for %.1fs", idle)
        polled.expiry = None
        polled.conn.close(1001, "not polled")  # and so the session ends

    # -- requests --------------------------------------------------------------------------

    async def _listen(self, request: web.Request, polled: _Polled) -> web.Response:
        conn = polled.conn
        loop = asyncio.get_running_loop()
        polled.polling += 1
        try:
            if not conn.buffer and not conn.closed:
                previous = conn.waiter
                if previous is not None and not previous.done():
                    previous.set_result(None)  # a newer poll takes over; the old one gets 204
                waiter = conn.waiter = loop.create_future()
                try:
                    await asyncio.wait_for(waiter, self.window)
                except TimeoutError:
                    pass
                finally:
                    if conn.waiter is waiter:
                        conn.waiter = None
        finally:
            polled.polling -= 1
            polled.last_poll = loop.time()
        messages = conn.take()
        signed = _session_token(request)
        if messages:
            return _json({"status": 200, "token": signed, "messages": messages})
        if conn.closed:
            return await self._new_session(request)  # it ended while we waited: it is gone
        return _json({"status": 204, "token": signed, "messages": []})

    async def _publish(self, request: web.Request, polled: _Polled) -> web.Response:
        body = await _read_body(request, self.body_limit)
        if body is None:
            log.warning("refused a long-poll batch over %d bytes", self.body_limit)
            return _json({"status": 413})
        ndjson = request.content_type == "application/x-ndjson"
        try:
            frames = _frames(body, ndjson, polled.conn.vsn, self.mount.limits.max_frame_bytes)
        except ValueError as e:
            log.warning("refused a long-poll batch: %s", e)
            return _json({"status": 400})
        proc = polled.session._proc
        if proc is None or polled.conn.closed:
            return _json({"status": 410})
        for frame in frames:
            proc._deliver(frame)
        return _json({"status": 200})
