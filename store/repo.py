"""The Repo: the process that owns the database, SQLite (embedded, the default) or PostgreSQL.

``[repo] url`` chooses the backend (``store.url``); contexts do not know which runs. Both
open their connections when the Repo starts, apply the pending migrations of
``store.migrations`` (a database that records a migration newer than this code knows stops
the start with :class:`~store.errors.SchemaTooNew`), and give every connection back when the
Repo exits, whichever way (a kill included: an exit hook closes them at once).

- **SQLite** (``store.sqlite``): writes are calls to the Repo process, which runs them one at
  a time on its one writer connection; reads borrow one of a few read-only connections.
- **PostgreSQL** (``store.postgres``): reads, writes and transactions borrow a connection of
  the Repo's pool and run in their callers, the server ordering concurrent writers. A lost
  connection makes the Repo unavailable until it has the server back (it retries with a
  growing delay); it does not crash, and the node keeps serving what needs no database.

Callers that come while the Repo is down, restarting or without its server wait up to
:data:`RESTART_WAIT` for it and are served; past that they get
:class:`~store.errors.RepoUnavailable`, and nothing was done. SQL is always parameterised:
pass values as ``params``, never in the text (see ``store.connection`` for the SQL both
backends run).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import otp
from otp import From, GenServer, NoProcess, Ok, ProcessExited, Reply

from . import postgres, sqlite
from .connection import Connection, Params, Result, Retry, Row
from .errors import RepoUnavailable
from .postgres import PostgresStore
from .sqlite import SqliteStore
from .url import PostgresTarget, SqliteTarget, Target, parse

__all__ = ["NAME", "RESTART_WAIT", "Repo"]

NAME = "hearth.repo"
"""The name the Repo is registered under in the tree."""

RESTART_WAIT = 2.0
"""Seconds a caller waits for a Repo that is down, starting or without its database server
(a supervisor restarts it in milliseconds) before :class:`RepoUnavailable`."""

T = TypeVar("T")
Store = SqliteStore | PostgresStore

log = logging.getLogger("store.repo")


class _Failed(NamedTuple):
    error: BaseException


class _Write:
    """A write sent to a SQLite Repo; ``begun`` tells its caller, if the Repo dies, whether
    the write may have happened."""

    __slots__ = ("begun", "kind", "payload")

    def __init__(self, kind: str, payload: Any) -> None:
        self.kind = kind
        self.payload = payload
        self.begun = False

    def __repr__(self) -> str:
        return f"_Write({self.kind!r}, {self.payload!r})"


# Callers waiting for the Repo registered under a name to serve (see RESTART_WAIT).
_waiting: dict[str, list[asyncio.Future[None]]] = {}
_READY = "ready"
_PROBE = "probe"


def _wake(name: Any) -> None:
    for waiter in _waiting.pop(name, []) if type(name) is str else []:
        if not waiter.done():
            waiter.set_result(None)


class Repo(GenServer):
    """Start under a supervisor with ``Repo.child_spec(target, name=NAME)``: ``target`` a
    :data:`store.url.Target`, a URL, or the path of a SQLite file (then the number of read
    connections may follow)."""

    async def init(self, target: Target | str | Path, read_connections: int = 2) -> Any:
        # Trap exits so a shutdown closes the connections in terminate; any other exit, a
        # kill included, closes them in the hook.
        otp.trap_exit(True)
        if not isinstance(target, (SqliteTarget, PostgresTarget)):
            target = parse(target, read_connections=read_connections)

        def on_exit(release: Callable[[], None]) -> None:
            self._on_exit(lambda _proc, _reason: release())

        store: Store
        if isinstance(target, SqliteTarget):
            store, applied = await sqlite.open_store(target, on_exit)
        else:
            pid = self.pid
            name = self._name if self._name is not None else pid
            store, applied = await postgres.open_store(
                target, name, on_exit, lambda message: otp.send(pid, (_PROBE, message)))
        if applied:
            log.info("repo: %s migrated to version %d", store.shown, applied[-1])
        self._retry_in = postgres.RETRY_FIRST
        self._probing = False
        return Ok(store, continue_=_READY)

    def handle_continue(self, arg: Any, state: Store) -> Any:
        if arg == _READY:
            _wake(self._name)  # callers that came while this Repo was down or starting
            return otp.NoReply(state)
        return super().handle_continue(arg, state)

    async def handle_call(self, request: Any, from_: From, state: Store) -> Any:
        if type(request) is not _Write or type(state) is not SqliteStore:
            return super().handle_call(request, from_, state)
        request.begun = True
        try:
            if request.kind == "execute":
                return Reply(await state.execute(*request.payload), state)
            return Reply(await state.transaction(request.payload), state)
        except Exception as e:
            # The caller's statement failed (a constraint, bad SQL) or its function raised:
            # that is the caller's error to handle, not a reason for the Repo to crash.
            return Reply(_Failed(e), state)

    async def handle_info(self, msg: Any, state: Store) -> Any:
        if type(msg) is tuple and len(msg) == 2 and msg[0] == _PROBE:
            if type(state) is PostgresStore:
                await self._probe(msg[1], state)
            return otp.NoReply(state)
        return super().handle_info(msg, state)

    async def _probe(self, why: Any, store: PostgresStore) -> None:
        """The server is lost, may be lost (a connection closed), or it is time to try it
        again."""
        kind = why[0] if type(why) is tuple else why
        if kind == "lost":
            if not self._probing:
                log.error("repo: lost the connection to %s (%s); callers get RepoUnavailable "
                          "until it is back", store.shown, store.last_error)
                self._probing = True
                self._retry_in = postgres.RETRY_FIRST
                otp.send_after(self.pid, (_PROBE, "retry"), self._retry_in)
            return
        if kind == "check" and (self._probing or not store.available):
            return
        failure = await store.probe()
        if failure is None and store.pool is None:
            failure = await self._open(store)
        if failure is None:
            if not store.available:
                down = time.monotonic() - (store.down_since or time.monotonic())
                log.warning("repo: %s is back after %.1f s", store.shown, down)
            store.available = True
            store.down_since = None
            self._probing = False
            _wake(self._name)
            return
        if kind == "check":
            store.lost(failure)  # a connection closed, and the server does not answer
            return
        store.last_error = postgres.describe_failure(failure)
        log.debug("repo: %s still unreachable: %s", store.shown, store.last_error)
        self._retry_in = min(self._retry_in * 2, postgres.RETRY_MOST)
        otp.send_after(self.pid, (_PROBE, "retry"), self._retry_in)

    async def _open(self, store: PostgresStore) -> BaseException | None:
        """Open the pool of a Repo that started while its server was unreachable; the error
        if the server went again. One it refuses for good (the login, a schema too new)
        stops the Repo."""
        try:
            applied = await store.open()
        except Exception as e:
            if not postgres.is_lost(e):
                raise
            return e
        if applied:
            log.info("repo: %s migrated to version %d", store.shown, applied[-1])
        return None

    async def terminate(self, reason: Any, state: Store | None) -> None:
        if state is not None:
            # What callers are running finishes first; then the connections close.
            await state.close()

    # -- client API: reads borrow a connection; writes too on PostgreSQL, calls on SQLite ----

    @staticmethod
    async def fetch_all(sql: str, params: Params = (), repo: Any = NAME) -> list[Row]:
        """Every row of a read query; raises :class:`~store.errors.DatabaseError` for bad SQL
        and :class:`RepoUnavailable` if no Repo came up to answer it."""
        deadline: list[float] = []
        while True:
            store = await _serving(repo, deadline)
            try:
                return await store.read(sql, params)
            except Retry:
                continue  # the Repo died, or lost its server, while this read ran: again

    @staticmethod
    async def fetch_one(sql: str, params: Params = (), repo: Any = NAME) -> Row | None:
        """The row of a query that finds at most one (by a unique key, an aggregate, a
        ``LIMIT 1``), or ``None``. Every row found is read: do not use it to take the first
        of many."""
        rows = await Repo.fetch_all(sql, params, repo=repo)
        return rows[0] if rows else None

    @staticmethod
    async def execute(sql: str, params: Params = (), repo: Any = NAME) -> Result:
        """Run one write statement in its own transaction; its ``RETURNING`` rows are in the
        result. Raises :class:`~store.errors.DatabaseError` (``IntegrityError`` for a broken
        constraint), :class:`RepoUnavailable` if no Repo came up to run it, and
        ``ProcessExited`` (``RepoLost`` among them) if it may or may not have been stored."""
        result: Result = await _write("execute", (sql, params), repo)
        return result

    @staticmethod
    async def transaction(fn: Callable[[Connection], Awaitable[T]], repo: Any = NAME) -> T:
        """Run ``fn(conn)`` inside a transaction (``BEGIN IMMEDIATE`` on SQLite); any
        exception rolls it back and reaches the caller. Keep ``fn`` short: on SQLite every
        other write waits. Raises as :meth:`execute` does when the Repo is down or dies."""
        result: T = await _write("transaction", fn, repo)
        return result

    @staticmethod
    def dialect(repo: Any = NAME) -> str:
        """``"sqlite"`` or ``"postgresql"``: the backend of the Repo at ``repo``."""
        store: Store = otp.gen_server.table_of(repo, Repo)
        return store.dialect

    @staticmethod
    def describe(repo: Any = NAME) -> dict[str, Any]:
        """What the Repo at ``repo`` is on and whether it serves: ``backend``, ``url`` (no
        password), ``available``, and while it is not, ``down_for`` seconds and ``error``.
        Raises :class:`~otp.NoProcess` when none runs, :class:`RepoUnavailable` while it
        starts."""
        store: Store | None = otp.gen_server.table_of(repo, Repo)
        if store is None:
            raise RepoUnavailable(repo, "is starting")
        info: dict[str, Any] = {"backend": store.dialect, "url": store.shown,
                                "available": store.available and not store.released}
        if type(store) is PostgresStore and store.down_since is not None:
            info["down_for"] = round(time.monotonic() - store.down_since, 3)
            info["error"] = store.last_error
        return info


async def _serving(repo: Any, deadline: list[float]) -> Store:
    """The store of the Repo at ``repo`` once it serves, waiting for one that is down,
    starting or without its server until ``deadline`` (set on the first wait: RESTART_WAIT
    from then)."""
    why = "is down or restarting"
    while True:
        try:
            store: Store | None = otp.gen_server.table_of(repo, Repo)
        except NoProcess:
            store = None
        if store is not None and not store.released:
            if store.available:
                return store
            why = f"cannot reach its database ({getattr(store, 'last_error', None)})"
        loop = asyncio.get_running_loop()
        if not deadline:
            deadline.append(loop.time() + RESTART_WAIT)
        remaining = deadline[0] - loop.time()
        if type(repo) is not str or remaining <= 0:
            raise RepoUnavailable(repo, why)
        waiter: asyncio.Future[None] = loop.create_future()
        _waiting.setdefault(repo, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, remaining)
        except TimeoutError:
            raise RepoUnavailable(repo, why) from None
        finally:
            waiters = _waiting.get(repo)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)


async def _write(kind: str, payload: Any, repo: Any) -> Any:
    deadline: list[float] = []
    while True:
        store = await _serving(repo, deadline)
        if type(store) is PostgresStore:
            try:
                if kind == "execute":
                    return await store.execute(*payload)
                return await store.transaction(payload)
            except Retry:
                continue  # no connection was had: nothing was sent
        request = _Write(kind, payload)
        try:
            result = await otp.call(repo, request)
        except ProcessExited:
            if request.begun:
                raise
            # It died before this write's turn came: nothing was done, its successor does it.
            continue
        if type(result) is _Failed:
            raise result.error
        return result
