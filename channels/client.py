"""A Phoenix channels client in Python, speaking what phoenix.js speaks (V2 JSON, binary).

For API callers, tests and load generators::

    async with Socket("http://localhost:4000/socket", params={"token": t}) as socket:
        room = socket.channel("room:lobby", {"user": "ann"})
        await room.join()                              # JoinError / PushTimeout
        reply = await room.push("new_msg", {"body": "hi"})
        assert reply.status == "ok"
        async for msg in room:                         # pushes and broadcasts
            print(msg.event, msg.payload)

It behaves as phoenix.js 1.8 does (``protocol.md`` §1.4): a heartbeat every 30 s, and a
connection closed by anything but the client itself with a code other than 1000 (or one whose
heartbeat went unanswered) is reopened on the ``reconnect_after`` schedule; each channel that
was joined then rejoins, with a new join_ref. A ``phx_error`` makes the channel rejoin on the
``rejoin_after`` schedule (a refused rejoin is retried on it too, as phoenix.js does);
``phx_close`` ends it. Schedules are sequences of seconds whose last entry repeats; an empty
``reconnect_after`` never reconnects.

Unlike phoenix.js, the first ``connect()`` and ``join()`` raise when they fail (the caller
decides what next), and a push sent before a connection was lost fails with
:class:`Disconnected` instead of waiting out its timeout.

Memory per connection is kept small for load generators: one task (reading, with the
heartbeat as its receive timeout), timers for push timeouts, and per channel a bounded inbox
(``inbox_size`` messages, the oldest dropped first; 0 keeps none: use ``on`` callbacks).

Errors::

    ClientError
    ├── ConnectError   the handshake failed (``status``: the HTTP status, if any)
    ├── JoinError      the server refused the join (``response``)
    ├── PushTimeout    no reply within the push's (or join's) timeout
    └── Disconnected   not connected, or the connection was lost before the reply
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlencode

import aiohttp
import orjson

from .serializer import BadFrame, Message, decode

__all__ = [
    "RECONNECT_AFTER",
    "REJOIN_AFTER",
    "Channel",
    "ClientError",
    "ConnectError",
    "Disconnected",
    "JoinError",
    "Push",
    "PushTimeout",
    "Reply",
    "Socket",
    "decode_server_binary",
    "encode_client",
]

log = logging.getLogger("channels.client")

RECONNECT_AFTER = (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0)
"""phoenix.js's ``reconnectAfterMs``, in seconds; the last repeats."""
REJOIN_AFTER = (1.0, 2.0, 5.0, 10.0)
"""phoenix.js's ``rejoinAfterMs``, in seconds; the last repeats."""

_BEARER_PREFIX = "base64url.bearer.phx."


class ClientError(Exception):
    """Base of the client's errors."""


class ConnectError(ClientError):
    """The socket could not be opened: refused by the server (``status`` 403 from
    ``connect``, 400 for a bad vsn) or unreachable (``status`` None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JoinError(ClientError):
    """The server refused the join; ``response`` is its error response."""

    def __init__(self, topic: str, response: Any) -> None:
        super().__init__(f"join {topic!r} refused: {response!r}")
        self.topic = topic
        self.response = response


class PushTimeout(ClientError):
    """No reply came within the push's timeout (the server may still act on it)."""


class Disconnected(ClientError):
    """The socket is not connected, or lost its connection before the reply came."""


class Reply(NamedTuple):
    """The server's ``phx_reply``: ``status`` is ``"ok"`` or ``"error"``; ``response`` a
    dict (bytes for a binary reply)."""

    status: str
    response: Any


# -- frames ------------------------------------------------------------------------------------


def encode_client(msg: Message, vsn: int = 2) -> tuple[bytes, bool]:
    """A client frame for ``msg``: its bytes and whether it is binary (bytes payload)."""
    if isinstance(msg.payload, bytes):
        parts = [(s or "").encode() for s in (msg.join_ref, msg.ref, msg.topic, msg.event)]
        if any(len(p) > 255 for p in parts):
            raise ValueError("binary frame fields are limited to 255 bytes")
        head = bytes((0, *(len(p) for p in parts)))
        return head + b"".join(parts) + msg.payload, True
    if vsn == 2:
        return orjson.dumps([msg.join_ref, msg.ref, msg.topic, msg.event, msg.payload]), False
    return orjson.dumps({"join_ref": msg.join_ref, "ref": msg.ref, "topic": msg.topic,
                         "event": msg.event, "payload": msg.payload}), False


