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
restart is simply unknown. A session nobody polls for ``1.5 * longpoll_window`` ends. A
``GET`` or ``POST`` whose token names a session that is gone gets ``410`` and no new session:
phoenix.js then reconnects without a token, and that ``GET`` opens one. phoenix.js ≤ 1.8
sends the session token as the last ``token=`` of the query (``token=null`` before it has
one): the handshake never takes it for the socket's own ``token`` param.

Sessions are bounded, in all (``longpoll_max_sessions``) and per client address
(``longpoll_sessions_per_address``); past either, a new one is refused with HTTP 429 and
``{"status": 500}``, on which phoenix.js backs off and retries. A ``POST`` is answered once
its frames are in the session's mailbox, or, while the session and its channels have
``max_inflight`` frames waiting, once they have handled half: the client sends its next
batch only then. Bad frames are counted per session, which ends (1008) past
``max_bad_frames``.
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
from channels.conn import CLOSE_POLICY, LongPollConn
from channels.serializer import BadFrame, Message, decode, decode_binary
from otp import Pid

from .keys import SECRET
from .sockets import BadFrames, SocketMount, accept, end_session, origin_allowed, start_session

__all__ = ["MAX_BATCH", "SALT", "TOKEN_MAX_AGE", "LongPoll"]

log = logging.getLogger("channels")

SALT = "longpoll"
TOKEN_MAX_AGE = 14 * 86400.0
MAX_BATCH = 100
"""Frames one POST may carry (phoenix.js sends at most 100 per batch)."""

_TOKEN_HEADER = "X-Phoenix-Longpoll-Token"
_HEADERS = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
_GONE = object()
"""What :meth:`LongPoll._find` returns for a token whose session has ended."""


class _Polled:
    """One long-poll session: its connection, its process, and when it was last polled."""

    __slots__ = ("bad", "conn", "expiry", "last_poll", "peer", "polling", "session", "sid")

    def __init__(self, sid: str, conn: LongPollConn, session: Pid, now: float,
                 peer: str, bad: BadFrames) -> None:
        self.sid = sid
        self.conn = conn
        self.session = session
        self.polling = 0  # GETs in flight; a session being polled never expires
        self.last_poll = now
        self.expiry: asyncio.TimerHandle | None = None
        self.peer = peer
        self.bad = bad


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


def _socket_query(request: web.Request) -> list[tuple[str, str]]:
    """The query without the long-poll's own session token: the last ``token=`` when there
    are two, or a lone one that is ``null`` or a long-poll token (phoenix.js appends it)."""
    query = list(request.query.items())
    if request.headers.get(_TOKEN_HEADER):
        return query
    tokens = [i for i, (key, _) in enumerate(query) if key == "token"]
    if not tokens:
        return query
    last = tokens[-1]
    value = query[last][1]
    if len(tokens) == 1 and value not in ("null", "undefined"):
        try:
            token.verify(request.app[SECRET], SALT, value)
        except token.TokenError:
            return query  # the socket's own token
    del query[last]
    return query


def _frames(body: bytes, ndjson: bool, vsn: int, limit: int, bad: BadFrames
            ) -> list[Message]:
    """The client frames of a POST body; a bad one is counted in ``bad`` and skipped, as
    on a WebSocket. Raises ``ValueError`` for a batch over :data:`MAX_BATCH` frames."""
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
            bad.count(e)
    return frames


def _too_many(why: str, peer: str) -> web.Response:
    log.warning("long-poll session refused for %s: %s", peer, why)
    return web.Response(body=orjson.dumps({"status": 500, "reason": "too many sessions"}),
                        status=429, content_type="application/json",
                        headers={**_HEADERS, "Retry-After": "5"})


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
        self.by_address: dict[str, int] = {}
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
            if isinstance(polled, _Polled):
                return await self._listen(request, polled)
            return _json({"status": 410})
        if request.method == "POST":
            if isinstance(polled, _Polled):
                return await self._publish(request, polled)
            return _json({"status": 410})
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
        limits = self.mount.limits
        peer = request.remote or ""
        if len(self.sessions) >= limits.longpoll_max_sessions:
            return _too_many(f"{len(self.sessions)} long-poll sessions held", peer)
        if self.by_address.get(peer, 0) >= limits.longpoll_sessions_per_address:
            return _too_many(f"{self.by_address[peer]} long-poll sessions from this address",
                             peer)
        accepted = await accept(request, self.mount, "longpoll", _socket_query(request))
        if isinstance(accepted, web.Response):
            return _json({"status": 403})  # what phoenix.js understands as "refused"
        vsn, assigns = accepted
        conn = LongPollConn(vsn, limits.outbound_buffer_bytes)
        session = await start_session(self.mount, conn, assigns)
        loop = asyncio.get_running_loop()
        polled = _Polled(secrets.token_urlsafe(16), conn, session, loop.time(), peer,
                         BadFrames(peer, limits.max_bad_frames))
        proc = session._proc
        if proc is None:
            return _json({"status": 403})
        self.sessions[polled.sid] = polled
        self.by_address[peer] = self.by_address.get(peer, 0) + 1
        polled.expiry = loop.call_later(1.5 * self.window, self._check_expiry, polled)
        # However the session ends, the connection closes; and a closed connection (a slow
        # consumer, say) ends the session.
        proc._on_exit(lambda _proc, _reason: conn.close(1001, "session ended"))
        conn.on_close = lambda _code, _reason: self._end(polled)
        signed = token.sign(request.app[SECRET], SALT, polled.sid, max_age=TOKEN_MAX_AGE)
        return _json({"status": 410, "token": signed, "messages": []})

    def _find(self, request: web.Request) -> _Polled | object | None:
        """The session the request's token names, :data:`_GONE` if it has ended, or
        ``None`` when there is no session token (a new session, then)."""
        try:
            sid = token.verify(request.app[SECRET], SALT, _session_token(request))
        except token.TokenError:
            return None
        if not isinstance(sid, str):
            return None
        return self.sessions.get(sid, _GONE)

    def _forget(self, polled: _Polled) -> None:
        if self.sessions.get(polled.sid) is polled:
            del self.sessions[polled.sid]
            left = self.by_address.get(polled.peer, 0) - 1
            if left > 0:
                self.by_address[polled.peer] = left
            else:
                self.by_address.pop(polled.peer, None)
        if polled.expiry is not None:
            polled.expiry.cancel()
            polled.expiry = None

    def _end(self, polled: _Polled) -> None:
        self._forget(polled)
        polled.bad.report()
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
            return _json({"status": 410})  # it ended while we waited: it is gone
        return _json({"status": 204, "token": signed, "messages": []})

    async def _publish(self, request: web.Request, polled: _Polled) -> web.Response:
        body = await _read_body(request, self.body_limit)
        if body is None:
            log.warning("refused a long-poll batch over %d bytes", self.body_limit)
            return _json({"status": 413})
        ndjson = request.content_type == "application/x-ndjson"
        limits = self.mount.limits
        conn = polled.conn
        try:
            frames = _frames(body, ndjson, conn.vsn, limits.max_frame_bytes, polled.bad)
        except ValueError as e:
            log.warning("refused a long-poll batch: %s", e)
            return _json({"status": 400})
        if polled.bad.seen > limits.max_bad_frames:
            conn.close(CLOSE_POLICY, "too many bad frames")  # and so the session ends
        proc = polled.session._proc
        if proc is None or conn.closed:
            return _json({"status": 410})
        for frame in frames:
            proc._deliver(frame)
        if conn.pressing(limits.max_inflight):
            await conn.drained(limits.max_inflight)
        return _json({"status": 200})
