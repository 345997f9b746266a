"""Presence: who is on each topic, kept by tracker processes and synced to phoenix.js.

Trackers are shards (GenServers under one supervisor); a topic always lives on the same shard.
``track(pid, topic, key, meta)`` records a presence for as long as ``pid`` lives: the shard
monitors it, so a process that exits for any reason (tab closed, connection killed, channel
crashed) is removed and its leave published, leaving no ghost. One key may hold several
metas (one user, two tabs); each meta carries its own ``phx_ref``, and an update is a leave of
the old meta plus a join of the new one whose ``phx_ref_prev`` names the old.

Changes go out on the topic as ``presence_diff`` broadcasts (``protocol.md`` §2.1). Diffs of
one topic are coalesced over ``broadcast_window`` seconds, so a burst of a thousand joins is a
handful of broadcasts. A channel pushes ``presence_state`` (``presence_state(topic)``) after
every join and rejoin; the phoenix.js helper buffers diffs until it has one.

A ``fetch`` hook enriches presences in one go (usernames for user ids) before they leave the
tracker, for states and diffs alike.

In a cluster (``presence_spec(..., replication=Replication(node, interval, down_after))``)
each shard is a replica, named by its shard name and this node's boot id, of one state that
spans the nodes (``protocol.md`` §2.3, as Phoenix.Tracker keeps it): every presence is owned
by the replica that tracked it, which alone adds and removes it, each change ticking that
replica's clock. A shard sends the changes of its own presences to the same shard on the other
nodes, through the PubSub, as deltas ``(from clock, to clock, changes)``, gathered over the
``broadcast_window``; every ``interval`` it sends a heartbeat with its clock. A receiver
applies a delta that starts at the clock it holds for that replica; a delta that leaves a gap,
a heartbeat ahead of what it holds, or a replica it has never heard of makes it ask that replica
for its whole state (a transfer), which replaces what it held (joins and leaves for the
difference only: no duplicates, no ghosts). So ``list`` shows every node's presences, each
meta naming its node (``phx_node``), and each node publishes its own ``presence_diff`` to its
own clients (``local_broadcast``), for local and remote changes alike.

A joining node asks every replica for its state at once. A replica silent for ``down_after``
seconds is down: its presences are removed on this node, with their leaves. One heard again
(after a split, or Redis back after an outage) is asked for its state and its presences come
back as joins; a node that restarted is a new replica (a new boot id), and the one it replaces
is removed as soon as the new one is heard.

A shard that crashes is restarted with its table (an :class:`~otp.heir.Heir` in its child
spec): it monitors every tracked process again (one that died meanwhile gets its leave at
once) and publishes the diffs the old shard had not sent yet, so nobody still joined drops
off the list.
"""

from __future__ import annotations

import base64
import inspect
import logging
import os
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import otp
from otp import Down, From, GenServer, Heir, NoReply, Ok, Pid, PubSub, Reply, Supervisor

from .channel import Socket, push
from .serializer import Broadcast

__all__ = ["Presence", "PresenceEntry", "Replication", "presence_spec"]

Presences = dict[str, dict[str, Any]]
Fetch = Callable[[str, Presences], Awaitable[Presences] | Presences]

log = logging.getLogger("channels.presence")

BOOT = base64.urlsafe_b64encode(os.urandom(6)).decode()
"""This node's boot id: a restarted node is a new replica."""


class PresenceEntry(NamedTuple):
    """One tracked presence: its process (``None`` for another node's), key, meta (with
    ``phx_ref``) and replica tag."""

    pid: Pid | None
    key: str
    meta: dict[str, Any]
    replica: str
    clock: int


def _new_ref() -> str:
    return base64.urlsafe_b64encode(os.urandom(9)).decode()


class Replication(NamedTuple):
    """A shard's part in a cluster: this ``node``'s name, seconds between heartbeats, and
    seconds of silence after which another node's replica is down."""

    node: str
    interval: float
    down_after: float


