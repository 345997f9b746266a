"""The Repo: a real SQLite file in WAL mode, migrations recorded, writes serialised, bad
statements answered with their error, and a database from newer code refused."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import otp
from otp import StartError
from store import DatabaseError, IntegrityError, Repo, RepoUnavailable, SchemaTooNew
from store import repo as repo_module
from store.migrations import MIGRATIONS
from tests.actors._tree import supervised

NAME = "test.repo"

# The SQLite backend itself (WAL, file modes, threads, descriptors, the write lock), the same
# in every run; tests/store has the PostgreSQL backend's.
pytestmark = pytest.mark.sqlite_only("the SQLite backend's own file, threads and locks")


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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_only_the_owner_can_read_the_database_and_its_directory(tmp_path: Path) -> None:
    db = tmp_path / "data" / "hearth.db"
    old = os.umask(0o022)  # the usual umask, whatever the test runner's
    try:
        await start(db)
        await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('p', 'P', 1)",
                           repo=NAME)
    finally:
        os.umask(old)

    assert mode(db.parent) == 0o700
    files = [db, db.with_name("hearth.db-wal"), db.with_name("hearth.db-shm")]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


async def test_a_database_others_could_read_is_made_private_at_start(tmp_path: Path) -> None:
    db = tmp_path / "hearth.db"
    pid = await start(db)
    await otp.stop(pid)
    db.chmod(0o644)

    await start(db)

    assert mode(db) == 0o600


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

    with pytest.raises(IntegrityError):
        await Repo.execute(insert, ("a", "again", 1.0), repo=NAME)
    with pytest.raises(DatabaseError, match="no such table: nowhere"):
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


# -- kills: a Repo that dies for any reason leaves nothing behind ------------------------------


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def until(condition: Callable[[], Any], within: float = 10.0) -> None:
    """Return once ``condition()`` is true (checked at every turn of the loop); fail the
    test if it is not within ``within``."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0)


def connection_threads() -> list[threading.Thread]:
    """The threads of the database connections open now (aiosqlite runs one each)."""
    return [t for t in threading.enumerate() if "connection_worker" in t.name]


def restarted(before: otp.Pid) -> Callable[[], bool]:
    """Whether a Repo other than ``before`` is registered (it may still be starting)."""
    return lambda: otp.whereis(NAME) not in (None, before)


def take_the_write_lock(db: Path, busy_timeout: float) -> None:
    """From outside the node, as a backup or a second process would: BEGIN IMMEDIATE."""
    outside = sqlite3.connect(db, timeout=busy_timeout, isolation_level=None)
    try:
        outside.execute("BEGIN IMMEDIATE")
        outside.execute("ROLLBACK")
    finally:
        outside.close()


