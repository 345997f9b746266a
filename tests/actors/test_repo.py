"""The Repo: a real SQLite file in WAL mode, migrations recorded, writes serialised, bad
statements answered with their error, and a database from newer code refused."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

import otp
from actors.repo import Repo, SchemaTooNew
from otp import StartError
from store.migrations import MIGRATIONS

NAME = "test.repo"


@pytest.fixture(autouse=True)
async def _close_the_repo() -> AsyncIterator[None]:
    """Stop the Repo the test started, so its connections (threads) close before the loop."""
    yield
    if otp.is_alive(NAME):
        # It may already be on its way out (its parent, the test, has ended): either way,
        # this returns once it has exited and closed its connections.
        with contextlib.suppress(otp.ProcessExited):
            await otp.stop(NAME, "shutdown")


async def start(path: Path) -> otp.Pid:
    otp.trap_exit(True)
    pid = await Repo.start_link(str(path), 2, name=NAME)
    assert pid is not None
    return pid


async def test_a_fresh_database_is_created_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "data" / "nested" / "hearth.db"

    await start(db)

    assert db.exists()  # and its directory, created on the way
    mode = await Repo.fetch_one("PRAGMA journal_mode", repo=NAME)
    assert mode is not None and mode[0] == "wal"
    applied = await Repo.fetch_all("SELECT version, name FROM schema_migrations ORDER BY version",
                                   repo=NAME)
    assert [(r["version"], r["name"]) for r in applied] == [(v, n) for v, n, _ in MIGRATIONS]


async def test_a_restart_applies_nothing_twice_and_keeps_the_data(tmp_path: Path) -> None:
    db = tmp_path / "hearth.db"
    pid = await start(db)
    await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES (?, ?, ?)",
                       ("kept", "Kept", 1.0), repo=NAME)
    await otp.stop(pid)

    await start(db)

    rows = await Repo.fetch_all("SELECT slug FROM rooms WHERE slug = ?", ("kept",), repo=NAME)
    assert [r["slug"] for r in rows] == ["kept"]
    count = await Repo.fetch_one("SELECT COUNT(*) FROM schema_migrations", repo=NAME)
    assert count is not None and count[0] == len(MIGRATIONS)


async def test_a_database_written_by_newer_code_is_refused_with_a_clear_message(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hearth.db"
    pid = await start(db)
    await otp.stop(pid)
    async with aiosqlite.connect(db) as conn:
        await conn.execute("INSERT INTO schema_migrations (version, name, applied_at)"
                           " VALUES (?, 'from the future', 0)", (MIGRATIONS[-1][0] + 1,))
        await conn.commit()

    with pytest.raises(StartError) as refused:
        await Repo.start_link(str(db), 1, name=NAME)

    assert isinstance(refused.value.reason, SchemaTooNew)
    assert "newer Hearth" in str(refused.value.reason)
    assert otp.whereis(NAME) is None


async def test_a_broken_constraint_is_the_callers_error_and_the_repo_lives_on(
    tmp_path: Path,
) -> None:
    pid = await start(tmp_path / "hearth.db")
    insert = "INSERT INTO rooms (slug, name, created_at) VALUES (?, ?, ?)"
    await Repo.execute(insert, ("a", "A", 1.0), repo=NAME)

    with pytest.raises(sqlite3.IntegrityError):
        await Repo.execute(insert, ("a", "again", 1.0), repo=NAME)
    with pytest.raises(sqlite3.OperationalError):
        await Repo.execute("INSERT INTO nowhere VALUES (?)", (1,), repo=NAME)

    assert otp.is_alive(pid)
    result = await Repo.execute(insert, ("b", "B", 1.0), repo=NAME)
    assert result.rowcount == 1 and result.lastrowid is not None


async def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    await start(tmp_path / "hearth.db")

    async def half_done(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('x', 'X', 1)")
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await Repo.transaction(half_done, repo=NAME)

    assert await Repo.fetch_all("SELECT 1 FROM rooms WHERE slug = 'x'", repo=NAME) == []


async def test_concurrent_writes_are_serialised_and_none_is_lost(tmp_path: Path) -> None:
    await start(tmp_path / "hearth.db")

    async def bump(conn: aiosqlite.Connection) -> None:
        # Read-modify-write: only correct if no other write runs in between.
        async with conn.execute("SELECT COUNT(*) FROM rooms") as cur:
            row = await cur.fetchone()
        assert row is not None
        n = row[0]
        await conn.execute("INSERT INTO rooms (slug, name, created_at) VALUES (?, ?, 1)",
                           (f"r{n}", f"R{n}"))

    await asyncio.gather(*(Repo.transaction(bump, repo=NAME) for _ in range(50)))

    rows = await Repo.fetch_all("SELECT slug FROM rooms WHERE slug LIKE 'r%'", repo=NAME)
    assert len(rows) == 50


async def test_reads_do_not_wait_for_a_long_write(tmp_path: Path) -> None:
    await start(tmp_path / "hearth.db")
    writing = asyncio.Event()
    release = asyncio.Event()

    async def slow(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('s', 'S', 1)")
        writing.set()
        await release.wait()

    write = asyncio.ensure_future(Repo.transaction(slow, repo=NAME))
    await writing.wait()

    # The write is open; a read still answers, and sees only committed data.
    assert await Repo.fetch_all("SELECT 1 FROM rooms WHERE slug = 's'", repo=NAME) == []
    release.set()
    await write
    assert len(await Repo.fetch_all("SELECT 1 FROM rooms WHERE slug = 's'", repo=NAME)) == 1
