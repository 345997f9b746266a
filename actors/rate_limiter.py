"""RateLimiter: counts events per (bucket, key) in fixed windows, kept across restarts.

The table belongs to the RateLimiter process and is read and written directly by callers
(no message round trip on a request's path), as an ETS table would be. Counting is a few
dictionary operations with no ``await`` between reading a count and writing it, so requests
arriving at once cannot both take the last slot of a window: it is atomic on the event loop.

Given a ``repo`` (the node's does), the limiter also keeps its windows in the ``rate_limits``
table: it loads the windows still running when it starts, writes the windows that changed
every :data:`FLUSH_EVERY` seconds and once more when it stops. A restarted node, or a
limiter restarted by its supervisor, goes on counting where it was; a node that is killed
outright loses at most the last :data:`FLUSH_EVERY` seconds of counts. Window ends are wall
clock times for that reason. The process also sweeps expired windows once a minute so idle
keys do not accumulate.

Nodes that share one database (PostgreSQL) share the counts: each flush adds the events this
node counted since its last one to the stored window (or starts it, if the stored one has
ended) and reads back the sum, which that node then counts on from. A window is the one
whichever node stored first. So no node's events are lost to another's, and a node counting
a key sees the others' events for it within :data:`FLUSH_EVERY` seconds; within that second,
the slots are exact per node, not across nodes.

In a cluster (``shared=(redis_url, prefix)``) the ``shared_*`` calls count in Redis instead
(:mod:`actors.shared_counts`), atomically across the nodes: a quota of 25 is 25 for the whole
cluster, however the requests are spread. They await one round trip to Redis; while Redis
cannot be reached they count here, as ``hit``, ``acquire``, ``give_back`` and ``reset`` do
(logged once when it starts and once when it ends). Without a cluster they are those calls.

``hit`` counts an event and says whether it was within the limit; ``check`` only looks.
``acquire`` takes a slot in several counters at once, or in none: a login takes its slot per
account and per address *before* the password is checked, so however many attempts arrive
together, no more than the limit are ever checked; ``give_back`` returns a slot that should
not have counted (a right password), ``reset`` forgets a count. Buckets and keys are strings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import otp
from otp import GenServer, NoReply, Ok
from otp.gen_server import table_of
from store import Connection, DatabaseError, Repo, Row

from .shared_counts import CountsUnavailable, SharedCounts, decision_args

__all__ = ["FLUSH_EVERY", "NAME", "USER_QUOTA", "Decision", "RateLimiter"]

USER_QUOTA = "api.user"
"""The bucket of a user's quota (``api.rate_limit``): API requests with their tokens, and
messages posted from their sockets, count against it alike."""

NAME = "hearth.rate_limiter"
SWEEP_EVERY = 60.0
FLUSH_EVERY = 1.0
"""Seconds between two writes of the changed windows to the database."""

log = logging.getLogger(__name__)


class Decision(NamedTuple):
    """``allowed``: within the limit; ``remaining`` events left in this window;
    ``reset_after`` seconds until the window ends (a ``Retry-After`` for refusals);
    ``reset_at`` the same moment as a Unix time."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    reset_at: float


class _Window:
    """``count``: the events of the window as this node knows them; ``pending``: those of
    them not yet added to the stored window."""

    __slots__ = ("count", "ends", "pending")

    def __init__(self, ends: float, count: int = 0) -> None:
        self.count = count
        self.ends = ends
        self.pending = 0


class _Table(dict[tuple[str, str], _Window]):
    """The windows, and the keys whose window changed or was forgotten since the last
    flush; the cluster's counts, if any, and whether they answer."""

    __slots__ = ("alone", "changed", "repo", "shared")

    def __init__(self, repo: Any, shared: SharedCounts | None = None) -> None:
        super().__init__()
        self.repo = repo
        self.changed: set[tuple[str, str]] = set()
        self.shared = shared
        self.alone = False


def _table(limiter: Any) -> _Table:
    table: _Table = table_of(limiter, RateLimiter)
    return table