async def test_a_repo_killed_while_it_takes_the_write_lock_gives_it_back(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hearth.db"
    # The exit must give the lock back, not a collection that may come a minute later.
    gc.disable()
    try:
        await kill_while_it_takes_the_write_lock(db)
    finally:
        gc.enable()


async def kill_while_it_takes_the_write_lock(db: Path) -> None:
    async with supervised([Repo.child_spec(str(db), 1, name=NAME)]):
        pid = otp.whereis(NAME)
        assert pid is not None
        connections = connection_threads()
        # Someone else holds the lock, so the Repo's BEGIN IMMEDIATE is still waiting for it
        # when the kill comes; it gets the lock only after the Repo is gone.
        holder = sqlite3.connect(db, timeout=0, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")

        async def insert(conn: aiosqlite.Connection) -> None:
            await conn.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('k', 'K', 1)")

        write = asyncio.ensure_future(Repo.transaction(insert, repo=NAME))
        await until(lambda: (otp.process_info(pid) or {}).get("status") == "suspended")
        await asyncio.sleep(0)  # the turn in which the call's task sends BEGIN IMMEDIATE
        otp.exit(pid, "kill")
        await until(restarted(pid))
        holder.execute("COMMIT")
        holder.close()

        with pytest.raises(otp.ProcessExited):
            await write  # it was in flight: the caller learns the Repo died under it
        # The killed Repo's connection did not keep the lock: others write at once.
        await asyncio.to_thread(take_the_write_lock, db, 2.0)
        result = await Repo.execute("INSERT INTO rooms (slug, name, created_at)"
                                    " VALUES ('after', 'After', 1)", repo=NAME)
        assert result.rowcount == 1
        assert await Repo.fetch_all("SELECT 1 FROM rooms WHERE slug = 'k'", repo=NAME) == []
        # And the killed Repo's connections, each a thread, are closed.
        await until(lambda: not any(t.is_alive() for t in connections))


async def test_reads_during_a_restart_wait_for_the_restarted_repo(tmp_path: Path) -> None:
    async with supervised([Repo.child_spec(str(tmp_path / "hearth.db"), 1, name=NAME)]):
        killed: list[threading.Thread] = []
        for _ in range(3):
            pid = otp.whereis(NAME)
            assert pid is not None
            killed += connection_threads()
            otp.exit(pid, "kill")
            await until(restarted(pid))  # registered, and most likely still in its init

            rows = await Repo.fetch_all("SELECT COUNT(*) FROM schema_migrations", repo=NAME)
            assert rows[0][0] == len(MIGRATIONS)
        await until(lambda: not any(t.is_alive() for t in killed))


async def test_a_restarted_repo_opens_only_once_the_killed_ones_connections_closed(
    tmp_path: Path,
) -> None:
    # SQLite cannot close a connection's file while other connections of the process hold
    # locks on it: had the restarted Repo opened first, the killed writer's descriptor would
    # stay open.
    db = tmp_path / "hearth.db"
    async with supervised([Repo.child_spec(str(db), 1, name=NAME)]):
        before = db_descriptors(db)
        pid = otp.whereis(NAME)
        assert pid is not None
        writer = otp.gen_server.table_of(NAME, Repo).writer
        slow = threading.Event()  # the killed writer's close, made slow
        writer._tx.put_nowait((asyncio.get_running_loop().create_future(),
                               lambda: slow.wait(10)))
        threading.Timer(0.3, slow.set).start()
        otp.exit(pid, "kill")
        await until(restarted(pid))
        await until(lambda: otp.gen_server.table_of(NAME, Repo) is not None)

        await until(lambda: not writer._thread.is_alive())
        assert db_descriptors(db) == before
        assert (await Repo.fetch_all("SELECT COUNT(*) FROM rooms", repo=NAME))[0][0] >= 0


def db_descriptors(db: Path) -> int:
    """How many descriptors of this process are open on the database file itself."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}") == str(db)
    return found


async def test_a_repo_that_stays_down_is_a_clear_retryable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repo_module, "RESTART_WAIT", 0.2)
    pid = await start(tmp_path / "hearth.db")
    await otp.stop(pid)

    with pytest.raises(RepoUnavailable) as read:
        await Repo.fetch_all("SELECT 1", repo=NAME)
    with pytest.raises(RepoUnavailable):
        await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('x', 'X', 1)",
                           repo=NAME)

    assert isinstance(read.value, otp.NoProcess)  # what the runtime's callers catch already
    assert NAME in str(read.value)


async def test_ten_kills_under_write_load_leave_no_thread_descriptor_or_lock_behind(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hearth.db"
    otp.trap_exit(True)
    # Ten kills in a few seconds are past the default restart intensity.
    sup = await otp.Supervisor.start_link([Repo.child_spec(str(db), 2, name=NAME)],
                                          max_restarts=100)
    assert sup is not None
    try:
        await kill_ten_times_under_load(db)
    finally:
        ref = otp.monitor(sup)
        otp.exit(sup, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is otp.Down and m.ref == ref)


async def kill_ten_times_under_load(db: Path) -> None:
    if True:
        # Counted once each reader has read (a reader opens the -wal file then) and the
        # executor has the thread it keeps.
        await asyncio.gather(*(Repo.fetch_all("SELECT COUNT(*) FROM rooms", repo=NAME)
                               for _ in range(4)))
        await asyncio.to_thread(take_the_write_lock, db, 5.0)
        threads, files = threading.active_count(), open_files()
        stop = asyncio.Event()
        failures: list[BaseException] = []
        stored = [0]

        async def insert(conn: aiosqlite.Connection) -> None:
            await conn.execute("INSERT INTO rooms (slug, name, created_at)"
                               " VALUES (hex(randomblob(8)), 'W', 1)")

        async def writer(n: int) -> None:
            while not stop.is_set():
                try:
                    if n % 2:
                        await Repo.transaction(insert, repo=NAME)
                    else:
                        await Repo.execute("INSERT INTO rooms (slug, name, created_at)"
                                           " VALUES (hex(randomblob(8)), 'W', 1)", repo=NAME)
                    await Repo.fetch_all("SELECT COUNT(*) FROM rooms", repo=NAME)
                    stored[0] += 1
                except otp.ProcessExited:
                    pass  # in flight at a kill (RepoUnavailable is one too): the retryable kind
                except Exception as e:  # anything else is the defect
                    failures.append(e)

        writers = [asyncio.ensure_future(writer(n)) for n in range(100)]
        try:
            for _ in range(10):
                before = stored[0]
                await until(lambda before=before: stored[0] > before + 100)  # type: ignore[misc]
                pid = otp.whereis(NAME)
                assert pid is not None
                otp.exit(pid, "kill")
                await until(restarted(pid))
                await asyncio.to_thread(take_the_write_lock, db, 5.0)
        finally:
            stop.set()
            await asyncio.gather(*writers)

        assert failures == []
        await until(lambda: threading.active_count() <= threads and open_files() <= files)
        assert threading.active_count() == threads
        # At most as many: SQLite keeps a closed connection's descriptor while another
        # connection of this process holds a lock on the file, so the count seen first may
        # include one of those.
        assert open_files() <= files


def handles_on(db: Path) -> int:
    """Descriptors of this process open on the database file itself (not -wal or -shm)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == str(db)
    return count


async def test_a_cursor_kept_by_a_dead_caller_does_not_keep_the_database_open(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hearth.db"
    await start(db)
    await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('a', 'A', 1)",
                       repo=NAME)
    await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('b', 'B', 1)",
                       repo=NAME)
    kept: list[Any] = []

    async def read_half(conn: aiosqlite.Connection) -> None:
        # A query left mid-way, its cursor kept where nothing frees it: what a caller killed
        # inside a transaction leaves in a reference cycle the collector has not visited.
        cur = await conn.execute("SELECT slug FROM rooms")
        await cur.fetchone()
        kept.append(cur)

    await Repo.transaction(read_half, repo=NAME)
    assert handles_on(db) > 0

    await otp.stop(NAME, "shutdown")

    assert kept  # still referenced: only closing it frees its statement
    assert handles_on(db) == 0
