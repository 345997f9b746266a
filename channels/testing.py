"""Testing channels the way Phoenix's ChannelCase does (seed Example 36).

The ``channel_case`` fixture (a :class:`ChannelCase` with the node's PubSub running) comes
with Hearth's pytest plugin (:mod:`hearth.testing.plugin`, installed with the package); a
test asks for it::

    async def test_new_message_is_broadcast(channel_case):
        socket = await channel_case.connect(UserSocket(), {"token": token})
        reply, room = await channel_case.subscribe_and_join(socket, "room:123")
        ref = channel_case.push(room, "new_message", {"body": "Hello"})
        await channel_case.assert_reply(ref, "ok")
        await channel_case.assert_broadcast("message", {"body": "Hello"})

``connect`` runs the handler's ``connect`` and starts a real SocketSession in this process,
writing to a capturing connection instead of a network (every frame is still encoded and
decoded, so what a test sees is what a client would). ``connect_url`` does the same over a
real socket with :mod:`channels.client`. Either way, what the server sends lands in one inbox
per test, as in the test process's mailbox in Phoenix: ``assert_push`` and ``assert_reply``
take from it, ``assert_broadcast`` takes from the broadcasts on topics joined with
``subscribe_and_join``.

Every ``assert_*`` waits for its message at most ``timeout`` seconds (5 by default) and
returns as soon as it is there; it never sleeps. ``refute_*`` look at what has arrived so
far, so wait first on something that comes after (a reply, usually). An expected payload
(or reply response) given as a dict matches when each of its keys is in the message with that
value (as an Elixir map pattern does); ``None`` matches anything.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import pytest_asyncio

import otp
from hearth import names
from otp import GenServer, NoReply, Ok, Pid, PubSub, Reply

from .client import ConnectError, Disconnected, JoinError, Socket, decode_server_binary
from .client import encode_client as _encode_client
from .conn import Conn
from .handler import ConnectInfo, Limits, SocketHandler
from .serializer import BINARY, TEXT, Broadcast, Message, decode, decode_binary
from .session import SocketSession

__all__ = [
    "ChannelCase",
    "Connection",
    "Joined",
    "PushRef",
    "channel_case",
]

WAIT = 5.0


class Joined(NamedTuple):
    """A channel a test joined: push to it, leave it."""

    conn: Connection
    topic: str
    join_ref: str | None


class PushRef(NamedTuple):
    """The ref of a message a test sent, for :meth:`ChannelCase.assert_reply`."""

    conn: Connection
    topic: str
    ref: str


class _Closed(NamedTuple):
    code: int


class _Inbox:
    """What arrived, in order, taken by match (a selective receive)."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def find(self, match: Callable[[Any], bool]) -> Any:
        return next((item for item in self.items if match(item)), None)

    async def take(self, match: Callable[[Any], bool], timeout: float, what: str) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, item in enumerate(self.items):
                if match(item):
                    del self.items[i]
                    return item
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {what} within {timeout}s; got {list(self.items)!r}"
                )
            self.waiter = loop.create_future()
            try:
                await asyncio.wait_for(self.waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self.waiter = None


def _matches(expected: Any, actual: Any) -> bool:
    if expected is None:
        return True
    return _subset(expected, actual)


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and isinstance(actual, dict):
        # Like an Elixir map pattern, at every level: the keys named must be there.
        return all(key in actual and _subset(value, actual[key])
                   for key, value in expected.items())
    return bool(expected == actual)


# -- connections -------------------------------------------------------------------------------


class Connection:
    """One connection a :class:`ChannelCase` opened, in this process or over a socket."""

    def __init__(self, case: ChannelCase, vsn: int) -> None:
        self.case = case
        self.vsn = vsn
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._ref = 0

    def next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    def send(self, msg: Message) -> None:
        """Send one client message (a bytes payload goes as a binary frame)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the connection (its session and channels end)."""
        raise NotImplementedError

    def _received(self, msg: Message) -> None:
        self.case._messages.put((self, msg))

    def _lost(self, code: int) -> None:
        if not self.closed.done():
            self.closed.set_result(code)
            self.case._messages.put((self, _Closed(code)))


class _Capture(Conn):
    """A Conn that hands each frame, decoded again, to its test connection."""

    __slots__ = ("owner",)

    def __init__(self, vsn: int, owner: _LocalConnection) -> None:
        super().__init__(vsn)
        self.owner = owner

    def broadcast(self, bcast: Broadcast) -> None:
        self._write(bcast.text(self.vsn), BINARY if isinstance(bcast.payload, bytes) else TEXT)

    def _write(self, data: bytes, opcode: int) -> None:
        if self.closed:
            return
        msg = decode_server_binary(data) if opcode == BINARY else decode(data, self.vsn)
        self.owner._received(msg)

    def _close(self, code: int, reason: str) -> None:
        self.owner._lost(code)


class _LocalConnection(Connection):
    """A SocketSession in this process, writing to a :class:`_Capture`."""

    def __init__(self, case: ChannelCase, vsn: int) -> None:
        super().__init__(case, vsn)
        self.conn = _Capture(vsn, self)
        self.session: Pid | None = None

    def send(self, msg: Message) -> None:
        data, binary = _encode_client(msg, self.vsn)
        frame = decode_binary(data) if binary else decode(data, self.vsn)
        proc = self.session._proc if self.session is not None else None
        if proc is None or self.conn.closed:
            raise Disconnected("the session has ended")
        proc._deliver(frame)

    async def close(self) -> None:
        session = self.session
        if session is not None and otp.is_alive(session):
            try:
                await otp.stop(session, ("shutdown", "closed"), timeout=WAIT)
            except otp.CallError:
                pass  # it ended on its own meanwhile
        self._lost(1000)


class _RemoteConnection(Connection):
    """A real socket, through :class:`channels.client.Socket`."""

    def __init__(self, case: ChannelCase, socket: Socket) -> None:
        super().__init__(case, socket.serializer)
        self.socket = socket
        socket.on_message(self._received)
        socket.on_close(self._lost)

    def next_ref(self) -> str:
        return self.socket.make_ref()

    def send(self, msg: Message) -> None:
        self.socket.send(msg)

    async def close(self) -> None:
        await self.socket.disconnect()


# -- the case ----------------------------------------------------------------------------------


class _Listener(GenServer):
    """Subscribes, on a test's behalf, to the topics it joins; collects their broadcasts."""

    def init(self, pubsub: str, inbox: _Inbox) -> Any:
        return Ok((pubsub, inbox))

    def handle_call(self, request: Any, from_: Any, state: tuple[str, _Inbox]) -> Any:
        op, topic = request
        if op == "subscribe":
            PubSub.subscribe(state[0], topic)
        else:
            PubSub.unsubscribe(state[0], topic)
        return Reply(None, state)

    def handle_info(self, msg: Any, state: tuple[str, _Inbox]) -> Any:
        if type(msg) is Broadcast:
            state[1].put(msg)
            return NoReply(state)
        return super().handle_info(msg, state)


class ChannelCase:
    """One test's connections and what they received; see the module docstring."""

    def __init__(self, pubsub: str = names.PUBSUB, timeout: float = WAIT) -> None:
        self.pubsub = pubsub
        self.timeout = timeout
        self._messages = _Inbox()
        self._broadcasts = _Inbox()
        self._listener: Pid | None = None
        self._connections: list[Connection] = []

    # -- connecting ------------------------------------------------------------------------

    async def connect(
        self,
        handler: SocketHandler,
        params: dict[str, str] | None = None,
        *,
        info: ConnectInfo | None = None,
        limits: Limits | None = None,
        vsn: int = 2,
    ) -> Connection:
        """Connect to ``handler`` in this process; raises :class:`ConnectError` (403) if its
        ``connect`` refuses."""
        info = info or ConnectInfo(peer=None, origin=None, user_agent=None, transport="test")
        assigns = await handler.connect(dict(params or {}), info)
        if assigns is None:
            raise ConnectError("connect refused", 403)
        conn = _LocalConnection(self, vsn)
        conn.session = await SocketSession.start(
            conn.conn, handler, assigns, handler.id(assigns), self.pubsub, limits or Limits()
        )
        self._connections.append(conn)
        return conn

    async def connect_url(
        self, url: str, params: dict[str, Any] | None = None, **options: Any
    ) -> Connection:
        """Connect over a real socket at ``url`` (``http://host:port/socket``); ``options``
        go to :class:`channels.client.Socket`. Raises :class:`ConnectError`."""
        socket = Socket(url, params, reconnect_after=(), inbox_size=0, **options)
        conn = _RemoteConnection(self, socket)
        await socket.connect()
        self._connections.append(conn)
        return conn

    async def close(self) -> None:
        """Close every connection, and stop listening to broadcasts."""
        for conn in self._connections:
            await conn.close()
        self._connections.clear()
        listener, self._listener = self._listener, None
        if listener is not None and otp.is_alive(listener):
            await otp.stop(listener)

    # -- acting ----------------------------------------------------------------------------

    async def join(
        self, conn: Connection, topic: str, payload: dict[str, Any] | None = None
    ) -> tuple[Any, Joined]:
        """Join ``topic``: the join response and the channel; raises :class:`JoinError`."""
        ref = conn.next_ref()
        conn.send(Message(ref, ref, topic, "phx_join", payload or {}))
        reply = await self._reply(PushRef(conn, topic, ref))
        if reply["status"] != "ok":
            raise JoinError(topic, reply["response"])
        return reply["response"], Joined(conn, topic, ref)

    async def subscribe_and_join(
        self, conn: Connection, topic: str, payload: dict[str, Any] | None = None
    ) -> tuple[Any, Joined]:
        """Like :meth:`join`, and collect the topic's broadcasts for
        :meth:`assert_broadcast`."""
        await self._subscribe("subscribe", topic)
        try:
            return await self.join(conn, topic, payload)
        except JoinError:
            await self._subscribe("unsubscribe", topic)
            raise

    def push(self, channel: Joined, event: str, payload: Any = None) -> PushRef:
        """Send ``event`` to the channel; the ref for :meth:`assert_reply`."""
        ref = channel.conn.next_ref()
        channel.conn.send(
            Message(channel.join_ref, ref, channel.topic, event, {} if payload is None else payload)
        )
        return PushRef(channel.conn, channel.topic, ref)

    def leave(self, channel: Joined) -> PushRef:
        """Leave the channel; the ref of the leave (the server replies, then ``phx_close``)."""
        return self.push(channel, "phx_leave", {})

    def broadcast(self, topic: str, event: str, payload: Any) -> None:
        """Broadcast ``event`` to every subscriber of ``topic``, as the application would."""
        PubSub.broadcast(self.pubsub, topic, Broadcast(topic, event, payload))

    # -- asserting -------------------------------------------------------------------------

    async def assert_reply(self, ref: PushRef, status: str, response: Any = None) -> Any:
        """Wait for the reply to ``ref``; assert its status (and response); the response."""
        reply = await self._reply(ref)
        assert reply["status"] == status, f"reply to {ref.ref}: {reply!r}, expected {status!r}"
        assert _matches(response, reply["response"]), (
            f"reply to {ref.ref}: {reply['response']!r}, expected {response!r}"
        )
        return reply["response"]

    async def assert_push(
        self, event: str, payload: Any = None, *, topic: str | None = None,
        to: Connection | None = None,
    ) -> Any:
        """Wait for a message ``event`` (not a reply) sent to a test connection (``to``, if
        given); its payload."""
        _conn, msg = await self._messages.take(
            self._push_matcher(event, payload, topic, to), self.timeout,
            f"a push {event!r} {payload!r}",
        )
        return msg.payload

    async def assert_broadcast(self, event: str, payload: Any = None, *,
                               topic: str | None = None) -> Any:
        """Wait for a broadcast ``event`` on a topic joined with :meth:`subscribe_and_join`;
        its payload."""
        bcast = await self._broadcasts.take(
            self._broadcast_matcher(event, payload, topic), self.timeout,
            f"a broadcast {event!r} {payload!r}",
        )
        return bcast.payload

    def refute_push(self, event: str, payload: Any = None, *, topic: str | None = None,
                    to: Connection | None = None) -> None:
        """Assert no such push has arrived (so far: wait on something later first)."""
        found = self._messages.find(self._push_matcher(event, payload, topic, to))
        assert found is None, f"unexpected push {found[1]!r}"

    def refute_broadcast(self, event: str, payload: Any = None, *,
                         topic: str | None = None) -> None:
        """Assert no such broadcast has arrived (so far: wait on something later first)."""
        found = self._broadcasts.find(self._broadcast_matcher(event, payload, topic))
        assert found is None, f"unexpected broadcast {found!r}"

    async def assert_closed(self, conn: Connection) -> int:
        """Wait for ``conn`` to be closed by the server; the close code."""
        await self._messages.take(
            lambda item: item[0] is conn and type(item[1]) is _Closed, self.timeout,
            "the connection to close",
        )
        return conn.closed.result()

    # -- helpers ---------------------------------------------------------------------------

    async def _reply(self, ref: PushRef) -> dict[str, Any]:
        def match(item: tuple[Connection, Any]) -> bool:
            conn, msg = item
            return (conn is ref.conn and type(msg) is Message and msg.event == "phx_reply"
                    and msg.ref == ref.ref)

        _conn, msg = await self._messages.take(match, self.timeout, f"a reply to {ref.ref}")
        payload: dict[str, Any] = msg.payload
        return payload

    @staticmethod
    def _push_matcher(event: str, payload: Any, topic: str | None,
                      to: Connection | None) -> Callable[[Any], bool]:
        def match(item: tuple[Connection, Any]) -> bool:
            conn, msg = item
            return (type(msg) is Message and msg.event == event and msg.event != "phx_reply"
                    and (to is None or conn is to) and (topic is None or msg.topic == topic)
                    and _matches(payload, msg.payload))

        return match

    @staticmethod
    def _broadcast_matcher(event: str, payload: Any,
                           topic: str | None) -> Callable[[Any], bool]:
        def match(bcast: Broadcast) -> bool:
            return (bcast.event == event and (topic is None or bcast.topic == topic)
                    and _matches(payload, bcast.payload))

        return match

    async def _subscribe(self, op: str, topic: str) -> None:
        if self._listener is None or not otp.is_alive(self._listener):
            self._listener = await _Listener.start(self.pubsub, self._broadcasts)
        await otp.call(self._listener, (op, topic))


# -- the pytest plugin -------------------------------------------------------------------------


@pytest_asyncio.fixture
async def channel_case() -> AsyncIterator[ChannelCase]:
    """A :class:`ChannelCase`, with the node's PubSub started if it is not running."""
    pubsub = None
    if otp.whereis(names.PUBSUB) is None:
        pubsub = await PubSub.start(name=names.PUBSUB)
    case = ChannelCase(names.PUBSUB)
    try:
        yield case
    finally:
        await case.close()
        if pubsub is not None and otp.is_alive(pubsub):
            await otp.stop(pubsub)
