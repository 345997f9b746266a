"""One schema history on both backends: every migration runs on PostgreSQL as written or
with a body of its own; a database migrated by newer code is refused; nodes starting at once
on an empty database migrate it exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

import otp
from otp import StartError
from store import Repo, SchemaTooNew
from store import postgres as pg_backend
from store import sqlite as sqlite_backend
from store.migrations import MIGRATIONS, POSTGRESQL, body, known_version

# What SQLite accepts and PostgreSQL does not, or reads otherwise.
SQLITE_ONLY = {
    "INTEGER PRIMARY KEY (SQLite's row id; no default on PostgreSQL)":
        r"INTEGER\s+PRIMARY\s+KEY",
    "REAL (four bytes on PostgreSQL)": r"\bREAL\b",
    "INSERT OR IGNORE / REPLACE": r"INSERT\s+OR\s+",
    "AUTOINCREMENT": r"AUTOINCREMENT",
    "strftime / datetime functions": r"\b(strftime|datetime|julianday)\s*\(",
    "INTEGER references (ids are BIGINT on PostgreSQL)": r"INTEGER[^,]*REFERENCES",
}


@pytest.mark.parametrize(("version", "name", "sql"), MIGRATIONS,
                         ids=[str(m[0]) for m in MIGRATIONS])
def test_what_postgresql_runs_has_no_sqlite_only_sql(version: int, name: str, sql: str) -> None:
    ran = body(version, sql, "postgresql")
    found = [what for what, pattern in SQLITE_ONLY.items()
             if re.search(pattern, ran, re.IGNORECASE)]
    assert found == [], f"migration {version} ({name}) needs a body in POSTGRESQL"


def test_postgresql_bodies_are_only_for_migrations_that_exist() -> None:
    assert set(POSTGRESQL) <= {version for version, _, _ in MIGRATIONS}


def test_sqlite_runs_its_own_sql_unchanged() -> None:
    assert all(body(v, sql, "sqlite") is sql for v, _, sql in MIGRATIONS)


# -- on a server -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def test_an_empty_database_is_migrated_to_the_last_version(pg_url: str) -> None:
    async with connected(pg_url) as conn:
        applied = await pg_backend.migrate(conn, "test")
        again = await pg_backend.migrate(conn, "test")
        recorded = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY 1")
        lobby = await conn.fetch("SELECT slug FROM rooms")

    assert applied == [version for version, _, _ in MIGRATIONS]
    assert again == []
    assert [(r["version"], r["name"]) for r in recorded] == [(v, n) for v, n, _ in MIGRATIONS]
    assert [r["slug"] for r in lobby] == ["lobby"]


async def test_nodes_starting_at_once_on_an_empty_database_migrate_it_once(pg_url: str) -> None:
    async def one() -> list[int]:
        async with connected(pg_url) as conn:
            return await pg_backend.migrate(conn, "test")

    results = await asyncio.gather(*(one() for _ in range(4)))

    everything = [version for version, _, _ in MIGRATIONS]
    assert sorted(results, key=len) == [[], [], [], everything]
    async with connected(pg_url) as conn:
        counts = await conn.fetch("SELECT version, COUNT(*) AS n FROM schema_migrations"
                                  " GROUP BY version")
    assert {r["version"]: r["n"] for r in counts} == dict.fromkeys(everything, 1)


async def test_repos_starting_at_once_on_an_empty_database_both_serve(pg_url: str) -> None:
    otp.trap_exit(True)
    pids = await asyncio.gather(Repo.start_link(pg_url, name="test.repo.a"),
                                Repo.start_link(pg_url, name="test.repo.b"))
    try:
        for name in ("test.repo.a", "test.repo.b"):
            row = await Repo.fetch_one("SELECT COUNT(*) FROM schema_migrations", repo=name)
            assert row is not None and row[0] == len(MIGRATIONS)
    finally:
        for pid in pids:
            await otp.stop(pid)


async def test_a_postgresql_database_written_by_newer_code_is_refused(pg_url: str) -> None:
    async with connected(pg_url) as conn:
        await pg_backend.migrate(conn, "test")
        await conn.execute("INSERT INTO schema_migrations (version, name, applied_at)"
                           " VALUES ($1, 'from the future', 0)", known_version() + 1)
    otp.trap_exit(True)

    with pytest.raises(StartError) as refused:
        await Repo.start_link(pg_url, name="test.repo")

    assert isinstance(refused.value.reason, SchemaTooNew)
    assert "newer Hearth" in str(refused.value.reason)
    assert otp.whereis("test.repo") is None
    async with connected(pg_url) as conn:  # and nothing was changed
        assert await conn.fetchval("SELECT MAX(version) FROM schema_migrations") == (
            known_version() + 1)


async def test_sqlite_nodes_starting_at_once_on_one_file_migrate_it_once(tmp_path: Path) -> None:
    db = tmp_path / "hearth.db"
    sqlite_backend._prepare(db)

    async def one() -> list[int]:
        conn = await sqlite_backend.open_plain(db)
        try:
            return await sqlite_backend.migrate(conn, str(db))
        finally:
            await conn.close()

    results = await asyncio.gather(*(one() for _ in range(3)))

    # Each takes the write lock per migration, so they may share the work: each migration
    # once.
    assert sorted(v for applied in results for v in applied) == [v for v, _, _ in MIGRATIONS]
