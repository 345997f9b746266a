"""The Repo's PostgreSQL backend: a pool of asyncpg connections owned by the Repo process.

Callers borrow a connection from the Repo's pool for each read, write or transaction and run
it themselves, as they borrow SQLite's readers: the database server orders concurrent
writers (of this node and of every other node on the same database) with its row locks, so
nothing is gained by queueing them in one process. Transactions run at PostgreSQL's default
READ COMMITTED; those that read a row and then change it lock it (``FOR UPDATE``) or change
it conditionally (``UPDATE ... WHERE used_at IS NULL``), see ``store.connection``.

A lost connection (the server stopped, restarted, or unreachable) is reported to the Repo
process, which logs it once and tries the server again with a growing delay
(:data:`RETRY_FIRST` doubling to :data:`RETRY_MOST` seconds) until a ``SELECT 1`` answers.
Meanwhile the Repo counts as unavailable: new callers wait for it as for a restarting Repo
(``store.repo.RESTART_WAIT``), then get :class:`~store.errors.RepoUnavailable`. The callers
that were on the connection get, for a read, the same wait and then their rows or that
error; for a write, :class:`~store.errors.RepoUnavailable` if nothing was committed (a
transaction cut before its ``COMMIT``) or :class:`~store.errors.RepoLost` if it may have
been (the connection was lost during its ``COMMIT``, or during a single statement, which
commits on its own).

Migrations run under a session advisory lock (:data:`MIGRATION_LOCK`), so nodes starting at
once against an empty database migrate it exactly once: the others wait, then find nothing
to do. Each migration is a transaction of its own (PostgreSQL's DDL is transactional).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg

from .connection import Params, Pending, Result, Retry, Row
from .errors import DatabaseError, IntegrityError, RepoLost, RepoUnavailable, SchemaTooNew
from .migrations import MIGRATIONS, body, statements, too_new
from .sql import for_postgres
from .url import PostgresTarget

__all__ = ["MIGRATION_LOCK", "PgConnection", "PostgresStore", "connect", "migrate", "open_store"]

DIALECT = "postgresql"

MIGRATION_LOCK = 0x4845415254480001
"""The advisory lock key taken while migrating ("HEARTH" and 1)."""

RETRY_FIRST = 0.05
RETRY_MOST = 2.0
CLOSE_TIMEOUT = 5.0

log = logging.getLogger("store.postgres")

# Errors that mean the connection (or the server behind it) is gone, not that the statement
# was refused.
_LOST: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_lost(error: BaseException) -> bool:
    """Whether ``error`` says the connection is gone."""
    if isinstance(error, _LOST):
        return True
    # asyncpg's own word for a connection closed under it, or a pool closed by the Repo.
    return isinstance(error, asyncpg.InterfaceError) and "clos" in str(error)


def translate(error: Exception) -> DatabaseError:
    """The Repo's error for a refused statement (raise it ``from`` the original)."""
    kind = (IntegrityError if isinstance(error, asyncpg.IntegrityConstraintViolationError)
            else DatabaseError)
    translated = kind(str(error))
    translated.sqlstate = getattr(error, "sqlstate", None)  # type: ignore[attr-defined]
    return translated


