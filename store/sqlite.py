"""The Repo's SQLite backend: one writer connection, a few readers, the file in WAL mode.

Every write runs on the one writer, in the Repo process (``store.repo``), so writes are
serialised without locks, each in its own ``BEGIN IMMEDIATE`` transaction. Reads do not queue
behind writes: callers borrow a read-only connection (WAL lets them read while the writer
writes) and run their query on it themselves.

:func:`open_store` creates the data directory if needed (mode 0700) and the database file
(0600, which SQLite gives its ``-wal`` and ``-shm`` files too; an existing file readable by
others is narrowed to 0600), switches the file to WAL and applies the pending migrations.

Connections are given back once, whichever way the Repo exits: :meth:`SqliteStore.release`,
called by its exit hook, interrupts what they run (a transaction in progress is rolled back)
and closes each on its own thread, so the write lock and the threads never outlive the
process. A Repo that starts on the same file waits (up to :data:`CLOSE_WAIT`) for those
threads to end before it opens its own: SQLite cannot close a connection's descriptor while
other connections of the process hold locks on the file, so a close that came after the new
ones opened would leave the descriptor open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite.core import _STOP_RUNNING_SENTINEL as _STOP_RUNNING

from .connection import Params, Pending, Result, Retry, Row
from .errors import DatabaseError, IntegrityError, SchemaTooNew
from .migrations import MIGRATIONS, statements, too_new
from .sql import for_sqlite
from .url import SqliteTarget

__all__ = ["SqliteConnection", "SqliteStore", "migrate", "open_store"]

DIALECT = "sqlite"

CLOSE_WAIT = 5.0
"""Seconds a starting Repo waits for a released Repo's connections on its file to close."""

# Futures resolved as released connections close, by file (see _closed_before).
_closing: dict[Path, list[asyncio.Future[None]]] = {}


def translate(error: sqlite3.Error) -> DatabaseError:
    """The Repo's error for a sqlite3 one (raise it ``from`` the original)."""
    if isinstance(error, DatabaseError):
        return error
    kind = IntegrityError if isinstance(error, sqlite3.IntegrityError) else DatabaseError
    translated = kind(*error.args)
    for attr in ("sqlite_errorcode", "sqlite_errorname"):
        with contextlib.suppress(AttributeError):
            setattr(translated, attr, getattr(error, attr))
    return translated


def _run(conn: aiosqlite.Connection, sql: str, params: Params) -> Result:
    """On the connection's thread: one statement, its rows if it answers any, and what it
    changed, in one trip."""
    cur = conn._conn.cursor()
    try:
        cur.execute(sql, params)
        if cur.description is None:
            return Result(cur.lastrowid, cur.rowcount)
        rows = cur.fetchall()
        return Result(cur.lastrowid, len(rows), rows)
    finally:
        cur.close()


class SqliteConnection:
    """The :class:`store.connection.Connection` a transaction's function gets on SQLite."""

    __slots__ = ("_raw",)
    dialect = DIALECT

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Params = ()) -> Pending:
        return Pending(self._execute(sql, params))

    async def _execute(self, sql: str, params: Params) -> Result:
        try:
            result: Result = await self._raw._execute(_run, self._raw, for_sqlite(sql), params)
        except sqlite3.Error as e:
            raise translate(e) from e
        return result

    async def execute_many(self, sql: str, params: Iterable[Params]) -> None:
        try:
            await self._raw._execute(_run_many, self._raw, for_sqlite(sql), params)
        except sqlite3.Error as e:
            raise translate(e) from e

    executemany = execute_many

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return list((await self._execute(sql, params)).rows)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = (await self._execute(sql, params)).rows
        return rows[0] if rows else None


def _run_many(conn: aiosqlite.Connection, sql: str, params: Iterable[Params]) -> None:
    conn._conn.cursor().executemany(sql, params).close()


class _Connections:
    """Every connection a store opened, given back once, whichever way the Repo exits."""

    __slots__ = ("all", "closing", "path", "released")

    def __init__(self, path: Path) -> None:
        self.path = path
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
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for conn in self.all:
            # sqlite3's interrupt() is safe from another thread while the connection is
            # open; it is closed only on its own thread, by the close queued below, or by
            # close() above, which has then begun (no interrupt then).
            raw = conn._connection
            if raw is not None and not self.closing:
                with contextlib.suppress(sqlite3.Error):
                    raw.interrupt()
            if conn._running:
                closed = loop.create_future() if loop is not None else None
                _queue_close(conn, closed)
                if closed is not None:
                    _closing.setdefault(self.path, []).append(closed)


async def _closed_before(path: Path) -> None:
    """Wait until connections released on ``path`` have closed (see the module's text)."""
    loop = asyncio.get_running_loop()
    pending = [f for f in _closing.pop(path, []) if f.get_loop() is loop and not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=CLOSE_WAIT)