# What the replicas of one shard tell each other (pickled by the PubSub's adapter). Changes
# are ("+", topic, key, meta) and ("-", topic, phx_ref).
class _Delta(NamedTuple):
    replica: str
    node: str
    from_clock: int
    to_clock: int
    changes: list[tuple[Any, ...]]


class _Beat(NamedTuple):
    replica: str
    node: str
    clock: int


class _TransferReq(NamedTuple):
    to: str  # a replica, or "*": every replica
    sender: str


class _Transfer(NamedTuple):
    replica: str
    node: str
    clock: int
    entries: list[tuple[str, str, dict[str, Any]]]  # (topic, key, meta)


class _Replica:
    """What this shard holds of another node's replica."""

    __slots__ = ("asked", "clock", "heard", "node", "refs")

    def __init__(self, node: str, clock: int) -> None:
        self.node = node
        self.clock = clock
        self.refs: dict[str, str] = {}  # phx_ref -> topic
        self.heard = time.monotonic()
        self.asked = 0.0


class _Shard:
    __slots__ = ("by_pid", "channel", "clock", "fetch", "monitors", "outbox", "pending",
                 "pubsub", "remote", "replica", "replication", "sent_clock", "topics",
                 "window")

    def __init__(self, replica: str, pubsub: Any, window: float, fetch: Fetch | None,
                 replication: Replication | None = None, channel: str = "") -> None:
        self.replica = replica
        self.replication = replication
        self.channel = channel  # the topic this shard's replicas talk on
        self.remote: dict[str, _Replica] = {}
        self.outbox: list[tuple[Any, ...]] = []
        self.sent_clock = 0
        self.clock = 0
        self.pubsub = pubsub
        self.window = window
        self.fetch = fetch
        # topic -> phx_ref -> entry (insertion order is join order)
        self.topics: dict[str, dict[str, PresenceEntry]] = {}
        # pid -> set of (topic, phx_ref)
        self.by_pid: dict[Pid, set[tuple[str, str]]] = {}
        self.monitors: dict[Pid, otp.Ref] = {}
        # topic -> (joins, leaves) waiting for the window to close
        self.pending: dict[str, tuple[list[PresenceEntry], list[PresenceEntry]]] = {}


class _Flush(NamedTuple):
    topic: str


class _SendDelta(NamedTuple):
    pass


class _Tick(NamedTuple):
    pass