class _Lost(Exception):
    """A statement met a lost connection (internal: the store turns it into the caller's
    error)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error) or type(error).__name__)
        self.error = error


def _refused(error: Exception) -> Exception:
    if is_lost(error):
        return _Lost(error)
    if isinstance(error, (asyncpg.PostgresError, asyncpg.InterfaceError)):
        return translate(error)
    return error


def _args(params: Params) -> Params:
    if isinstance(params, dict):
        raise TypeError("named parameters are SQLite-only: pass a sequence, one per ?")
    return params


def _rowcount(status: str) -> int:
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else -1


class PgConnection:
    """The :class:`store.connection.Connection` a transaction's function gets on
    PostgreSQL."""

    __slots__ = ("_raw",)
    dialect = DIALECT

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Params = ()) -> Pending:
        return Pending(self._execute(sql, params))

    async def _execute(self, sql: str, params: Params) -> Result:
        stmt = for_postgres(sql)
        try:
            if stmt.returns_rows:
                rows = await self._raw.fetch(stmt.sql, *_args(params))
                return Result(None, len(rows), rows)
            status = await self._raw.execute(stmt.sql, *_args(params))
        except Exception as e:
            raise _refused(e) from e
        return Result(None, _rowcount(status))

    async def execute_many(self, sql: str, params: Iterable[Params]) -> None:
        try:
            await self._raw.executemany(for_postgres(sql).sql, [_args(p) for p in params])
        except Exception as e:
            raise _refused(e) from e

    executemany = execute_many

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            rows: list[Row] = await self._raw.fetch(for_postgres(sql).sql, *_args(params))
        except Exception as e:
            raise _refused(e) from e
        return rows

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        try:
            row: Row | None = await self._raw.fetchrow(for_postgres(sql).sql, *_args(params))
        except Exception as e:
            raise _refused(e) from e
        return row


async def _no_reset(conn: Any) -> None:
    """The pool's reset on release: asyncpg rolls back an open transaction itself, and the
    Repo's connections change no session state, so the default reset's round trip (``RESET
    ALL`` and friends) is spared on every query."""


def connect_options(target: PostgresTarget) -> dict[str, Any]:
    """What asyncpg is given for each connection of ``target``."""
    settings = {"application_name": "hearth"}
    command_timeout = None
    if target.statement_timeout > 0:
        settings["statement_timeout"] = str(max(1, round(target.statement_timeout * 1000)))
        # A backstop on the client, for a server that no longer answers at all.
        command_timeout = target.statement_timeout + target.connect_timeout
    return {
        "timeout": target.connect_timeout,
        "command_timeout": command_timeout,
        "server_settings": settings,
        "statement_cache_size": 1024,
    }


async def connect(target: PostgresTarget) -> Any:
    """One connection to ``target``, outside any pool (``hearth db``, checks); raises
    asyncpg's or the operating system's error."""
    return await asyncpg.connect(target.dsn, **connect_options(target))


def describe_failure(error: BaseException) -> str:
    """What to tell an operator about a failed connection, without the URL's secrets."""
    if isinstance(error, asyncpg.InvalidPasswordError):
        return "the password was refused"
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return f"the server refused the login: {error}"
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return f"no such database: {error}"
    if isinstance(error, TimeoutError):
        return "no answer within repo.connect_timeout"
    if isinstance(error, OSError):
        return f"cannot reach the server: {error.strerror or error}"
    return f"{type(error).__name__}: {error}"


