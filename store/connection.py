"""What a transaction's function is handed, on either backend: a :class:`Connection`.

``Repo.transaction(fn)`` calls ``fn(conn)`` inside a transaction; ``conn`` runs statements
in it with four methods, the same on SQLite and on PostgreSQL::

    async def rename(conn: Connection) -> int:
        row = await conn.fetch_one("SELECT id FROM rooms WHERE slug = ? FOR UPDATE", (slug,))
        if row is None:
            return 0
        result = await conn.execute("UPDATE rooms SET name = ? WHERE id = ?", (name, row["id"]))
        return result.rowcount

SQL is SQLite's dialect with ``?`` placeholders, always parameterised (``store.sql`` numbers
them for PostgreSQL). Write what both accept: ``INSERT ... ON CONFLICT DO NOTHING`` rather
than ``INSERT OR IGNORE``, ``RETURNING id`` rather than ``lastrowid`` (PostgreSQL has none),
``FOR UPDATE`` on a row read and then changed (dropped on SQLite, where the writer holds
the whole database). On PostgreSQL a statement that fails ends the transaction: what follows
it fails too, so let the error leave ``fn`` (or avoid it with ``ON CONFLICT``) rather than
catch it and go on. ``conn.dialect`` (``"sqlite"`` or ``"postgresql"``) is there for the rare
statement that cannot be written once.

Rows are indexable by column name and by position (``row["id"]``, ``row[0]``) and have
``keys()``; values are ``int``, ``float``, ``str``, ``bytes`` or ``None`` on both.

Transactions written when the Repo handed them an aiosqlite connection read on: what
``execute`` returns may also be entered as aiosqlite's cursor was (``async with
conn.execute(sql, params) as cur: row = await cur.fetchone()``), and ``executemany`` is
``execute_many``. New code uses ``fetch_one`` and ``fetch_all``.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

__all__ = ["Connection", "Params", "Pending", "Result", "Retry", "Row"]

Params = Sequence[Any]
"""Positional parameters, one per ``?``."""


class Row(Protocol):
    """A row: ``sqlite3.Row`` on SQLite, ``asyncpg.Record`` on PostgreSQL."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Any: ...


class Result(NamedTuple):
    """What a statement did: the rows it answered (a query, or ``RETURNING``), how many rows
    it changed (or answered), and on SQLite the last inserted row id (``None`` on
    PostgreSQL: say ``RETURNING id``)."""

    lastrowid: int | None
    rowcount: int
    rows: Sequence[Row] = ()

    # Read like aiosqlite's cursor (see the module's docstring).

    async def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    async def fetchall(self) -> list[Row]:
        return list(self.rows)


class Pending:
    """A statement on its way: await it for its :class:`Result`, or enter it (``async
    with``) for the same, as aiosqlite's cursor was entered."""

    __slots__ = ("_run",)

    def __init__(self, run: Coroutine[Any, Any, Result]) -> None:
        self._run = run

    def __await__(self) -> Generator[Any, None, Result]:
        return self._run.__await__()

    async def __aenter__(self) -> Result:
        return await self._run

    async def __aexit__(self, *exc: object) -> None:
        return None


class Connection(Protocol):
    """A connection inside a transaction (see the module's docstring)."""

    dialect: str

    def execute(self, sql: str, params: Params = ()) -> Pending:
        """Run one statement (await it); its rows, if it answers any, are in the result."""
        ...

    async def execute_many(self, sql: str, params: Iterable[Params]) -> None:
        """Run one statement once per parameter tuple."""
        ...

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        """:meth:`execute_many`, by aiosqlite's name."""
        ...

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row a statement answers."""
        ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row a statement answers, or ``None`` (every row is read: use it for a
        key, an aggregate or ``LIMIT 1``)."""
        ...


class Retry(Exception):
    """Raised by a backend to the Repo's client functions (never to their callers): the
    request met the Repo's exit or a lost connection before anything was done; ask again
    once a Repo serves."""