class PresenceShard(GenServer):
    """One tracker shard; see the module docstring."""

    def init(
        self, name: str, pubsub: Any, window: float, fetch: Fetch | None,
        heir: Heir[_Shard] | None = None, replication: Replication | None = None,
    ) -> Any:
        def fresh() -> _Shard:
            return _Shard(f"{name}@{BOOT}", pubsub, window, fetch, replication,
                          f"phx_tracker:{name}")

        state, inherited = heir.claim(fresh) if heir is not None else (fresh(), False)
        if inherited:
            # The old shard's monitors, subscriptions and timers died with it.
            state.monitors = {pid: otp.monitor(pid) for pid in state.by_pid}
            for topic in state.pending:
                otp.send(self.pid, _Flush(topic))
            if state.outbox:
                otp.send(self.pid, _SendDelta())
        if state.replication is not None:
            PubSub.subscribe(pubsub, state.channel)
            PubSub.subscribe(pubsub, otp.LINK_TOPIC)
            self._hello(state)
            otp.send_after(self.pid, _Tick(), state.replication.interval)
        return Ok(state)

    def handle_call(self, request: Any, from_: From, state: _Shard) -> Any:
        op = request[0]
        if op == "track":
            _, pid, topic, key, meta = request
            return Reply(self._track(state, pid, topic, key, meta, None), state)
        if op == "untrack":
            _, pid, topic, key = request
            for entry in _entries_of(state, pid, topic, key):
                self._remove(state, topic, entry)
            return Reply(None, state)
        if op == "update":
            _, pid, topic, key, meta = request
            old = _entries_of(state, pid, topic, key)
            if not old:
                return Reply(None, state)
            for entry in old:
                self._remove(state, topic, entry)
            return Reply(self._track(state, pid, topic, key, meta, old[-1].meta["phx_ref"]),
                         state)
        return super().handle_call(request, from_, state)

    async def handle_info(self, msg: Any, state: _Shard) -> Any:
        t = type(msg)
        if t is _Delta:
            self._delta(state, msg)
            return NoReply(state)
        if t is _Beat:
            self._beat(state, msg)
            return NoReply(state)
        if t is _TransferReq:
            if msg.to in ("*", state.replica):
                self._send_transfer(state)
            return NoReply(state)
        if t is _Transfer:
            self._transfer(state, msg)
            return NoReply(state)
        if t is _SendDelta:
            self._send_delta(state)
            return NoReply(state)
        if t is _Tick:
            assert state.replication is not None
            self._send_beat(state)
            self._check_down(state)
            otp.send_after(self.pid, _Tick(), state.replication.interval)
            return NoReply(state)
        if t is otp.LinkChanged:
            if msg.up:
                self._hello(state)
            return NoReply(state)
        if t is Down:
            refs = state.by_pid.pop(msg.pid, set())
            state.monitors.pop(msg.pid, None)
            for topic, ref in refs:
                entry = state.topics.get(topic, {}).get(ref)
                if entry is not None:
                    self._remove(state, topic, entry, forget_pid=False)
            return NoReply(state)
        if type(msg) is _Flush:
            await self._flush(state, msg.topic)
            return NoReply(state)
        return super().handle_info(msg, state)

    # -- state changes -------------------------------------------------------------------

    def _track(
        self, state: _Shard, pid: Pid, topic: str, key: str, meta: dict[str, Any],
        prev_ref: str | None,
    ) -> str:
        if not otp.is_alive(pid):
            return ""
        ref = _new_ref()
        full = dict(meta, phx_ref=ref)
        if prev_ref is not None:
            full["phx_ref_prev"] = prev_ref
        if state.replication is not None:
            full["phx_node"] = state.replication.node
        state.clock += 1
        entry = PresenceEntry(pid, str(key), full, state.replica, state.clock)
        state.topics.setdefault(topic, {})[ref] = entry
        state.by_pid.setdefault(pid, set()).add((topic, ref))
        if pid not in state.monitors:
            state.monitors[pid] = otp.monitor(pid)
        self._changed(state, topic, entry, joined=True)
        self._replicate(state, ("+", topic, entry.key, full))
        return ref

    def _remove(self, state: _Shard, topic: str, entry: PresenceEntry,
                forget_pid: bool = True) -> None:
        ref = entry.meta["phx_ref"]
        entries = state.topics.get(topic)
        if entries is None or entries.pop(ref, None) is None:
            return
        if not entries:
            del state.topics[topic]
        state.clock += 1
        pid = entry.pid
        if forget_pid and pid is not None:
            refs = state.by_pid.get(pid)
            if refs is not None:
                refs.discard((topic, ref))
                if not refs:
                    del state.by_pid[pid]
                    monitor = state.monitors.pop(pid, None)
                    if monitor is not None:
                        otp.demonitor(monitor, flush=True)
        self._changed(state, topic, entry, joined=False)
        self._replicate(state, ("-", topic, ref))

    def _changed(self, state: _Shard, topic: str, entry: PresenceEntry, joined: bool) -> None:
        pending = state.pending.get(topic)
        if pending is None:
            pending = state.pending[topic] = ([], [])
            if state.window > 0:
                otp.send_after(self.pid, _Flush(topic), state.window)
            else:
                otp.send(self.pid, _Flush(topic))
        pending[0 if joined else 1].append(entry)

    async def _flush(self, state: _Shard, topic: str) -> None:
        joins, leaves = state.pending.pop(topic, ([], []))
        if not joins and not leaves:
            return
        diff = {"joins": await _shape(state, topic, joins),
                "leaves": await _shape(state, topic, leaves)}
        # Every node publishes its own diffs, to its own subscribers (remote changes too).
        PubSub.local_broadcast(state.pubsub, topic, Broadcast(topic, "presence_diff", diff))

    # -- replication (a cluster) ---------------------------------------------------------

    def _replicate(self, state: _Shard, change: tuple[Any, ...]) -> None:
        if state.replication is None:
            return
        if not state.outbox:
            if state.window > 0:
                otp.send_after(self.pid, _SendDelta(), state.window)
            else:
                otp.send(self.pid, _SendDelta())
        state.outbox.append(change)

    def _send_delta(self, state: _Shard) -> None:
        if not state.outbox:
            return
        changes, state.outbox = state.outbox, []
        delta = _Delta(state.replica, _node(state), state.sent_clock, state.clock, changes)
        state.sent_clock = state.clock
        PubSub.broadcast_from(state.pubsub, self.pid, state.channel, delta)

    def _send_beat(self, state: _Shard) -> None:
        self._send_delta(state)  # so the clock it carries is the last one sent
        PubSub.broadcast_from(state.pubsub, self.pid, state.channel,
                              _Beat(state.replica, _node(state), state.clock))

    def _hello(self, state: _Shard) -> None:
        """Say who we are, and ask every other replica for its state."""
        self._send_beat(state)
        PubSub.broadcast_from(state.pubsub, self.pid, state.channel,
                              _TransferReq("*", state.replica))

    def _send_transfer(self, state: _Shard) -> None:
        self._send_delta(state)
        own = [(topic, e.key, e.meta) for topic, entries in state.topics.items()
               for e in entries.values() if e.replica == state.replica]
        PubSub.broadcast_from(state.pubsub, self.pid, state.channel,
                              _Transfer(state.replica, _node(state), state.clock, own))

    def _known(self, state: _Shard, replica: str, node: str) -> _Replica | None:
        """The replica, if held; a replica of ``node`` under another boot id (the node
        restarted) is removed first."""
        for other in [r for r, held in state.remote.items()
                      if held.node == node and r != replica]:
            log.info("presence: %s restarted; dropping its previous replica", node)
            self._drop(state, other)
        return state.remote.get(replica)

    def _ask(self, state: _Shard, replica: str, node: str) -> None:
        held = state.remote.get(replica)
        if held is None:  # known by name only (clock -1) until its transfer comes
            held = state.remote[replica] = _Replica(node, -1)
        now = time.monotonic()
        if now - held.asked < _node_interval(state):
            return  # asked already; the transfer is on its way
        held.asked = now
        PubSub.broadcast_from(state.pubsub, self.pid, state.channel,
                              _TransferReq(replica, state.replica))

    def _delta(self, state: _Shard, delta: _Delta) -> None:
        held = self._known(state, delta.replica, delta.node)
        if held is None or delta.from_clock != held.clock:
            if held is None or delta.to_clock > held.clock:
                self._ask(state, delta.replica, delta.node)  # a gap: the whole state
            return
        held.heard = time.monotonic()
        for change in delta.changes:
            if change[0] == "+":
                _, topic, key, meta = change
                self._add_remote(state, delta.replica, held, topic, key, meta)
            else:
                _, topic, ref = change
                self._remove_remote(state, held, topic, ref)
        held.clock = delta.to_clock

    def _beat(self, state: _Shard, beat: _Beat) -> None:
        held = self._known(state, beat.replica, beat.node)
        if held is None:
            if beat.clock == 0:
                state.remote[beat.replica] = _Replica(beat.node, 0)
            else:
                self._ask(state, beat.replica, beat.node)
            return
        held.heard = time.monotonic()
        if held.clock != beat.clock:
            self._ask(state, beat.replica, beat.node)  # deltas lost (Redis away a while)

    def _transfer(self, state: _Shard, transfer: _Transfer) -> None:
        if transfer.replica == state.replica:
            return
        held = self._known(state, transfer.replica, transfer.node)
        if held is not None and held.clock > transfer.clock:
            return  # older than what deltas brought since
        if held is None:
            held = state.remote[transfer.replica] = _Replica(transfer.node, transfer.clock)
        wanted = {meta["phx_ref"]: (topic, key, meta) for topic, key, meta in transfer.entries}
        for ref, topic in list(held.refs.items()):
            if ref not in wanted:
                self._remove_remote(state, held, topic, ref)
        for ref, (topic, key, meta) in wanted.items():
            if ref not in held.refs:
                self._add_remote(state, transfer.replica, held, topic, key, meta)
        held.clock = transfer.clock
        held.heard = time.monotonic()
        held.asked = 0.0

    def _add_remote(self, state: _Shard, replica: str, held: _Replica, topic: str, key: str,
                    meta: dict[str, Any]) -> None:
        ref = meta["phx_ref"]
        if ref in held.refs:
            return
        entry = PresenceEntry(None, key, meta, replica, held.clock)
        state.topics.setdefault(topic, {})[ref] = entry
        held.refs[ref] = topic
        self._changed(state, topic, entry, joined=True)

    def _remove_remote(self, state: _Shard, held: _Replica, topic: str, ref: str) -> None:
        if held.refs.pop(ref, None) is None:
            return
        entries = state.topics.get(topic)
        entry = entries.pop(ref, None) if entries is not None else None
        if entries is not None and not entries:
            del state.topics[topic]
        if entry is not None:
            self._changed(state, topic, entry, joined=False)

    def _drop(self, state: _Shard, replica: str) -> None:
        """Remove everything of ``replica`` (down, or replaced), with its leaves."""
        held = state.remote.pop(replica, None)
        if held is None:
            return
        for ref, topic in list(held.refs.items()):
            self._remove_remote(state, held, topic, ref)

    def _check_down(self, state: _Shard) -> None:
        assert state.replication is not None
        now = time.monotonic()
        for replica, held in list(state.remote.items()):
            if now - held.heard > state.replication.down_after:
                log.warning("presence: %s is down (silent for %.1fs): its %d presences "
                            "leave", held.node, now - held.heard, len(held.refs))
                self._drop(state, replica)

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info["behaviour"] = "presence_shard"
        state = self._state
        if isinstance(state, _Shard):
            info["topics"] = len(state.topics)
            info["presences"] = sum(len(e) for e in state.topics.values())
            info["replica"] = state.replica
            info["clock"] = state.clock
            if state.replication is not None:
                info["replicas"] = {r: {"node": h.node, "clock": h.clock,
                                        "presences": len(h.refs)}
                                    for r, h in state.remote.items()}
        return info