class PostgresStore:
    """What a PostgreSQL Repo holds: its pool, and whether the server answers."""

    dialect = DIALECT
    serialised = False
    """Writes run in their callers, on connections of the pool."""

    def __init__(self, target: PostgresTarget, name: Any,
                 notify: Callable[[Any], None]) -> None:
        self.target = target
        self.shown = target.shown
        self.name = name
        self.pool: Any = None
        self.available = True
        self.released = False
        self.closing = False
        self.down_since: float | None = None
        self.last_error: str | None = None
        self._notify = notify

    # -- the Repo's side -----------------------------------------------------------------

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.target.dsn,
            min_size=min(2, self.target.pool_size),
            max_size=self.target.pool_size,
            max_inactive_connection_lifetime=0,
            reset=_no_reset,
            init=self._watch,
            **connect_options(self.target),
        )

    async def open(self) -> list[int]:
        """Open the pool and migrate the database; returns the migrations applied. A pool
        that could not finish is closed again."""
        try:
            await self.start()
            async with self.pool.acquire() as conn:
                return await migrate(conn, self.target.shown)
        except BaseException:
            if self.pool is not None:
                self.pool.terminate()
                self.pool = None
            raise

    async def _watch(self, conn: Any) -> None:
        conn.add_termination_listener(self._terminated)

    def _terminated(self, conn: Any) -> None:
        # A connection of the pool closed: the server may be gone (one that went quietly,
        # with no query running into it, is noticed here). The Repo asks the server.
        if not (self.released or self.closing) and self.available:
            self._notify(("check", None))

    def release(self) -> None:
        """Close every connection now, without awaiting (the Repo's exit hook): what runs on
        them fails, and the server rolls back what was not committed."""
        if self.released:
            return
        self.released = True
        if self.pool is not None:
            self.pool.terminate()

    async def close(self) -> None:
        """Close the pool once the connections in use are given back (an orderly stop)."""
        self.closing = True
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), CLOSE_TIMEOUT)
            except (TimeoutError, Exception):
                self.pool.terminate()
        self.released = True

    def lost(self, error: BaseException) -> None:
        """A caller met a lost connection: unavailable from now until the Repo has the
        server back."""
        if self.released or not self.available:
            return
        self.available = False
        self.down_since = time.monotonic()
        self.last_error = describe_failure(error)
        self._notify(("lost", error))

    async def probe(self) -> BaseException | None:
        """Ask the server ``SELECT 1`` on a connection of its own (the pool's may all be
        busy); the error if it did not answer. The pool makes its dead connections anew as
        they are next borrowed."""
        try:
            async with asyncio.timeout(self.target.connect_timeout + 1):
                conn = await connect(self.target)
                try:
                    await conn.fetchval("SELECT 1")
                finally:
                    await conn.close()
        except Exception as e:
            return e
        return None

    # -- the callers' side -------------------------------------------------------------------

    async def _acquire(self) -> Any:
        try:
            return await self.pool.acquire()
        except Exception as e:
            if self.released or is_lost(e):
                # Nothing was sent: safe to ask again once the Repo has the server back.
                self.lost(e)
                raise Retry from e
            raise _refused(e) from e

    async def _release(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            await self.pool.release(conn)

    async def read(self, sql: str, params: Params) -> list[Row]:
        """Every row of a query; raises :class:`Retry` if the connection was lost (a read is
        safe to ask again)."""
        stmt = for_postgres(sql)
        conn = await self._acquire()
        try:
            rows: list[Row] = await conn.fetch(stmt.sql, *_args(params))
            return rows
        except Exception as e:
            if self.released or is_lost(e):
                self.lost(e)
                raise Retry from e
            raise _refused(e) from e
        finally:
            await self._release(conn)

    async def execute(self, sql: str, params: Params) -> Result:
        """One statement, committed on its own."""
        conn = await self._acquire()
        try:
            return await PgConnection(conn)._execute(sql, params)
        except _Lost as e:
            self.lost(e.error)
            # Sent, and a statement outside a transaction commits as it ends: maybe stored.
            raise RepoLost(self.name, e.error) from e.error
        finally:
            await self._release(conn)

    async def transaction(self, fn: Callable[[PgConnection], Awaitable[Any]]) -> Any:
        """``fn(conn)`` inside ``BEGIN`` ... ``COMMIT``; what it raises rolls it back and is
        raised."""
        conn = await self._acquire()
        committing = False
        try:
            async with conn.transaction():
                result = await fn(PgConnection(conn))
                committing = True
            return result
        except Exception as e:
            error = e.error if isinstance(e, _Lost) else e
            if not (self.released or is_lost(error)):
                if isinstance(e, (asyncpg.PostgresError, asyncpg.InterfaceError)):
                    raise translate(e) from e
                raise
            self.lost(error)
            if committing:
                raise RepoLost(self.name, error) from error
            raise RepoUnavailable(
                self.name, "lost its database connection before the transaction committed"
            ) from error
        finally:
            await self._release(conn)


async def open_store(target: PostgresTarget, name: Any,
                     on_exit: Callable[[Callable[[], None]], None],
                     notify: Callable[[Any], None]) -> tuple[PostgresStore, list[int]]:
    """Open the pool of ``target`` and migrate the database; returns the store and the
    migrations applied. ``on_exit(release)`` is called before any connection opens."""
    store = PostgresStore(target, name, notify)
    on_exit(store.release)
    try:
        applied = await store.open()
    except Exception as e:
        if not is_lost(e):
            raise  # refused credentials, no such database, a schema too new: not passing
        # The server is unreachable (a Repo restarted during an outage; ``hearth serve``
        # checks it before the first start): serve as unavailable and wait for it.
        store.available = False
        store.down_since = time.monotonic()
        store.last_error = describe_failure(e)
        notify(("lost", e))
        return store, []
    return store, applied


SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)


async def current_version(conn: Any) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


async def migrate(conn: Any, where: str) -> list[int]:
    """Apply the pending migrations on ``conn`` (a raw asyncpg connection), under the
    migration lock; returns the numbers applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(SCHEMA_TABLE)
        current = await current_version(conn)
        refusal = too_new(current, where)
        if refusal is not None:
            raise SchemaTooNew(refusal)
        applied = []
        for version, name, sql in MIGRATIONS:
            if version <= current:
                continue
            async with conn.transaction():
                for statement in statements(body(version, sql, DIALECT)):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)"
                    " VALUES ($1, $2, $3)", version, name, time.time())
            applied.append(version)
        return applied
    finally:
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
