"""What ``hearth db`` does, on a database given by its URL, outside any Repo: migrate it, tell
its schema version, copy one database into another.

:func:`copy` moves every row of a database at the current schema version into an empty
one (migrated here first), in one transaction of the target: it reads the source in one
consistent snapshot, fills the tables parents first, sets PostgreSQL's id sequences past the
largest id copied (so the next insert does not collide), and commits only if every table
holds as many rows as the source's. Anything else rolls it all back and raises
:class:`CopyError`. Nodes should not write to the source meanwhile: what they write after the
snapshot is not copied.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from . import postgres, schema, sqlite
from .connection import Connection
from .migrations import MIGRATIONS, known_version, too_new
from .url import SqliteTarget, Target

__all__ = ["BATCH", "CopyError", "Status", "copy", "migrate", "open_database", "status"]

BATCH = 1000
"""Rows read and written at a time by :func:`copy`."""


class CopyError(RuntimeError):
    """The copy was refused or failed, and the target is as it was."""


class _Database:
    """One connection to a database, outside any Repo."""

    def __init__(self, target: Target, raw: Any) -> None:
        self.target = target
        self.raw = raw
        self.dialect = "sqlite" if isinstance(target, SqliteTarget) else "postgresql"
        self.conn: Connection = (sqlite.SqliteConnection(raw) if self.dialect == "sqlite"
                                 else postgres.PgConnection(raw))

    @property
    def shown(self) -> str:
        return self.target.shown

    async def version(self) -> int:
        if self.dialect == "sqlite":
            await self.raw.execute(sqlite.SCHEMA_TABLE)
            return await sqlite.current_version(self.raw)
        return await postgres.current_version(self.raw)

    async def migrate(self) -> list[int]:
        if self.dialect == "sqlite":
            return await sqlite.migrate(self.raw, self.shown)
        return await postgres.migrate(self.raw, self.shown)

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[Connection]:
        """A transaction; with ``snapshot``, a read-only one that sees the database as it
        was when it began."""
        if self.dialect == "sqlite":
            await self.raw.execute("BEGIN" if snapshot else "BEGIN IMMEDIATE")
            try:
                if snapshot:
                    # WAL: the snapshot is taken at the first read, not at BEGIN.
                    await self.raw.execute("SELECT 1 FROM sqlite_master LIMIT 1")
                yield self.conn
            except BaseException:
                await self.raw.execute("ROLLBACK")
                raise
            await self.raw.execute("COMMIT" if not snapshot else "ROLLBACK")
            return
        options = {"isolation": "repeatable_read", "readonly": True} if snapshot else {}
        async with self.raw.transaction(**options):
            yield self.conn

    async def rows(self, sql: str) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The rows of ``sql``, :data:`BATCH` at a time, inside a transaction."""
        if self.dialect == "sqlite":
            async with self.raw.execute(sql) as cur:
                while batch := await cur.fetchmany(BATCH):
                    yield [tuple(row) for row in batch]
            return
        cursor = self.raw.cursor(sql, prefetch=BATCH)
        batch = []
        async for record in cursor:
            batch.append(tuple(record))
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def close(self) -> None:
        await self.raw.close()


async def open_database(target: Target, *, create: bool = False) -> _Database:
    """A connection to ``target``; a SQLite file is made only with ``create``. Raises
    asyncpg's, sqlite3's or the system's error when it cannot be opened."""
    if isinstance(target, SqliteTarget):
        if create:
            sqlite._prepare(target.path)
        raw: Any = await sqlite.open_plain(target.path)
    else:
        raw = await postgres.connect(target)
    return _Database(target, raw)


@asynccontextmanager
async def _opened(target: Target, *, create: bool = False) -> AsyncIterator[_Database]:
    db = await open_database(target, create=create)
    try:
        yield db
    finally:
        await db.close()


