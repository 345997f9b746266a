"""The Repo on PostgreSQL: what contexts rely on behaves as on SQLite (rows by name and
position, RETURNING, constraint errors that leave the Repo serving, transactions that roll
back whole), and what only a server has (a statement timeout, callers cancelled mid-way)
leaves the pool usable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

import otp
from store import Connection, DatabaseError, IntegrityError, Repo
from store.url import parse

NAME = "test.repo"
INSERT_ROOM = "INSERT INTO rooms (slug, name, created_at) VALUES (?, ?, ?)"


@contextlib.asynccontextmanager
async def repo(url: str, **options: float) -> AsyncIterator[otp.Pid]:
    otp.trap_exit(True)
    pid = await Repo.start_link(parse(url, **options), name=NAME)  # type: ignore[arg-type]
    assert pid is not None
    try:
        yield pid
    finally:
        if otp.is_alive(pid):
            await otp.stop(pid)


async def test_rows_read_by_name_and_position_and_ids_by_returning(pg_url: str) -> None:
    async with repo(pg_url):
        result = await Repo.execute(INSERT_ROOM + " RETURNING id, slug", ("a", "A", 1),
                                    repo=NAME)
        row = await Repo.fetch_one("SELECT id, slug, created_at FROM rooms WHERE slug = ?",
                                   ("a",), repo=NAME)

    assert result.rowcount == 1 and result.lastrowid is None
    assert result.rows[0]["slug"] == "a"
    assert row is not None
    assert (row["id"], row[1], row["created_at"]) == (result.rows[0][0], "a", 1.0)
    assert type(row["created_at"]) is float and list(row.keys()) == ["id", "slug", "created_at"]


async def test_a_broken_constraint_is_the_callers_error_and_the_repo_lives_on(pg_url: str,
                                                                             ) -> None:
    async with repo(pg_url) as pid:
        await Repo.execute(INSERT_ROOM, ("a", "A", 1.0), repo=NAME)

        with pytest.raises(IntegrityError) as taken:
            await Repo.execute(INSERT_ROOM, ("a", "again", 1.0), repo=NAME)
        with pytest.raises(DatabaseError, match='relation "nowhere" does not exist'):
            await Repo.execute("INSERT INTO nowhere VALUES (?)", (1,), repo=NAME)
        with pytest.raises(IntegrityError):
            await Repo.execute("INSERT INTO messages (room_id, body, created_at)"
                               " VALUES (?, 'x', 1)", (12345,), repo=NAME)

        assert otp.is_alive(pid)
        assert taken.value.sqlstate == "23505"  # type: ignore[attr-defined]
        result = await Repo.execute(INSERT_ROOM, ("b", "B", 1.0), repo=NAME)
        assert result.rowcount == 1


async def test_a_failed_transaction_leaves_nothing_behind(pg_url: str) -> None:
    async def half_done(conn: Connection) -> None:
        await conn.execute(INSERT_ROOM, ("x", "X", 1))
        raise ValueError("changed my mind")

    async def fails_inside(conn: Connection) -> None:
        await conn.execute(INSERT_ROOM, ("y", "Y", 1))
        await conn.execute(INSERT_ROOM, ("y", "again", 1))

    async with repo(pg_url):
        with pytest.raises(ValueError, match="changed my mind"):
            await Repo.transaction(half_done, repo=NAME)
        with pytest.raises(IntegrityError):
            await Repo.transaction(fails_inside, repo=NAME)

        rows = await Repo.fetch_all("SELECT slug FROM rooms WHERE slug IN ('x', 'y')",
                                    repo=NAME)
    assert rows == []


async def test_a_transaction_sees_its_own_writes_and_counts_rows(pg_url: str) -> None:
    async def work(conn: Connection) -> tuple[int, int, str]:
        await conn.execute_many(INSERT_ROOM, [("p", "P", 1), ("q", "Q", 2)])
        changed = await conn.execute("UPDATE rooms SET name = 'Z' WHERE slug IN ('p', 'q')")
        async with conn.execute("SELECT name FROM rooms WHERE slug = ?", ("p",)) as cur:
            row = await cur.fetchone()  # the aiosqlite form reads on
        count = await conn.fetch_one("SELECT COUNT(*) FROM rooms")
        assert row is not None and count is not None
        return changed.rowcount, count[0], row["name"]

    async with repo(pg_url):
        assert await Repo.transaction(work, repo=NAME) == (2, 3, "Z")  # and the lobby


async def test_a_statement_past_the_timeout_is_cancelled_and_the_repo_serves_on(pg_url: str,
                                                                                ) -> None:
    async with repo(pg_url, statement_timeout=0.2):
        with pytest.raises(DatabaseError, match="statement timeout") as slow:
            await Repo.fetch_all("SELECT pg_sleep(5)", repo=NAME)
        assert slow.value.sqlstate == "57014"  # type: ignore[attr-defined]
        assert Repo.describe(NAME)["available"]
        assert await Repo.fetch_one("SELECT 1", repo=NAME) is not None


async def test_a_caller_cancelled_inside_a_transaction_commits_nothing(pg_url: str) -> None:
    inside = asyncio.Event()

    async def stuck(conn: Connection) -> None:
        await conn.execute(INSERT_ROOM, ("c", "C", 1))
        inside.set()
        await conn.fetch_all("SELECT pg_sleep(30)")

    async with repo(pg_url, pool_size=1):
        task = asyncio.ensure_future(Repo.transaction(stuck, repo=NAME))
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The pool's one connection is back, rolled back, and serves the next caller.
        rows = await Repo.fetch_all("SELECT slug FROM rooms WHERE slug = 'c'", repo=NAME)
        assert rows == []
        await Repo.execute(INSERT_ROOM, ("d", "D", 1), repo=NAME)


async def test_named_parameters_are_refused_with_a_clear_error(pg_url: str) -> None:
    async with repo(pg_url):
        with pytest.raises(TypeError, match="SQLite-only"):
            await Repo.fetch_all("SELECT :a", {"a": 1}, repo=NAME)  # type: ignore[arg-type]


async def test_the_repo_says_what_it_is_on_without_the_password(cluster: object,
                                                                pg_url: str) -> None:
    tcp = pg_url.replace("hearth@", "hearth:sekrit@")
    async with repo(pg_url):
        info = Repo.describe(NAME)
        assert Repo.dialect(NAME) == "postgresql"
    assert info == {"backend": "postgresql", "url": pg_url, "available": True}
    assert parse(tcp).shown == pg_url.replace("hearth@", "hearth:***@")