class RateLimiter(GenServer):
    """Start under a supervisor with ``RateLimiter.child_spec(name=NAME)``, or
    ``RateLimiter.child_spec(init_kwargs={"repo": REPO}, name=NAME)`` to keep the counts in
    the database (the Repo must start first)."""

    async def init(self, repo: Any = None, shared: tuple[str, str] | None = None) -> Any:
        table = _Table(repo, SharedCounts(*shared) if shared is not None else None)
        if shared is not None:
            otp.trap_exit(True)  # terminate closes the connection
        if repo is not None:
            # Trapped, a shutdown runs terminate, which writes the last counts.
            otp.trap_exit(True)
            rows = await Repo.fetch_all(
                "SELECT bucket, key, count, ends_at FROM rate_limits WHERE ends_at > ?",
                (time.time(),), repo=repo,
            )
            for row in rows:
                table[(row["bucket"], row["key"])] = _Window(row["ends_at"], row["count"])
            otp.send_after(self.pid, "flush", FLUSH_EVERY)
        otp.send_after(self.pid, "sweep", SWEEP_EVERY)
        return Ok(table)

    async def handle_info(self, msg: Any, state: _Table) -> Any:
        if msg == "sweep":
            now = time.time()
            for key in [k for k, w in state.items() if w.ends <= now]:
                del state[key]
                state.changed.discard(key)
            otp.send_after(self.pid, "sweep", SWEEP_EVERY)
            return NoReply(state)
        if msg == "flush":
            await _flush(state)
            otp.send_after(self.pid, "flush", FLUSH_EVERY)
            return NoReply(state)
        return super().handle_info(msg, state)

    async def terminate(self, reason: Any, state: _Table | None) -> None:
        if state is not None:
            await _flush(state)
            if state.shared is not None:
                await state.shared.close()

    @staticmethod
    def hit(
        bucket: str, key: str, limit: int, window: float, cost: int = 1, limiter: Any = NAME
    ) -> Decision:
        """Count ``cost`` events for ``key``; ``allowed`` is False once over ``limit``
        within ``window`` seconds (refused events still count)."""
        table = _table(limiter)
        now = time.time()
        slot = table.get((bucket, key))
        if slot is None or slot.ends <= now:
            slot = table[(bucket, key)] = _Window(now + window)
        slot.count += cost
        slot.pending += cost
        table.changed.add((bucket, key))
        return Decision(slot.count <= limit, limit, max(0, limit - slot.count), slot.ends - now,
                        slot.ends)

    @staticmethod
    def acquire(
        counters: Sequence[tuple[str, str, int]], window: float, limiter: Any = NAME
    ) -> list[Decision]:
        """Count one event in every ``(bucket, key, limit)`` if each is within its limit, or
        in none; the decisions say which were full (``allowed`` False). Checking and counting
        happen with no ``await`` between: requests arriving together take distinct slots."""
        table = _table(limiter)
        now = time.time()
        slots = []
        for bucket, key, _ in counters:
            slot = table.get((bucket, key))
            if slot is None or slot.ends <= now:
                slot = _Window(now + window)
            slots.append(slot)
        full = any(slot.count >= limit
                   for slot, (_, _, limit) in zip(slots, counters, strict=True))
        decisions = []
        for slot, (bucket, key, limit) in zip(slots, counters, strict=True):
            if not full:
                slot.count += 1
                slot.pending += 1
                table[(bucket, key)] = slot
                table.changed.add((bucket, key))
            decisions.append(Decision(not full or slot.count < limit, limit,
                                      max(0, limit - slot.count), slot.ends - now, slot.ends))
        return decisions

    @staticmethod
    def give_back(bucket: str, key: str, limiter: Any = NAME) -> None:
        """Uncount one event of ``key`` in its current window (an :meth:`acquire` that turned
        out not to count)."""
        table = _table(limiter)
        slot = table.get((bucket, key))
        if slot is not None and slot.count > 0:
            slot.count -= 1
            slot.pending -= 1
            table.changed.add((bucket, key))

    @staticmethod
    def check(bucket: str, key: str, limit: int, window: float, limiter: Any = NAME) -> Decision:
        """Whether one more event would be allowed, without counting it."""
        table = _table(limiter)
        now = time.time()
        slot = table.get((bucket, key))
        if slot is None or slot.ends <= now:
            return Decision(True, limit, limit, window, now + window)
        return Decision(slot.count < limit, limit, max(0, limit - slot.count), slot.ends - now,
                        slot.ends)

    @staticmethod
    def reset(bucket: str, key: str, limiter: Any = NAME) -> None:
        """Forget the count of ``key``."""
        table = _table(limiter)
        if table.pop((bucket, key), None) is not None:
            table.changed.add((bucket, key))


    # -- across the cluster ----------------------------------------------------------------

    @staticmethod
    async def shared_hit(
        bucket: str, key: str, limit: int, window: float, cost: int = 1, limiter: Any = NAME
    ) -> Decision:
        """:meth:`hit`, counted across the cluster (see the module docstring)."""
        counted = await _in_redis(_table(limiter), "hit", bucket, key, cost, window)
        if counted is _ALONE:
            return RateLimiter.hit(bucket, key, limit, window, cost, limiter)
        return Decision(counted.events <= limit, limit, *decision_args(counted, limit))

    @staticmethod
    async def shared_acquire(
        counters: Sequence[tuple[str, str, int]], window: float, limiter: Any = NAME
    ) -> list[Decision]:
        """:meth:`acquire`, across the cluster: one Redis script checks and counts every
        counter, so attempts on different nodes take distinct slots."""
        answer = await _in_redis(_table(limiter), "acquire", counters, window)
        if answer is _ALONE:
            return RateLimiter.acquire(counters, window, limiter)
        full, windows = answer
        return [Decision(not full or w.events < limit, limit, *decision_args(w, limit))
                for w, (_, _, limit) in zip(windows, counters, strict=True)]

    @staticmethod
    async def shared_give_back(bucket: str, key: str, limiter: Any = NAME) -> None:
        """:meth:`give_back`, across the cluster."""
        if await _in_redis(_table(limiter), "give_back", bucket, key) is _ALONE:
            RateLimiter.give_back(bucket, key, limiter)

    @staticmethod
    async def shared_reset(bucket: str, key: str, limiter: Any = NAME) -> None:
        """:meth:`reset`, across the cluster."""
        if await _in_redis(_table(limiter), "reset", bucket, key) is _ALONE:
            RateLimiter.reset(bucket, key, limiter)


