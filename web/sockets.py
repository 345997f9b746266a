"""The Phoenix socket endpoints: ``<path>/websocket`` here, ``<path>/longpoll`` in
``web.longpoll``; :func:`mount_socket` adds both.

The handshake follows ``protocol.md`` §1.1: ``vsn`` picks the serializer (2.x: arrays, 1.x or
none: objects, anything else: 400), an ``Origin`` whose host is not allowed gets 403, and the
application's :class:`~channels.handler.SocketHandler` ``connect`` decides, before the
upgrade, whether to accept (403 if not). An accepted connection gets a SocketSession process
under the session supervisor; this handler's task then only reads frames, decodes each once
and hands it to the session. A frame that does not parse is dropped and counted, and past
``max_bad_frames`` of them the connection is closed with 1008 (one log line per connection
says how many); a frame over ``max_frame_bytes`` closes the connection with 1009, an
unmasked one with 1002 (RFC 6455 §5.1: clients mask every frame). While the session and its
channels have ``max_inflight`` of the client's frames waiting, the handler stops reading
(see ``channels.conn``), so TCP holds the client back. A connection silent for
``idle_timeout`` seconds is closed with 1001 (clients come back when they are alive) by a
sweep that runs every tenth of ``idle_timeout``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

import otp
from channels.conn import CLOSE_GOING_AWAY, CLOSE_POLICY, WebSocketConn, metrics
from channels.handler import ConnectInfo, Limits, SocketHandler
from channels.serializer import BadFrame, decode, decode_binary
from channels.session import SocketSession
from hearth import names
from hearth.config import ChannelsConfig
from otp import DynamicSupervisor, Pid

from .ws_masking import MaskedWebSocketResponse

__all__ = ["BadFrames", "SocketMount", "channel_limits", "mount_socket", "parse_vsn"]

log = logging.getLogger("channels")

_BEARER_PREFIX = "base64url.bearer.phx."
CLOSE_SERVICE_RESTART = 1012
CLOSE_TIMEOUT = 10.0
"""Seconds a closing WebSocket waits for its client to take the close frame and answer."""


@dataclass(frozen=True)
class SocketMount:
    """One mounted socket: its handler, limits and the processes it uses; ``longpoll``
    also serves the long-poll fallback."""

    handler: SocketHandler
    limits: Limits
    allowed_origins: tuple[str, ...] = ()
    pubsub: str = names.PUBSUB
    sessions: str = names.SESSIONS
    longpoll: bool = True


def parse_vsn(value: str | None) -> int | None:
    """The serializer for a ``vsn`` query value: 2, 1, or ``None`` (refused)."""
    if value is None or value == "1.0.0" or value.startswith("1."):
        return 1
    if value.startswith("2."):
        return 2
    return None


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """No Origin header (not a browser), the request's own host, or a listed host."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    host = urlsplit(origin).netloc
    if not host:
        return False
    return host == request.host or host in allowed or urlsplit(origin).hostname in allowed