def _node_interval(state: _Shard) -> float:
    return state.replication.interval if state.replication is not None else 1.0


def _node(state: _Shard) -> str:
    assert state.replication is not None
    return state.replication.node


def _entries_of(state: _Shard, pid: Pid, topic: str, key: Any) -> list[PresenceEntry]:
    entries = state.topics.get(topic, {})
    found = (entries.get(ref) for t, ref in state.by_pid.get(pid, ()) if t == topic)
    return sorted((e for e in found if e is not None and e.key == str(key)),
                  key=lambda e: e.clock)


def _group(entries: list[PresenceEntry]) -> Presences:
    out: Presences = {}
    for entry in entries:
        out.setdefault(entry.key, {"metas": []})["metas"].append(entry.meta)
    return out


async def _shape(state: _Shard, topic: str, entries: list[PresenceEntry]) -> Presences:
    grouped = _group(entries)
    if state.fetch is not None and grouped:
        result = state.fetch(topic, grouped)
        grouped = await result if inspect.isawaitable(result) else result
    return grouped


class Presence:
    """The client API; ``tracker`` is the name given to :func:`presence_spec`."""

    @staticmethod
    def _shard(tracker: str, topic: str) -> str:
        shards = _shard_counts.get(tracker)
        if shards is None:
            raise otp.NoProcess(tracker)
        return f"{tracker}.{zlib.crc32(topic.encode()) % shards}"

    @staticmethod
    async def track(tracker: str, pid: Pid, topic: str, key: Any, meta: dict[str, Any]) -> str:
        """Track ``pid`` on ``topic`` under ``key`` with ``meta``; returns its ``phx_ref``."""
        ref: str = await otp.call(Presence._shard(tracker, topic), ("track", pid, topic, key,
                                                                     meta))
        return ref

    @staticmethod
    async def untrack(tracker: str, pid: Pid, topic: str, key: Any) -> None:
        """Stop tracking ``pid`` under ``key`` on ``topic`` (a leave is published)."""
        await otp.call(Presence._shard(tracker, topic), ("untrack", pid, topic, key))

    @staticmethod
    async def update(
        tracker: str, pid: Pid, topic: str, key: Any, meta: dict[str, Any]
    ) -> str | None:
        """Replace the meta of ``pid`` under ``key``; the new meta carries ``phx_ref_prev``.
        ``None`` if it was not tracked."""
        ref: str | None = await otp.call(Presence._shard(tracker, topic),
                                         ("update", pid, topic, key, meta))
        return ref

    @staticmethod
    async def list(tracker: str, topic: str) -> Presences:
        """``{key: {"metas": [...]}}`` for ``topic``, through the ``fetch`` hook."""
        proc = otp.gen_server.table_of(Presence._shard(tracker, topic), PresenceShard)
        state: _Shard = proc
        entries = list(state.topics.get(topic, {}).values())
        return await _shape(state, topic, entries)

    @staticmethod
    async def track_socket(
        tracker: str, socket: Socket, key: Any, meta: dict[str, Any]
    ) -> str:
        """Track the socket's channel process on its topic (it leaves when the channel
        ends) and push it ``presence_state``. Call it after the join reply, e.g. from a
        message the channel sends itself in ``join``::

            async def join(self, topic, payload, socket):
                otp.send(otp.self(), "after_join")
                return Ok(socket)

            async def handle_message(self, msg, socket):
                if msg == "after_join":
                    await Presence.track_socket(TRACKER, socket, user_id, {"status": "online"})
                return NoReply(socket)
        """
        assert socket.channel is not None
        ref = await Presence.track(tracker, socket.channel, socket.topic, key, meta)
        push(socket, "presence_state", await Presence.list(tracker, socket.topic))
        return ref

    @staticmethod
    async def get_by_key(tracker: str, topic: str, key: Any) -> dict[str, Any] | None:
        """The presence of ``key`` on ``topic`` (``{"metas": [...]}``), or ``None``."""
        return (await Presence.list(tracker, topic)).get(str(key))


_shard_counts: dict[str, int] = {}


def presence_spec(
    name: str,
    pubsub: Any,
    shards: int = 4,
    broadcast_window: float = 0.05,
    fetch: Fetch | None = None,
    replication: Replication | None = None,
) -> otp.ChildSpec:
    """A supervisor of ``shards`` tracker shards named ``name.0`` …, publishing diffs on
    ``pubsub`` every ``broadcast_window`` seconds at most (0: at once); with
    ``replication``, each shard is a replica of the same shard on the other nodes."""
    if shards < 1:
        raise ValueError("presence needs at least one shard")
    _shard_counts[name] = shards
    children = [
        PresenceShard.child_spec(f"{name}.{i}", pubsub, broadcast_window, fetch,
                                 id=f"{name}.{i}", name=f"{name}.{i}",
                                 init_kwargs={"heir": Heir(), "replication": replication})
        for i in range(shards)
    ]
    return Supervisor.child_spec(children, id=name, name=name)


def presence_time() -> int:
    """Seconds since the epoch, for ``online_at`` metas."""
    return int(time.time())
