"""The Repo: the process that owns the SQLite database.

One writer connection belongs to the Repo process: every write is a call to it, so writes are
serialised without locks, each in its own transaction. Reads do not queue behind writes: the
Repo also opens a few read-only connections (WAL mode lets them read while the writer writes)
that callers borrow directly, as they would read an ETS table.

At start the Repo creates the data directory if needed (mode 0700) and the database file
(0600, which SQLite gives its ``-wal`` and ``-shm`` files too; an existing file readable by
others is narrowed to 0600), switches the file to WAL and applies the pending migrations of
``store.migrations``, recording each. A database that records a migration newer than this code
knows stops the start with :class:`SchemaTooNew`.

A Repo that exits for any reason, a kill included, gives its connections back at once: an
exit hook interrupts what they run (a transaction in progress is rolled back) and closes each
on its own thread, so the write lock and the threads never outlive the process. Callers that
come while it is down or restarting wait up to :data:`RESTART_WAIT` for the restarted Repo
and are served by it; past that they get :class:`RepoUnavailable`, and nothing was done.

SQL is always parameterised: pass values as ``params``, never in the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite
from aiosqlite.core import _STOP_RUNNING_SENTINEL as _STOP_RUNNING

import otp
from otp import From, GenServer, NoProcess, Ok, ProcessExited, Reply
from store.migrations import MIGRATIONS

__all__ = ["NAME", "RESTART_WAIT", "Repo", "RepoUnavailable", "Result", "Row", "SchemaTooNew"]

NAME = "hearth.repo"
"""The name the Repo is registered under in the tree."""

Row = sqlite3.Row
T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]


RESTART_WAIT = 2.0
"""Seconds a caller waits for a Repo that is down or starting (a supervisor restarts it in
milliseconds) before :class:`RepoUnavailable`."""


class RepoUnavailable(NoProcess):
    """The Repo was down or starting, and no Repo served the request within
    :data:`RESTART_WAIT`: nothing was read or written, so retrying later is safe.

    Unlike its parent :class:`~otp.NoProcess`, it comes after a wait. A request the Repo had
    begun when it died raises :class:`~otp.ProcessExited` instead: a write may then have been
    stored or not.
    """

    def __init__(self, repo: Any) -> None:
        super().__init__(repo)
        self.args = (f"the Repo {repo!r} is down or restarting; nothing was done, retry",)


class SchemaTooNew(RuntimeError):
    """The database was migrated by newer code than this; upgrade the code, not the data."""


class Result(NamedTuple):
    """What a write did: the last inserted row id and how many rows it changed."""

    lastrowid: int | None
    rowcount: int


class _Failed(NamedTuple):
    error: BaseException


class _Write:
    """A write sent to the Repo; ``begun`` tells its caller, if the Repo dies, whether the
    write may have happened."""

    __slots__ = ("begun", "kind", "payload")

    def __init__(self, kind: str, payload: Any) -> None:
        self.kind = kind
        self.payload = payload
        self.begun = False

    def __repr__(self) -> str:
        return f"_Write({self.kind!r}, {self.payload!r})"


class _Connections:
    """Every connection a Repo opened, given back once, whichever way it exits."""

    __slots__ = ("all", "closing", "released")

    def __init__(self) -> None:
        self.all: list[aiosqlite.Connection] = []
        self.closing = False
        self.released = False

    async def close(self) -> None:
        """Close them after what each is running, and wait for their threads: an orderly
        stop."""
        self.closing = True
        await asyncio.gather(*(conn.close() for conn in self.all))
        self.released = True

    def release(self) -> None:
        """Close them at once, without awaiting (an exit hook cannot): what each runs is
        interrupted, a transaction left open rolls back, and each thread ends."""
        if self.released:
            return
        self.released = True
        for conn in self.all:
            # sqlite3's interrupt() is safe from another thread while the connection is
            # open; it is closed only on its own thread, by the close queued below, or by
            # close() above, which has then begun (no interrupt then).
            raw = conn._connection
            if raw is not None and not self.closing:
                with contextlib.suppress(sqlite3.Error):
                    raw.interrupt()
            if conn._running:
                _queue_close(conn)


def _queue_close(conn: aiosqlite.Connection) -> None:
    """What aiosqlite's ``stop()`` does (0.21 and later), less the future it would resolve
    on the loop: a node that is exiting may have closed its loop by the time the close runs,
    and the thread would die on that instead of ending."""
    conn._running = False

    def close() -> object:
        raw, conn._connection = conn._connection, None
        if raw is not None:
            raw.close()
        return _STOP_RUNNING

    conn._tx.put_nowait((None, close))


class _State:
    __slots__ = ("connections", "path", "readers", "writer")

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, connections: _Connections
    ) -> None:
        self.path = path
        self.writer = writer
        self.connections = connections
        self.readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()


# Callers waiting for the Repo registered under a name to be ready (see RESTART_WAIT).
_waiting: dict[str, list[asyncio.Future[None]]] = {}
_READY = "ready"


def _prepare(db: Path) -> None:
    """The data directory (0700 when made here) and the database file (0600)."""
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # A database made before files were private, or copied in: others must not read it.
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode & 0o077:
                    path.chmod(mode & 0o700)
    else:
        os.close(fd)


class _Closing(sqlite3.Connection):
    """A connection whose ``close`` closes its cursors first. sqlite3 keeps the database
    file open while a statement is unfinished, and a cursor keeps its statement: a caller
    killed mid-query can leave its cursor in a reference cycle that the collector may not
    visit for long (a frozen generation never), and the file would stay open with it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    def cursor(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:  # type: ignore[override]
        cur = super().cursor(*args, **kwargs)
        self._cursors.add(cur)
        return cur

    # The C methods make their cursors without calling cursor(): go through it.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        return self.cursor().executescript(script)

    def close(self) -> None:
        for cur in list(self._cursors):
            with contextlib.suppress(sqlite3.Error):
                cur.close()
        super().close()


async def _connect(
    path: Path, connections: _Connections, readonly: bool = False
) -> aiosqlite.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = aiosqlite.connect(uri, uri=True, isolation_level=None, factory=_Closing)
    connections.all.append(conn)  # before its thread starts: a kill now still closes it
    await conn
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


async def migrate(conn: aiosqlite.Connection, path: Path) -> list[int]:
    """Apply the pending migrations on ``conn``; returns the numbers applied."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with conn.execute("SELECT MAX(version) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    current = (row[0] if row else None) or 0
    known = MIGRATIONS[-1][0] if MIGRATIONS else 0
    if current > known:
        raise SchemaTooNew(
            f"{path} is at schema version {current}, but this code knows only up to {known}: "
            "it was written by a newer Hearth. Run that version, or restore a backup."
        )
    applied = []
    for version, name, sql in MIGRATIONS:
        if version <= current:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, time.time()),
            )
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        applied.append(version)
    return applied


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


class Repo(GenServer):
    """Start under a supervisor with ``Repo.child_spec(path, read_connections, name=NAME)``."""

    async def init(self, path: str, read_connections: int = 2) -> Any:
        # Trap exits so a shutdown closes the connections (their threads) in terminate; any
        # other exit, a kill included, closes them in the hook.
        otp.trap_exit(True)
        db = Path(path)
        _prepare(db)
        connections = _Connections()
        self._on_exit(lambda _proc, _reason: connections.release())
        writer = await _connect(db, connections)
        await writer.execute("PRAGMA journal_mode = WAL")
        await writer.execute("PRAGMA synchronous = NORMAL")
        applied = await migrate(writer, db)
        state = _State(db, writer, connections)
        for _ in range(read_connections):
            state.readers.put_nowait(await _connect(db, connections, readonly=True))
        if applied:
            otp._kernel.log.info("repo: %s migrated to version %d", db, applied[-1])
        return Ok(state, continue_=_READY)

    def handle_continue(self, arg: Any, state: _State) -> Any:
        if arg == _READY:
            # Callers that came while this Repo was down or starting are served now.
            name = self._name
            for waiter in _waiting.pop(name, []) if name is not None else []:
                if not waiter.done():
                    waiter.set_result(None)
            return otp.NoReply(state)
        return super().handle_continue(arg, state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Any:
        if type(request) is not _Write:
            return super().handle_call(request, from_, state)
        request.begun = True
        try:
            if request.kind == "execute":
                sql, params = request.payload
                async with state.writer.execute(sql, params) as cur:
                    return Reply(Result(cur.lastrowid, cur.rowcount), state)
            return Reply(await _in_transaction(state.writer, request.payload), state)
        except (sqlite3.Error, ValueError) as e:
            # The caller's statement failed (a constraint, bad SQL): that is the caller's
            # error to handle, not a reason for the Repo to crash.
            return Reply(_Failed(e), state)

    async def terminate(self, reason: Any, state: _State | None) -> None:
        if state is not None:
            # What callers are running finishes first; the threads end before the exit.
            await state.connections.close()

    # -- client API: reads borrow a read connection; writes are calls -----------------------

    @staticmethod
    async def fetch_all(sql: str, params: Params = (), repo: Any = NAME) -> list[Row]:
        """Every row of a read query; raises ``sqlite3.Error`` for bad SQL and
        :class:`RepoUnavailable` if no Repo came up to answer it."""
        deadline: list[float] = []
        while True:
            state = await _serving(repo, deadline)
            conn = await state.readers.get()
            try:
                if state.connections.released:
                    continue  # the Repo died while this caller waited: ask its successor
                # One trip to the connection's thread, where execute, fetchall and close are
                # three.
                return list(await conn.execute_fetchall(sql, params))
            except (sqlite3.Error, ValueError):
                if not state.connections.released:
                    raise
                # Interrupted, or closed, by the Repo's exit: a read is safe to ask again.
            finally:
                state.readers.put_nowait(conn)

    @staticmethod
    async def fetch_one(sql: str, params: Params = (), repo: Any = NAME) -> Row | None:
        """The row of a query that finds at most one (by a unique key, an aggregate, a
        ``LIMIT 1``), or ``None``. Every row found is read: do not use it to take the first
        of many."""
        rows = await Repo.fetch_all(sql, params, repo=repo)
        return rows[0] if rows else None

    @staticmethod
    async def execute(sql: str, params: Params = (), repo: Any = NAME) -> Result:
        """Run one write statement in its own transaction; raises ``sqlite3.Error``
        (``sqlite3.IntegrityError`` for a broken constraint), :class:`RepoUnavailable` if no
        Repo came up to run it, ``ProcessExited`` if the Repo died while running it."""
        return _unwrap(await _write(_Write("execute", (sql, params)), repo))

    @staticmethod
    async def transaction(
        fn: Callable[[aiosqlite.Connection], Awaitable[T]], repo: Any = NAME
    ) -> T:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the writer; any
        exception rolls it back and reaches the caller. Keep ``fn`` short: writes wait.
        Raises as :meth:`execute` does when the Repo is down or dies."""
        return _unwrap(await _write(_Write("transaction", fn), repo))


async def _serving(repo: Any, deadline: list[float]) -> _State:
    """The state of the Repo at ``repo`` once it serves, waiting for one that is down or
    starting until ``deadline`` (set on the first wait: RESTART_WAIT from then)."""
    while True:
        try:
            state: _State | None = otp.gen_server.table_of(repo, Repo)
        except NoProcess:
            state = None
        if state is not None and not state.connections.released:
            return state
        loop = asyncio.get_running_loop()
        if not deadline:
            deadline.append(loop.time() + RESTART_WAIT)
        remaining = deadline[0] - loop.time()
        if type(repo) is not str or remaining <= 0:
            raise RepoUnavailable(repo)
        waiter: asyncio.Future[None] = loop.create_future()
        _waiting.setdefault(repo, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, remaining)
        except TimeoutError:
            raise RepoUnavailable(repo) from None
        finally:
            waiters = _waiting.get(repo)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)


async def _write(request: _Write, repo: Any) -> Any:
    deadline: list[float] = []
    while True:
        await _serving(repo, deadline)
        try:
            return await otp.call(repo, request)
        except ProcessExited:
            if request.begun:
                raise
            # It died before this write's turn came: nothing was done, its successor does it.


async def _in_transaction(
    conn: aiosqlite.Connection, fn: Callable[[aiosqlite.Connection], Awaitable[Any]]
) -> Any:
    try:
        # Inside the try: cancelled while it waits for the lock, BEGIN still runs on the
        # connection's thread, and the ROLLBACK queued behind it gives the lock back.
        await conn.execute("BEGIN IMMEDIATE")
        result = await fn(conn)
    except BaseException as e:
        # Nothing to roll back if BEGIN failed; a closed connection has rolled back itself.
        with contextlib.suppress(sqlite3.Error, ValueError):
            await conn.execute("ROLLBACK")
        if isinstance(e, Exception):
            return _Failed(e)
        raise
    await conn.execute("COMMIT")
    return result


def _unwrap(result: Any) -> Any:
    if type(result) is _Failed:
        raise result.error
    return result