_ALONE: Any = object()
"""What :func:`_in_redis` answers when the count must be made on this node alone."""


async def _in_redis(table: _Table, op: str, *args: Any) -> Any:
    """``table.shared.<op>(*args)``'s answer, or :data:`_ALONE` when there is no cluster or
    Redis does not answer (logged once each way)."""
    if table.shared is None:
        return _ALONE
    try:
        answer = await getattr(table.shared, op)(*args)
    except CountsUnavailable as e:
        _alone(table, e)
        return _ALONE
    _together(table)
    return answer


def _alone(table: _Table, error: CountsUnavailable) -> None:
    if not table.alone:
        table.alone = True
        log.warning("rate limiter: Redis unreachable (%s); counting on this node alone "
                    "until it answers", error)


def _together(table: _Table) -> None:
    if table.alone:
        table.alone = False
        log.info("rate limiter: Redis answers again; counting across the cluster")


# Adds this node's events to the stored window if it still runs, else stores this node's;
# answers the window as stored now. Counts never go below 0 (a slot given back after the
# stored window ended).
_MERGE = (
    " ON CONFLICT (bucket, key) DO UPDATE SET"
    " count = CASE WHEN rate_limits.ends_at > ? THEN"
    " (CASE WHEN rate_limits.count + excluded.count < 0 THEN 0"
    " ELSE rate_limits.count + excluded.count END)"
    " ELSE (CASE WHEN excluded.count < 0 THEN 0 ELSE excluded.count END) END,"
    " ends_at = CASE WHEN rate_limits.ends_at > ? THEN rate_limits.ends_at"
    " ELSE excluded.ends_at END"
    " RETURNING bucket, key, count, ends_at"
)
_BATCH = 200


def _merge_sql(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return f"INSERT INTO rate_limits (bucket, key, count, ends_at) VALUES {values}{_MERGE}"


async def _flush(table: _Table) -> None:
    """Add the events counted since the last flush to the stored windows (and delete the
    forgotten ones) in one transaction, then count on from what is stored."""
    if table.repo is None or not table.changed:
        return
    changed, table.changed = table.changed, set()
    # Sorted: two nodes flushing the same keys lock their rows in the same order.
    sent = {key: (w, w.pending) for key in sorted(changed) if (w := table.get(key))}
    for window, _ in sent.values():
        window.pending = 0
    deletes = [key for key in changed if key not in sent]
    now = time.time()

    async def write(conn: Connection) -> list[Row]:
        stored: list[Row] = []
        items = [(b, k, delta, w.ends) for (b, k), (w, delta) in sent.items()]
        for start in range(0, len(items), _BATCH):
            batch = items[start:start + _BATCH]
            params = [value for item in batch for value in item]
            stored += await conn.fetch_all(_merge_sql(len(batch)), (*params, now, now))
        await conn.execute_many("DELETE FROM rate_limits WHERE bucket = ? AND key = ?", deletes)
        await conn.execute("DELETE FROM rate_limits WHERE ends_at <= ?", (now,))
        return stored

    try:
        stored = await Repo.transaction(write, repo=table.repo)
    except (DatabaseError, otp.CallError) as e:
        # The Repo is restarting, the disk is full, or two nodes' flushes deadlocked: keep
        # the counts and try again later.
        for window, delta in sent.values():
            window.pending += delta
        table.changed |= changed
        log.warning("rate limiter: could not save %d windows: %s", len(changed), e)
        return
    for row in stored:
        key = (row["bucket"], row["key"])
        entry = sent.get(key)
        # The same window still (not reset, nor replaced, while the flush ran): the stored
        # sum, and what was counted here since.
        if entry is not None and table.get(key) is entry[0]:
            window = entry[0]
            window.count = int(row["count"]) + window.pending
            window.ends = float(row["ends_at"])
