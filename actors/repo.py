"""The Repo: the process that owns the SQLite database.

One writer connection belongs to the Repo process: every write is a call to it, so writes are
serialised without locks, each in its own transaction. Reads do not queue behind writes: the
Repo also opens a few read-only connections (WAL mode lets them read while the writer writes)
that callers borrow directly, as they would read an ETS table.

At start the Repo creates the data directory if needed, switches the file to WAL and applies
the pending migrations of ``store.migrations``, recording each. A database that records a
migration newer than this code knows stops the start with :class:`SchemaTooNew`.

SQL is always parameterised: pass values as ``params``, never in the text.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite

import otp
from otp import From, GenServer, Ok, Reply
from store.migrations import MIGRATIONS

__all__ = ["NAME", "Repo", "Result", "Row", "SchemaTooNew"]

NAME = "hearth.repo"
"""The name the Repo is registered under in the tree."""

Row = sqlite3.Row
T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]


class SchemaTooNew(RuntimeError):
    """The database was migrated by newer code than this; upgrade the code, not the data."""


class Result(NamedTuple):
    """What a write did: the last inserted row id and how many rows it changed."""

    lastrowid: int | None
    rowcount: int


class _Failed(NamedTuple):
    error: BaseException


class _State:
    __slots__ = ("path", "readers", "writer")

    def __init__(self, path: Path, writer: aiosqlite.Connection) -> None:
        self.path = path
        self.writer = writer
        self.readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()


async def _connect(path: Path, readonly: bool = False) -> aiosqlite.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
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
        # Trap exits so a shutdown closes the connections (their threads) in terminate.
        otp.trap_exit(True)
        db = Path(path)
        db.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(db)
        try:
            await writer.execute("PRAGMA journal_mode = WAL")
            await writer.execute("PRAGMA synchronous = NORMAL")
            applied = await migrate(writer, db)
            state = _State(db, writer)
            for _ in range(read_connections):
                state.readers.put_nowait(await _connect(db, readonly=True))
        except BaseException:
            await writer.close()
            raise
        if applied:
            otp._kernel.log.info("repo: %s migrated to version %d", db, applied[-1])
        return Ok(state)

    async def handle_call(self, request: Any, from_: From, state: _State) -> Any:
        op = request[0]
        try:
            if op == "execute":
                async with state.writer.execute(request[1], request[2]) as cur:
                    return Reply(Result(cur.lastrowid, cur.rowcount), state)
            if op == "transaction":
                return Reply(await _in_transaction(state.writer, request[1]), state)
        except (sqlite3.Error, ValueError) as e:
            # The caller's statement failed (a constraint, bad SQL): that is the caller's
            # error to handle, not a reason for the Repo to crash.
            return Reply(_Failed(e), state)
        return super().handle_call(request, from_, state)

    async def terminate(self, reason: Any, state: _State | None) -> None:
        if state is None:
            return
        while not state.readers.empty():
            await state.readers.get_nowait().close()
        await state.writer.close()

    # -- client API: reads borrow a read connection; writes are calls -----------------------

    @staticmethod
    async def fetch_all(sql: str, params: Params = (), repo: Any = NAME) -> list[Row]:
        """Every row of a read query."""
        state: _State = otp.gen_server.table_of(repo, Repo)
        conn = await state.readers.get()
        try:
            # One trip to the connection's thread, where execute, fetchall and close are three.
            return list(await conn.execute_fetchall(sql, params))
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
        (``sqlite3.IntegrityError`` for a broken constraint)."""
        return _unwrap(await otp.call(repo, ("execute", sql, params)))

    @staticmethod
    async def transaction(
        fn: Callable[[aiosqlite.Connection], Awaitable[T]], repo: Any = NAME
    ) -> T:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` on the writer; any
        exception rolls it back and reaches the caller. Keep ``fn`` short: writes wait."""
        return _unwrap(await otp.call(repo, ("transaction", fn)))


async def _in_transaction(
    conn: aiosqlite.Connection, fn: Callable[[aiosqlite.Connection], Awaitable[Any]]
) -> Any:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        result = await fn(conn)
    except BaseException as e:
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