def _queue_close(conn: aiosqlite.Connection, closed: asyncio.Future[None] | None) -> None:
    """What aiosqlite's ``stop()`` does (0.21 and later), less the future it would resolve
    on the loop: a node that is exiting may have closed its loop by the time the close runs,
    and the thread would die on that instead of ending."""
    conn._running = False

    def close() -> object:
        raw, conn._connection = conn._connection, None
        try:
            if raw is not None:
                raw.close()
        finally:
            if closed is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    closed.get_loop().call_soon_threadsafe(_resolve, closed)
        return _STOP_RUNNING

    conn._tx.put_nowait((None, close))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SqliteStore:
    """What a SQLite Repo holds: its writer, its readers, and how to give them back."""

    dialect = DIALECT
    serialised = True
    """Writes run in the Repo process, one at a time, on the writer."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, connections: _Connections
                 ) -> None:
        self.path = path
        self.shown = f"sqlite:///{path}"
        self.writer = writer
        self.connections = connections
        self.readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self.available = True
        self._write_conn = SqliteConnection(writer)

    @property
    def released(self) -> bool:
        return self.connections.released

    def release(self) -> None:
        self.connections.release()

    async def close(self) -> None:
        await self.connections.close()

    async def read(self, sql: str, params: Params) -> list[Row]:
        """Every row of a query, on a borrowed reader; raises :class:`Retry` if the Repo
        exited while it ran."""
        conn = await self.readers.get()
        try:
            if self.released:
                raise Retry
            # One trip to the connection's thread, where execute, fetchall and close are
            # three.
            return list(await conn.execute_fetchall(for_sqlite(sql), params))
        except (sqlite3.Error, ValueError) as e:
            if self.released:
                # Interrupted, or closed, by the Repo's exit: a read is safe to ask again.
                raise Retry from None
            if isinstance(e, sqlite3.Error):
                raise translate(e) from e
            raise
        finally:
            self.readers.put_nowait(conn)

    async def execute(self, sql: str, params: Params) -> Result:
        """One write statement, committed (autocommit: the writer is never left in a
        transaction between calls). In the Repo process only."""
        return await self._write_conn._execute(sql, params)

    async def transaction(self, fn: Callable[[SqliteConnection], Awaitable[Any]]) -> Any:
        """``fn(conn)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the writer; what it
        raises rolls it back and is raised. In the Repo process only."""
        conn = self.writer
        try:
            # Inside the try: cancelled while it waits for the lock, BEGIN still runs on the
            # connection's thread, and the ROLLBACK queued behind it gives the lock back.
            await conn.execute("BEGIN IMMEDIATE")
            result = await fn(self._write_conn)
        except BaseException:
            # Nothing to roll back if BEGIN failed; a closed connection has rolled back itself.
            with contextlib.suppress(sqlite3.Error, ValueError):
                await conn.execute("ROLLBACK")
            raise
        try:
            await conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise translate(e) from e
        return result


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


async def open_store(target: SqliteTarget, on_exit: Callable[[Callable[[], None]], None]
                     ) -> tuple[SqliteStore, list[int]]:
    """Open (creating it if need be) and migrate the database of ``target``; returns the
    store and the migrations applied. ``on_exit(release)`` is called before any connection
    opens, so the caller's exit hook gives back even those a kill interrupts."""
    db = target.path
    _prepare(db)
    await _closed_before(db)
    connections = _Connections(db)
    on_exit(connections.release)
    writer = await _connect(db, connections)
    await writer.execute("PRAGMA journal_mode = WAL")
    await writer.execute("PRAGMA synchronous = NORMAL")
    applied = await migrate(writer, str(db))
    store = SqliteStore(db, writer, connections)
    for _ in range(target.read_connections):
        store.readers.put_nowait(await _connect(db, connections, readonly=True))
    return store, applied


async def open_plain(path: Path) -> aiosqlite.Connection:
    """A lone writer connection on an existing file, outside any Repo (``hearth db``);
    raises ``sqlite3.OperationalError`` if there is no such file."""
    conn = await aiosqlite.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None,
                                   factory=_Closing)
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
)


async def current_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT MAX(version) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return (row[0] if row else None) or 0


async def migrate(conn: aiosqlite.Connection, where: str) -> list[int]:
    """Apply the pending migrations on ``conn``; returns the numbers applied. Each runs in
    its own ``BEGIN IMMEDIATE`` and is skipped if another process applied it meanwhile."""
    await conn.execute(SCHEMA_TABLE)
    current = await current_version(conn)
    refusal = too_new(current, where)
    if refusal is not None:
        raise SchemaTooNew(refusal)
    applied = []
    for version, name, sql in MIGRATIONS:
        if version <= current:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Under the write lock: a second node starting on the same file may have been
            # quicker.
            if await current_version(conn) >= version:
                await conn.execute("ROLLBACK")
                continue
            for statement in statements(sql):
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
