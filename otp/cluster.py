"""Nodes: who is in the cluster, from heartbeats sent through the PubSub.

Each node's :class:`Nodes` process broadcasts a :class:`Heartbeat` on :data:`NODES_TOPIC`
every ``interval`` seconds (what it says of itself: its address, its connections, anything
its ``info`` callback returns) and records the heartbeats of the others. A node first heard
from, or heard from again after it was down, or heard with a new boot id (restarted), is
*up*; one silent for ``down_after`` seconds is *down*. Each change is told to this node's
subscribers of :data:`EVENTS_TOPIC` as :class:`NodeUp` or :class:`NodeDown`, on this node
only: every node decides for itself, from what it hears, as Erlang's ``net_kernel`` does.

A node that starts, and a node whose link to Redis comes back, sends a first heartbeat that
asks for an answer (``hello``): everyone answers with their own at once, so a newcomer knows
the cluster without waiting for a full interval.

``Nodes.list(name)`` is the table (this node first): name, address, uptime, last heartbeat,
up or down, and the rest of what each said of itself.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from .errors import OtpError
from .gen_server import From, GenServer, NoReply, Ok, Reply, call
from .pubsub import PubSub
from .redis_adapter import LINK_TOPIC, LinkChanged
from .timers import send_after

__all__ = ["EVENTS_TOPIC", "NODES_TOPIC", "Heartbeat", "NodeDown", "NodeUp", "Nodes"]

log = logging.getLogger("otp.cluster")

NODES_TOPIC = "otp.cluster:nodes"
"""The heartbeats, on every node."""
EVENTS_TOPIC = "otp.cluster:events"
"""This node's :class:`NodeUp` and :class:`NodeDown`."""

Info = Callable[[], "Awaitable[dict[str, Any]] | dict[str, Any]"]


class Heartbeat(NamedTuple):
    """What a node says of itself, every interval."""

    node: str
    boot: str
    started_at: float
    sent_at: float
    info: dict[str, Any]
    hello: bool = False


class NodeUp(NamedTuple):
    """``node`` is heard from (first, again, or restarted: a new ``boot``)."""

    node: str
    boot: str


class NodeDown(NamedTuple):
    """``node`` has been silent for ``down_after`` seconds (or restarted as a new boot)."""

    node: str
    boot: str


class _Tick(NamedTuple):
    pass


class _Member:
    __slots__ = ("beat", "heard", "up")

    def __init__(self, beat: Heartbeat, heard: float) -> None:
        self.beat = beat
        self.heard = heard
        self.up = True


class _State:
    __slots__ = ("boot", "down_after", "info", "interval", "members", "node", "pubsub",
                 "said", "started_at")

    def __init__(self, pubsub: Any, node: str, interval: float, down_after: float,
                 info: Info | None) -> None:
        self.pubsub = pubsub
        self.node = node
        self.boot = os.urandom(6).hex()
        self.started_at = time.time()
        self.interval = interval
        self.down_after = down_after
        self.info = info
        self.members: dict[str, _Member] = {}
        self.said: dict[str, Any] = {}


class Nodes(GenServer):
    """``Nodes.child_spec(pubsub, node, interval, down_after, info=None, name=...)``: start it
    after the PubSub. ``info`` (sync or async) says what the heartbeats carry."""

    behaviour = "nodes"

    async def init(self, pubsub: Any, node: str, interval: float, down_after: float,
                   info: Info | None = None) -> Any:
        state = _State(pubsub, node, interval, down_after, info)
        PubSub.subscribe(pubsub, NODES_TOPIC)
        PubSub.subscribe(pubsub, LINK_TOPIC)
        await self._beat(state, hello=True)
        send_after(self.pid, _Tick(), interval)
        return Ok(state)

    async def handle_info(self, msg: Any, state: _State) -> Any:
        t = type(msg)
        if t is Heartbeat:
            await self._heard(msg, state)
        elif t is _Tick:
            await self._beat(state)
            self._check(state)
            send_after(self.pid, _Tick(), state.interval)
        elif t is LinkChanged and msg.up:
            await self._beat(state, hello=True)
        elif t is not LinkChanged:
            return super().handle_info(msg, state)
        return NoReply(state)

    def handle_call(self, request: Any, from_: From, state: _State) -> Any:
        if request == "list":
            return Reply(self._table(state), state)
        return super().handle_call(request, from_, state)

    # -- heartbeats ----------------------------------------------------------------------

    async def _beat(self, state: _State, hello: bool = False) -> None:
        if state.info is not None:
            try:
                said = state.info()
                state.said = dict(await said if inspect.isawaitable(said) else said)
            except OtpError:
                pass  # a process the info needs is starting or restarting: last figures
        PubSub.broadcast_from(state.pubsub, self.pid, NODES_TOPIC,
                              Heartbeat(state.node, state.boot, state.started_at, time.time(),
                                        state.said, hello))

    async def _heard(self, beat: Heartbeat, state: _State) -> None:
        if beat.node == state.node:
            if beat.boot != state.boot:
                log.error("cluster: another node calls itself %s (boot %s): node names must "
                          "differ", beat.node, beat.boot)
            return
        now = time.monotonic()
        member = state.members.get(beat.node)
        if member is not None and member.beat.boot != beat.boot and member.up:
            log.info("cluster: node %s restarted", beat.node)
            self._tell(state, NodeDown(beat.node, member.beat.boot))
            member = None
        if member is None or not member.up:
            if member is None:
                member = state.members[beat.node] = _Member(beat, now)
            member.up = True
            log.info("cluster: node %s is up", beat.node)
            self._tell(state, NodeUp(beat.node, beat.boot))
        member.beat, member.heard = beat, now
        if beat.hello:
            await self._beat(state)

    def _check(self, state: _State) -> None:
        now = time.monotonic()
        for name, member in state.members.items():
            if member.up and now - member.heard > state.down_after:
                member.up = False
                log.warning("cluster: node %s is down (no heartbeat for %.1fs)", name,
                            now - member.heard)
                self._tell(state, NodeDown(name, member.beat.boot))

    def _tell(self, state: _State, event: NodeUp | NodeDown) -> None:
        PubSub.local_broadcast(state.pubsub, EVENTS_TOPIC, event)

    def _table(self, state: _State) -> list[dict[str, Any]]:
        now, wall = time.monotonic(), time.time()
        rows = [{**state.said, "name": state.node, "self": True, "up": True,
                 "boot": state.boot, "uptime_s": round(wall - state.started_at, 3),
                 "last_heartbeat_s": 0.0}]
        for name, member in sorted(state.members.items()):
            beat = member.beat
            rows.append({**beat.info, "name": name, "self": False, "up": member.up,
                         "boot": beat.boot,
                         "uptime_s": round(beat.sent_at - beat.started_at
                                           + (now - member.heard), 3),
                         "last_heartbeat_s": round(now - member.heard, 3)})
        return rows

    @staticmethod
    async def list(nodes: Any) -> list[dict[str, Any]]:
        """The cluster as this node knows it, this node first; each row has ``name``,
        ``up``, ``uptime_s``, ``last_heartbeat_s`` (seconds ago), ``boot``, ``self`` and
        what that node's ``info`` said (``address``, ``connections`` ...)."""
        rows: list[dict[str, Any]] = await call(nodes, "list")
        return rows

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        state = self._state
        if isinstance(state, _State):
            info["members"] = {n: ("up" if m.up else "down") for n, m in state.members.items()}
        return info