async def migrate(target: Target) -> tuple[list[int], int]:
    """Apply the pending migrations to ``target`` (a SQLite file is made if need be);
    the numbers applied and the version now."""
    async with _opened(target, create=True) as db:
        applied = await db.migrate()
        return applied, await db.version()


@dataclass(frozen=True)
class Status:
    """Where a database's schema stands: the migrations it records (version, name,
    applied_at), those this code would apply (version, name), and whether it is newer
    than this code (``too_new``: the message)."""

    version: int
    known: int
    applied: list[tuple[int, str, float]]
    pending: list[tuple[int, str]]
    too_new: str | None


async def status(target: Target) -> Status:
    """The schema status of ``target``, which must exist; it is not changed."""
    async with _opened(target) as db:
        version = await db.version()
        applied: list[tuple[int, str, float]] = []
        if version:
            rows = await db.conn.fetch_all(
                "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
            applied = [(int(r[0]), str(r[1]), float(r[2])) for r in rows]
    done = {v for v, _, _ in applied}
    pending = [(v, name) for v, name, _ in MIGRATIONS if v not in done]
    return Status(version, known_version(), applied, pending, too_new(version, target.shown))


async def copy(source: Target, target: Target,
               progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every row of ``source`` into ``target`` (see the module's docstring); the rows
    copied per table. ``progress(table, rows)`` is told of each table once it is done."""
    if source == target:
        raise CopyError(f"{source.shown} is both the source and the target")
    async with _opened(source) as src, _opened(target, create=True) as dst:
        version = await src.version()
        if version != known_version():
            raise CopyError(
                f"{src.shown} is at schema version {version}, this code at {known_version()}: "
                f"run `hearth db migrate --url {src.shown}` first (with the Hearth that wrote "
                "it, if it is newer)")
        await dst.migrate()
        async with src.transaction(snapshot=True) as reader, dst.transaction() as writer:
            tables = await schema.tables(reader)
            missing = set(tables) - set(await schema.tables(writer))
            if missing:
                raise CopyError(f"{dst.shown} has no table {', '.join(sorted(missing))}")
            await _check_empty(writer, tables, dst.shown)
            for table in reversed(tables):  # children first: what migrations put there
                await writer.execute(f'DELETE FROM "{table}"')
            counts = {}
            for table in tables:
                counts[table] = await _copy_table(src, reader, writer, table)
                if progress is not None:
                    progress(table, counts[table])
            for table, column in await schema.identity_columns(writer):
                await writer.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),"
                    f' COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)')
            for table in tables:
                row = await writer.fetch_one(f'SELECT COUNT(*) FROM "{table}"')
                copied = int(row[0]) if row is not None else -1
                if copied != counts[table]:
                    raise CopyError(f"{table}: {counts[table]} rows read from the source, "
                                    f"{copied} in the target; nothing was copied")
        return counts


async def _check_empty(conn: Connection, tables: list[str], shown: str) -> None:
    """Refuse a target with data in it, but for what the migrations put there (the lobby)."""
    for table in tables:
        if table == "rooms":
            row = await conn.fetch_one("SELECT COUNT(*) FROM rooms WHERE slug != 'lobby'")
        else:
            row = await conn.fetch_one(f'SELECT COUNT(*) FROM "{table}"')
        if row is not None and row[0]:
            raise CopyError(f"{shown} holds data already ({table}: {row[0]} rows): copy into "
                            "an empty database")


async def _copy_table(src: _Database, reader: Connection, writer: Connection,
                      table: str) -> int:
    names = await schema.columns(reader, table)
    theirs = set(await schema.columns(writer, table))
    lost = [name for name in names if name not in theirs]
    if lost:
        raise CopyError(f"{table}: the target has no column {', '.join(lost)}")
    quoted = ", ".join(f'"{name}"' for name in names)
    insert = (f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(names))})')
    count = 0
    async for batch in src.rows(f'SELECT {quoted} FROM "{table}"'):
        await writer.execute_many(insert, batch)
        count += len(batch)
    return count