def _auth_token(request: web.Request) -> str | None:
    """phoenix.js ≥ 1.8 may send ``authToken`` in ``Sec-WebSocket-Protocol``."""
    for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(_BEARER_PREFIX):
            raw = proto[len(_BEARER_PREFIX) :]
            try:
                return base64.b64decode(raw + "=" * (-len(raw) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return request.headers.get("X-Phoenix-AuthToken")


def connect_info(request: web.Request, transport: str) -> ConnectInfo:
    return ConnectInfo(
        peer=request.remote,
        origin=request.headers.get("Origin"),
        user_agent=request.headers.get("User-Agent"),
        auth_token=_auth_token(request),
        transport=transport,
        # The live socket reads the browser session from it; never logged.
        headers={"Cookie": request.headers.get("Cookie", "")},
    )


async def accept(
    request: web.Request, mount: SocketMount, transport: str,
    query: list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, Any]] | web.Response:
    """Run the handshake; the serializer version and the assigns, or the refusal.
    ``query`` replaces the request's own (long-poll takes its session token out)."""
    vsn = parse_vsn(request.query.get("vsn"))
    if vsn is None:
        return web.Response(status=400, text="unsupported vsn")
    if not origin_allowed(request, mount.allowed_origins):
        log.info("socket refused: origin %r not allowed", request.headers.get("Origin"))
        return web.Response(status=403, text="origin not allowed")
    params: dict[str, str] = {}
    for key, value in request.query.items() if query is None else query:
        if key != "vsn":
            params.setdefault(key, value)
    assigns = await mount.handler.connect(params, connect_info(request, transport))
    if assigns is None:
        return web.Response(status=403, text="connection refused")
    return vsn, assigns


async def start_session(mount: SocketMount, conn: Any, assigns: dict[str, Any]) -> Pid:
    """A SocketSession for ``conn`` under the session supervisor."""
    spec = SocketSession.child_spec(
        conn, mount.handler, assigns, mount.handler.id(assigns), mount.pubsub, mount.limits,
        id="SocketSession", restart="temporary",
    )
    pid = await DynamicSupervisor.start_child(mount.sessions, spec)
    assert pid is not None
    return pid


async def end_session(session: Pid, reason: Any) -> None:
    """Stop the session (and so its channels) if it is still alive."""
    if otp.is_alive(session):
        try:
            await otp.stop(session, reason, timeout=10.0)
        except otp.CallError:
            pass  # it ended on its own meanwhile, or took too long and was left to die


def forget_tracebacks(ws: web.WebSocketResponse) -> None:
    """Drop the tracebacks of the errors ``ws`` keeps (a client that vanished leaves two).

    Their frames refer back to ``ws``: a cycle that holds the whole connection, which only
    the cyclic collector frees, and a node never collects the connections it froze
    (``otp.gc_policy``). Without the tracebacks, reference counting frees it all.
    """
    error: BaseException | None = ws.exception()
    for _ in range(8):  # the chain is short; the bound guards against a cycle in it
        if error is None:
            return
        error.__traceback__ = None
        error = error.__context__ or error.__cause__


def websocket_handler(
    mount: SocketMount, live: set[WebSocketConn] | None = None
) -> Callable[[web.Request], Awaitable[Any]]:
    """The ``GET <path>/websocket`` handler for ``mount``; the connections it serves are
    kept in ``live`` while they are open."""
    limits = mount.limits
    if live is None:
        live = set()
    # One timer per mount closes the connections silent for ``idle_timeout``, rather than a
    # timeout on every receive (which cost each connection a timer and each frame ~7 us).
    # A silent connection goes between ``idle_timeout`` and 1.1 x ``idle_timeout``.
    every = limits.idle_timeout / 10
    sweeper: list[Any] = [None, None]  # the loop it runs on, its timer handle

    def sweep() -> None:
        loop = sweeper[0]
        cutoff = loop.time() - limits.idle_timeout
        silent = [conn for conn in live if conn.seen < cutoff and not conn.closed]
        for conn in silent:
            log.info("closing a socket silent for %ss", limits.idle_timeout)
            conn.close(CLOSE_GOING_AWAY, "idle timeout")
        sweeper[1] = loop.call_later(every, sweep) if live else None

    def watch(conn: WebSocketConn, loop: asyncio.AbstractEventLoop) -> None:
        conn.seen = loop.time()
        live.add(conn)
        if sweeper[1] is None or sweeper[0] is not loop:
            sweeper[0] = loop
            sweeper[1] = loop.call_later(every, sweep)

    async def handler(request: web.Request) -> web.StreamResponse:
        accepted = await accept(request, mount, "websocket")
        if isinstance(accepted, web.Response):
            return accepted
        vsn, assigns = accepted
        ws = MaskedWebSocketResponse(
            protocols=("phoenix",), max_msg_size=limits.max_frame_bytes, compress=False,
            autoping=False,  # pings are answered below, so that they count as activity
        )
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        loop = asyncio.get_running_loop()

        closing: list[asyncio.Task[None]] = []  # held so the task is not collected early

        async def close_within(code: int, reason: str) -> None:
            try:
                await asyncio.wait_for(ws.close(code=code, message=reason.encode()),
                                       CLOSE_TIMEOUT)
            except TimeoutError:
                # A client that reads nothing (a slow consumer) never takes its close frame;
                # drop the connection and what is queued for it.
                transport.abort()

        def close(code: int, reason: str) -> None:
            closing.append(loop.create_task(close_within(code, reason)))

        conn = WebSocketConn(vsn, transport, limits.outbound_buffer_bytes, close)
        session = await start_session(mount, conn, assigns)
        proc = session._proc
        reason: Any = ("shutdown", "closed")
        if proc is not None:
            # However the session ends (killed, too), the client is told to come back.
            proc._on_exit(lambda _proc, _reason: conn.close(CLOSE_GOING_AWAY, "session ended"))
        watch(conn, loop)
        clock = loop.time
        bad = BadFrames(request.remote, limits.max_bad_frames)
        inflight = limits.max_inflight
        try:
            while proc is not None and proc._alive:
                msg = await ws.receive()  # an idle connection is closed by ``sweep``
                conn.seen = clock()
                if msg.type is WSMsgType.TEXT:
                    data: Any = msg.data
                    binary = False
                elif msg.type is WSMsgType.BINARY:
                    data, binary = msg.data, True
                elif msg.type is WSMsgType.PING:
                    await ws.pong(msg.data)
                    continue
                elif msg.type is WSMsgType.PONG:
                    continue
                else:
                    if msg.type is WSMsgType.ERROR:
                        log.info("socket error: %r", ws.exception())
                    break
                try:
                    frame = decode_binary(data) if binary else decode(data, vsn)
                except BadFrame as e:
                    if bad.count(e):
                        conn.close(CLOSE_POLICY, "too many bad frames")
                        break
                    continue
                proc._deliver(frame)
                if conn.pressing(inflight):
                    await conn.drained(inflight)
        finally:
            live.discard(conn)
            forget_tracebacks(ws)
            conn.closed = True
            bad.report()
            await end_session(session, reason)
        return ws

    return handler


class BadFrames:
    """The frames of one connection that did not parse: counted, and logged in one line
    when the connection ends rather than one line each (a flood of them is an attack on
    the log as much as on the node)."""

    __slots__ = ("first", "limit", "peer", "seen")

    def __init__(self, peer: str | None, limit: int) -> None:
        self.peer = peer
        self.limit = limit
        self.seen = 0
        self.first = ""

    def count(self, error: BadFrame) -> bool:
        """Count one bad frame; ``True`` when there are more than the limit (close now)."""
        metrics["bad_frames"] += 1
        self.seen += 1
        if self.seen == 1:
            self.first = str(error)
        return self.seen > self.limit

    def report(self) -> None:
        """The connection's one log line about its bad frames, if it sent any."""
        if self.seen:
            closed = " (closed: too many)" if self.seen > self.limit else ""
            log.warning("dropped %d bad frame(s) from %s%s; the first: %s",
                        self.seen, self.peer, closed, self.first)


def mount_socket(app: web.Application, path: str, mount: SocketMount) -> None:
    """Serve ``mount`` at ``path/websocket`` and ``path/longpoll``.

    Long-poll session tokens are signed with the application's ``web.keys.SECRET``.
    """
    # Imported here: web.longpoll builds on this module's handshake.
    from .csrf import exempt
    from .longpoll import LongPoll
    from .session import without_session

    live: set[WebSocketConn] = set()

    async def drain(_app: web.Application) -> None:
        # Shutting down: clients are told to come back (to this node or another) rather
        # than held until the shutdown timeout.
        for conn in list(live):
            conn.close(CLOSE_SERVICE_RESTART, "server restarting")

    # Sockets authenticate by their own means (tokens, or the live socket reading the
    # cookie itself): the page session middleware would only keep a session, a template
    # context and a user for each open connection.
    app.router.add_get(f"{path}/websocket", without_session(websocket_handler(mount, live)))
    app.on_shutdown.append(drain)
    if mount.longpoll:
        longpoll = LongPoll(mount)
        # Its POSTs carry the signed long-poll token, which no other site can know, and
        # never a CSRF token: the session middleware's CSRF check is not for them.
        app.router.add_route("*", f"{path}/longpoll", without_session(exempt(longpoll.handle)))
        app.on_shutdown.append(longpoll.close)


def channel_limits(config: ChannelsConfig) -> tuple[Limits, tuple[str, ...]]:
    """The :class:`Limits` and the allowed origin hosts of a ``[channels]`` config."""
    limits = Limits(
        max_frame_bytes=config.max_frame_bytes,
        max_channels=config.max_channels,
        max_topic_bytes=config.max_topic_bytes,
        outbound_buffer_bytes=config.outbound_buffer_bytes,
        idle_timeout=config.idle_timeout,
        longpoll_window=config.longpoll_window,
        max_bad_frames=config.max_bad_frames,
        max_inflight=config.max_inflight,
        event_rate=config.event_rate,
        event_burst=config.event_burst,
        longpoll_max_sessions=config.longpoll_max_sessions,
        longpoll_sessions_per_address=config.longpoll_sessions_per_address,
    )
    origins = tuple(host.strip() for host in config.allowed_origins.split(",") if host.strip())
    return limits, origins