def decode_server_binary(data: bytes) -> Message:
    """A server binary frame (kind 0 push, 1 reply, 2 broadcast) as a :class:`Message`; a
    reply becomes ``phx_reply`` with ``{"status", "response": bytes}``, as in phoenix.js."""
    if not data:
        raise BadFrame("empty binary frame")
    kind = data[0]
    counts = {0: 3, 1: 4, 2: 2}.get(kind)
    if counts is None:
        raise BadFrame(f"unknown binary frame kind {kind}")
    lens = data[1 : 1 + counts]
    start = 1 + counts
    parts = []
    for n in lens:
        chunk = data[start : start + n]
        if len(chunk) != n:
            raise BadFrame("binary frame shorter than its header says")
        parts.append(chunk.decode())
        start += n
    payload = bytes(data[start:])
    if kind == 0:
        join_ref, topic, event = parts
        return Message(join_ref or None, None, topic, event, payload)
    if kind == 1:
        join_ref, ref, topic, status = parts
        return Message(join_ref or None, ref or None, topic, "phx_reply",
                       {"status": status, "response": payload})
    topic, event = parts
    return Message(None, None, topic, event, payload)


def _flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """phoenix.js's query encoding: nested objects become ``outer[inner]``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            out.extend(_flatten(value, name))
        elif value is not None:
            out.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return out


def _after(schedule: Sequence[float], tries: int) -> float:
    return schedule[min(tries, len(schedule) - 1)]


Params = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


def _params(params: Params | None) -> dict[str, Any]:
    if params is None:
        return {}
    return dict(params() if callable(params) else params)


# -- pushes ------------------------------------------------------------------------------------


class Push:
    """A message sent on a channel; ``await push`` gives the :class:`Reply` or raises
    :class:`PushTimeout` / :class:`Disconnected`."""

    __slots__ = ("_timer", "channel", "event", "future", "payload", "ref")

    def __init__(self, channel: Channel, event: str, payload: Any, timeout: float) -> None:
        self.channel = channel
        self.event = event
        self.payload = payload
        self.ref: str | None = None  # given when it is sent
        loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Reply] = loop.create_future()
        self._timer: asyncio.TimerHandle | None = loop.call_later(timeout, self._expire)

    def __await__(self) -> Any:
        return self.future.__await__()

    def __repr__(self) -> str:
        return f"Push({self.channel.topic!r}, {self.event!r}, ref={self.ref!r})"

    def _send(self) -> None:
        socket = self.channel.socket
        self.ref = socket.make_ref()
        socket._pending[self.ref] = self
        socket.send(Message(self.channel.join_ref, self.ref, self.channel.topic, self.event,
                            self.payload))

    def _settle(self, reply: Reply | None, error: ClientError | None = None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.ref is not None:
            self.channel.socket._pending.pop(self.ref, None)
        if not self.future.done():
            if error is not None:
                self.future.set_exception(error)
                self.future.exception()  # retrieved: nobody awaiting it is not an error
            else:
                self.future.set_result(reply)  # type: ignore[arg-type]

    def _expire(self) -> None:
        self._timer = None
        channel = self.channel
        if self in channel._buffer:
            channel._buffer.remove(self)
        self._settle(None, PushTimeout(f"no reply to {self.event!r} on {channel.topic!r}"))


# -- channels ----------------------------------------------------------------------------------


class Channel:
    """One topic on a :class:`Socket`; made by :meth:`Socket.channel`.

    ``state`` is ``"closed"``, ``"joining"``, ``"joined"``, ``"leaving"`` or ``"errored"``
    (waiting to rejoin). Messages for this channel (pushes, broadcasts, and ``phx_error`` /
    ``phx_close``) go to the ``on`` callbacks of their event and to the inbox, read with
    ``await channel.receive()`` or ``async for msg in channel``.
    """

    __slots__ = ("_buffer", "_hooks", "_inbox", "_initial", "_join_push", "_rejoin_timer",
                 "_tries", "_waiter", "join_ref", "params", "socket", "state", "timeout",
                 "topic")

    def __init__(self, socket: Socket, topic: str, params: Params | None,
                 timeout: float) -> None:
        self.socket = socket
        self.topic = topic
        self.params = params
        self.timeout = timeout
        self.state = "closed"
        self.join_ref: str | None = None
        self._join_push: Push | None = None
        self._initial = False
        self._buffer: list[Push] = []
        self._hooks: dict[str, list[Callable[[Any], Any]]] | None = None
        self._inbox: deque[Message] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._rejoin_timer: asyncio.TimerHandle | None = None
        self._tries = 0

    def __repr__(self) -> str:
        return f"Channel({self.topic!r}, {self.state}, join_ref={self.join_ref!r})"

    # -- what callers use ------------------------------------------------------------------

    async def join(self, timeout: float | None = None) -> Any:
        """Join; the server's join response. Raises :class:`JoinError` if refused,
        :class:`PushTimeout` or :class:`Disconnected`; the channel is then closed."""
        if self.state != "closed" or self._initial:
            raise RuntimeError(f"{self!r}: join() is called once per channel")
        if not self.socket.connected:
            raise Disconnected("the socket is not connected")
        self._initial = True
        push = self._send_join(timeout)
        try:
            reply = await push
        finally:
            self._initial = False
        if reply.status != "ok":
            raise JoinError(self.topic, reply.response)
        return reply.response

    def push(self, event: str, payload: Any = None, timeout: float | None = None) -> Push:
        """Send ``event``; await the result for the :class:`Reply`. Before the channel is
        joined (or while it rejoins) the push waits in a buffer, its timeout running."""
        if self.state == "closed" and self._join_push is None:
            raise RuntimeError(f"{self!r}: push before join")
        push = Push(self, event, {} if payload is None else payload,
                    self.timeout if timeout is None else timeout)
        if self.state == "joined" and self.socket.connected:
            push._send()
        else:
            self._buffer.append(push)
        return push

    async def leave(self, timeout: float | None = None) -> None:
        """Leave the topic (waiting for the server's ok, at most ``timeout``); the channel
        is closed afterwards and does not rejoin."""
        self._cancel_rejoin()
        if self.state in ("joined", "joining") and self.socket.connected:
            self.state = "leaving"
            push = Push(self, "phx_leave", {}, self.timeout if timeout is None else timeout)
            push._send()
            with contextlib.suppress(ClientError):
                await push
        self._close()

    def on(self, event: str, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(payload)`` for each ``event`` message (``"phx_join"``: after each
        successful join or rejoin, with the join response)."""
        if self._hooks is None:
            self._hooks = {}
        self._hooks.setdefault(event, []).append(callback)

    def off(self, event: str, callback: Callable[[Any], Any] | None = None) -> None:
        """Remove ``callback`` (or every callback) for ``event``."""
        hooks = self._hooks.get(event) if self._hooks else None
        if hooks is not None:
            if callback is None:
                hooks.clear()
            elif callback in hooks:
                hooks.remove(callback)

    async def receive(self, timeout: float | None = None) -> Message:
        """The next message from the inbox; ``TimeoutError`` after ``timeout`` seconds."""
        if self.socket.inbox_size == 0:
            raise RuntimeError("this socket keeps no inbox (inbox_size=0)")
        async with asyncio.timeout(timeout):
            while not self._inbox:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        assert self._inbox is not None
        return self._inbox.popleft()

    def __aiter__(self) -> Channel:
        return self

    async def __anext__(self) -> Message:
        if self.state == "closed" and not self._inbox:
            raise StopAsyncIteration
        return await self.receive()

    # -- joining and rejoining -------------------------------------------------------------

    def _send_join(self, timeout: float | None = None) -> Push:
        socket = self.socket
        other = socket._channels.get(self.topic)
        if other is not None and other is not self:
            other._close()  # one instance per topic, as phoenix.js dedupes
        socket._channels[self.topic] = self
        self.state = "joining"
        push = Push(self, "phx_join", _params(self.params),
                    self.timeout if timeout is None else timeout)
        self._join_push = push
        push.ref = self.join_ref = socket.make_ref()
        socket._pending[push.ref] = push
        socket.send(Message(self.join_ref, push.ref, self.topic, "phx_join", push.payload))
        push.future.add_done_callback(lambda _f: self._joined(push))
        return push

    def _joined(self, push: Push) -> None:
        if push is not self._join_push or self.state != "joining":
            return  # a stale join, or the channel was left meanwhile
        future = push.future
        reply = None if future.cancelled() or future.exception() else future.result()
        if reply is not None and reply.status == "ok":
            self.state = "joined"
            self._tries = 0
            buffered, self._buffer = self._buffer, []
            for waiting in buffered:
                waiting._send()
            self._run_hooks("phx_join", reply.response)
            return
        if self._initial:
            if isinstance(future.exception(), PushTimeout) and self.socket.connected:
                self._send_leave()
            self._close()
            return
        log.info("rejoining %r failed: %r", self.topic, reply or future.exception())
        if isinstance(future.exception(), PushTimeout) and self.socket.connected:
            self._send_leave()
        self.state = "errored"
        self._schedule_rejoin()

    def _send_leave(self) -> None:
        with contextlib.suppress(Disconnected):
            self.socket.send(Message(self.join_ref, self.socket.make_ref(), self.topic,
                                     "phx_leave", {}))

    def _schedule_rejoin(self) -> None:
        self._cancel_rejoin()
        if not self.socket.connected:
            return  # the socket rejoins errored channels when it opens again
        delay = _after(self.socket.rejoin_after, self._tries)
        self._tries += 1
        self._rejoin_timer = asyncio.get_running_loop().call_later(delay, self._rejoin)

    def _rejoin(self) -> None:
        self._rejoin_timer = None
        if self.state == "errored" and self.socket.connected:
            self._send_join()

    def _cancel_rejoin(self) -> None:
        if self._rejoin_timer is not None:
            self._rejoin_timer.cancel()
            self._rejoin_timer = None

    def _close(self) -> None:
        self._cancel_rejoin()
        self.state = "closed"
        self._join_push = None
        if self.socket._channels.get(self.topic) is self:
            del self.socket._channels[self.topic]
        buffered, self._buffer = self._buffer, []
        for push in buffered:
            push._settle(None, Disconnected(f"{self.topic!r} was left"))
        self._wake()

    # -- inbound ---------------------------------------------------------------------------

    def _trigger(self, msg: Message) -> None:
        if msg.join_ref is not None and msg.join_ref != self.join_ref:
            return  # from an earlier instance of this channel
        event = msg.event
        if event == "phx_reply":
            return  # settled through the socket's pending pushes
        if event == "phx_close":
            if self.state == "closed":
                return
            self._close()
        elif event == "phx_error":
            if self.state in ("leaving", "closed"):
                return
            self._errored()
        self._deliver(msg)

    def _errored(self) -> None:
        """The channel's process crashed or the connection went: rejoin later."""
        if self._join_push is not None and self.state == "joining" and self._initial:
            return  # the join in flight fails through its push
        self.state = "errored"
        self._schedule_rejoin()

    def _deliver(self, msg: Message) -> None:
        size = self.socket.inbox_size
        if size:
            if self._inbox is None:
                self._inbox = deque(maxlen=size)
            self._inbox.append(msg)
            self._wake()
        self._run_hooks(msg.event, msg.payload)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _run_hooks(self, event: str, payload: Any) -> None:
        hooks = self._hooks.get(event) if self._hooks else None
        for hook in hooks or ():
            try:
                hook(payload)
            except Exception:
                log.exception("channel %r: callback for %r failed", self.topic, event)


# -- sockets -----------------------------------------------------------------------------------


class Socket:
    """One connection to a Phoenix socket endpoint; see the module docstring.

    ``url`` is the endpoint (``http://host/socket``: ``/websocket`` is added, as phoenix.js
    does); ``params`` (a mapping, or a function called at each connect) go in the query
    string with ``vsn``. ``http`` is an ``aiohttp.ClientSession`` to share (load generators
    open many sockets); without one the socket opens its own.
    """

    __slots__ = ("_channels", "_closing", "_hb_ref", "_http", "_on_close", "_on_message",
                 "_on_open", "_own_http", "_pending", "_ref", "_task", "_ws", "auth_token",
                 "heartbeat_interval", "inbox_size", "params", "reconnect_after",
                 "rejoin_after", "timeout", "url", "vsn")

    def __init__(
        self,
        url: str,
        params: Params | None = None,
        *,
        vsn: str = "2.0.0",
        timeout: float = 10.0,
        heartbeat_interval: float = 30.0,
        reconnect_after: Sequence[float] = RECONNECT_AFTER,
        rejoin_after: Sequence[float] = REJOIN_AFTER,
        inbox_size: int = 100,
        auth_token: str | None = None,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/websocket") else base + "/websocket"
        self.params = params
        self.vsn = vsn
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self.reconnect_after = tuple(reconnect_after)
        self.rejoin_after = tuple(rejoin_after) or REJOIN_AFTER
        self.inbox_size = inbox_size
        self.auth_token = auth_token
        self._http = http
        self._own_http = http is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ref = 0
        self._hb_ref: str | None = None
        self._pending: dict[str, Push] = {}
        self._channels: dict[str, Channel] = {}
        self._on_open: list[Callable[[], Any]] | None = None
        self._on_close: list[Callable[[int], Any]] | None = None
        self._on_message: list[Callable[[Message], Any]] | None = None

    def __repr__(self) -> str:
        return f"Socket({self.url!r}, connected={self.connected})"

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open."""
        return self._ws is not None and not self._ws.closed

    @property
    def serializer(self) -> int:
        """The frame format the ``vsn`` selects: 2 (arrays) or 1 (objects)."""
        return 2 if self.vsn.startswith("2.") else 1

    async def connect(self) -> None:
        """Open the connection; raises :class:`ConnectError`. From then on the socket
        reconnects by itself until :meth:`disconnect`."""
        if self._task is not None:
            raise RuntimeError("connect() is called once; the socket reconnects by itself")
        self._closing = False
        try:
            ws = await self._open()
        except ConnectError:
            if self._own_http and self._http is not None:
                await self._http.close()
                self._http = None
            raise
        self._task = asyncio.get_running_loop().create_task(self._run(ws))

    async def disconnect(self, code: int = 1000) -> None:
        """Close the connection (no reconnect); channels are left errored, pending pushes
        fail with :class:`Disconnected`."""
        self._closing = True
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close(code=code)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lost()
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> Socket:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.disconnect()

    def channel(self, topic: str, params: Params | None = None,
                timeout: float | None = None) -> Channel:
        """A channel for ``topic`` (joined with ``params``, a mapping or a function called at
        each join); call :meth:`Channel.join` next."""
        return Channel(self, topic, params, self.timeout if timeout is None else timeout)

    def on_open(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` each time the connection opens again (not on ``connect``)."""
        self._on_open = [*(self._on_open or ()), callback]

    def on_close(self, callback: Callable[[int], Any]) -> None:
        """Call ``callback(code)`` each time the connection closes."""
        self._on_close = [*(self._on_close or ()), callback]

    def on_message(self, callback: Callable[[Message], Any]) -> None:
        """Call ``callback(message)`` for every message the server sends, replies included."""
        self._on_message = [*(self._on_message or ()), callback]

    # -- sending ---------------------------------------------------------------------------

    def make_ref(self) -> str:
        """The next message ref of this socket (refs are not reset by reconnects)."""
        self._ref += 1
        return str(self._ref)

    def send(self, msg: Message) -> None:
        """Send one message now; raises :class:`Disconnected`. Most callers want
        :meth:`Channel.push`."""
        ws = self._ws
        if ws is None or ws.closed:
            raise Disconnected("the socket is not connected")
        data, binary = encode_client(msg, self.serializer)
        _drive(ws.send_bytes(data) if binary else ws.send_str(data.decode()))

    # -- the connection --------------------------------------------------------------------

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        query = urlencode([*_flatten(_params(self.params)), ("vsn", self.vsn)])
        protocols: tuple[str, ...] = ()
        if self.auth_token is not None:
            token = base64.b64encode(self.auth_token.encode()).decode().rstrip("=")
            protocols = ("phoenix", _BEARER_PREFIX + token)
        try:
            ws = await self._http.ws_connect(f"{self.url}?{query}", protocols=protocols,
                                             autoping=True, timeout=aiohttp.ClientWSTimeout(
                                                 ws_close=self.timeout))
        except aiohttp.WSServerHandshakeError as e:
            raise ConnectError(f"{self.url}: {e.status} {e.message}", e.status) from None
        except (aiohttp.ClientError, OSError) as e:
            raise ConnectError(f"{self.url}: {e}") from None
        self._ws = ws
        self._hb_ref = None
        return ws

    async def _run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            try:
                code = await self._read(ws)
            except (ClientError, aiohttp.ClientError, OSError) as e:
                log.info("connection to %s lost: %r", self.url, e)
                code = 1006
            self._lost()
            self._run_callbacks(self._on_close, code)
            if self._closing or code == 1000 or not self.reconnect_after:
                return
            ws = await self._reopen()
            for channel in list(self._channels.values()):
                if channel.state == "errored":
                    channel._cancel_rejoin()
                    channel._tries = 0
                    channel._send_join()
            self._run_callbacks(self._on_open)

    async def _reopen(self) -> aiohttp.ClientWebSocketResponse:
        tries = 0
        while True:
            await asyncio.sleep(_after(self.reconnect_after, tries))
            tries += 1
            try:
                return await self._open()
            except ConnectError as e:
                log.info("reconnecting to %s failed: %s", self.url, e)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> int:
        """Read until the connection closes; its close code (a heartbeat timeout counts as
        1006, so the socket reconnects)."""
        loop = asyncio.get_running_loop()
        interval = self.heartbeat_interval
        next_beat = loop.time() + interval
        vsn = self.serializer
        while True:
            try:
                msg = await ws.receive(timeout=max(next_beat - loop.time(), 0.001))
            except TimeoutError:
                if self._hb_ref is not None:
                    log.info("no heartbeat reply from %s: reconnecting", self.url)
                    await ws.close(code=1000, message=b"heartbeat timeout")
                    return 1006
                self._hb_ref = self.make_ref()
                self.send(Message(None, self._hb_ref, "phoenix", "heartbeat", {}))
                next_beat = loop.time() + interval
                continue
            try:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._dispatch(decode(msg.data, vsn))
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self._dispatch(decode_server_binary(msg.data))
                elif msg.type is aiohttp.WSMsgType.CLOSE:
                    return int(msg.data)
                else:
                    return ws.close_code or 1006
            except (BadFrame, UnicodeDecodeError) as e:
                log.warning("dropped a bad frame from %s: %s", self.url, e)

    def _dispatch(self, msg: Message) -> None:
        if msg.event == "phx_reply" and msg.ref is not None:
            if msg.ref == self._hb_ref:
                self._hb_ref = None
            push = self._pending.get(msg.ref)
            if push is not None:
                payload = msg.payload
                push._settle(Reply(payload.get("status", "error"), payload.get("response")))
        self._run_callbacks(self._on_message, msg)
        channel = self._channels.get(msg.topic)
        if channel is not None:
            channel._trigger(msg)

    def _lost(self) -> None:
        """The connection is gone: in-flight pushes fail, live channels become errored."""
        self._ws = None
        pending, self._pending = self._pending, {}
        for push in pending.values():
            push._settle(None, Disconnected("the connection closed before the reply"))
        for channel in list(self._channels.values()):
            if channel.state in ("joined", "joining"):
                channel._errored()
                channel._deliver(Message(channel.join_ref, channel.join_ref, channel.topic,
                                         "phx_error", {"source": "transport",
                                                       "reason": "connection_closed"}))
            elif channel.state == "leaving":
                channel._close()

    def _run_callbacks(self, callbacks: list[Callable[..., Any]] | None, *args: Any) -> None:
        for callback in callbacks or ():
            try:
                callback(*args)
            except Exception:
                log.exception("socket callback %r failed", callback)


def _drive(coro: Coroutine[Any, Any, None]) -> None:
    """Run a send now, to its end or to its first wait (flow control), and resume it when
    what it waits on is done, as a task would: an uncongested send costs no task."""
    try:
        waited = coro.send(None)
    except StopIteration:
        return
    except (Exception, asyncio.CancelledError) as e:
        log.info("a frame could not be sent: %r", e)
        return
    waited.add_done_callback(lambda _f: _drive(coro))
