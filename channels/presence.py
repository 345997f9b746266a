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

The state is shaped for replication between nodes (``protocol.md`` §2.3): every presence is
tagged with the replica that owns it (this node's shard name and boot id) and that replica's
clock, and each shard keeps the clock, so a cluster adapter can exchange deltas and heartbeats
without changing what callers see. Today there is one replica per shard.

A shard that crashes is restarted with its table (an :class:`~otp.heir.Heir` in its child
spec): it monitors every tracked process again (one that died meanwhile gets its leave at
once) and publishes the diffs the old shard had not sent yet, so nobody still joined drops
off the list.
"""

from __future__ import annotations

import base64
import inspect
import os
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import otp
from otp import Down, From, GenServer, Heir, NoReply, Ok, Pid, PubSub, Reply, Supervisor

from .channel import Socket, push
from .serializer import Broadcast

__all__ = ["Presence", "PresenceEntry", "presence_spec"]

Presences = dict[str, dict[str, Any]]
Fetch = Callable[[str, Presences], Awaitable[Presences] | Presences]

BOOT = base64.urlsafe_b64encode(os.urandom(6)).decode()
"""This node's boot id: a restarted node is a new replica."""


class PresenceEntry(NamedTuple):
    """One tracked presence: its process, key, meta (with ``phx_ref``) and replica tag."""

    pid: Pid
    key: str
    meta: dict[str, Any]
    replica: str
    clock: int


def _new_ref() -> str:
    return base64.urlsafe_b64encode(os.urandom(9)).decode()


class _Shard:
    __slots__ = ("by_pid", "clock", "fetch", "monitors", "pending", "pubsub", "replica",
                 "topics", "window")

    def __init__(self, replica: str, pubsub: Any, window: float, fetch: Fetch | None) -> None:
        self.replica = replica
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


class PresenceShard(GenServer):
    """One tracker shard; see the module docstring."""

    def init(
        self, name: str, pubsub: Any, window: float, fetch: Fetch | None,
        heir: Heir[_Shard] | None = None,
    ) -> Any:
        def fresh() -> _Shard:
            return _Shard(f"{name}@{BOOT}", pubsub, window, fetch)

        state, inherited = heir.claim(fresh) if heir is not None else (fresh(), False)
        if inherited:
            # The old shard's monitors and flush timers died with it.
            state.monitors = {pid: otp.monitor(pid) for pid in state.by_pid}
            for topic in state.pending:
                otp.send(self.pid, _Flush(topic))
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
        if type(msg) is Down:
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
        state.clock += 1
        entry = PresenceEntry(pid, str(key), full, state.replica, state.clock)
        state.topics.setdefault(topic, {})[ref] = entry
        state.by_pid.setdefault(pid, set()).add((topic, ref))
        if pid not in state.monitors:
            state.monitors[pid] = otp.monitor(pid)
        self._changed(state, topic, entry, joined=True)
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
        if forget_pid:
            refs = state.by_pid.get(entry.pid)
            if refs is not None:
                refs.discard((topic, ref))
                if not refs:
                    del state.by_pid[entry.pid]
                    monitor = state.monitors.pop(entry.pid, None)
                    if monitor is not None:
                        otp.demonitor(monitor, flush=True)
        self._changed(state, topic, entry, joined=False)

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
        PubSub.broadcast(state.pubsub, topic, Broadcast(topic, "presence_diff", diff))

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info["behaviour"] = "presence_shard"
        state = self._state
        if isinstance(state, _Shard):
            info["topics"] = len(state.topics)
            info["presences"] = sum(len(e) for e in state.topics.values())
            info["replica"] = state.replica
            info["clock"] = state.clock
        return info


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
) -> otp.ChildSpec:
    """A supervisor of ``shards`` tracker shards named ``name.0`` …, publishing diffs on
    ``pubsub`` every ``broadcast_window`` seconds at most (0: at once)."""
    if shards < 1:
        raise ValueError("presence needs at least one shard")
    _shard_counts[name] = shards
    children = [
        PresenceShard.child_spec(name, pubsub, broadcast_window, fetch, id=f"{name}.{i}",
                                 name=f"{name}.{i}", init_kwargs={"heir": Heir()})
        for i in range(shards)
    ]
    return Supervisor.child_spec(children, id=name, name=name)


def presence_time() -> int:
    """Seconds since the epoch, for ``online_at`` metas."""
    return int(time.time())
