"""The PostgreSQL server killed mid-run (``pg_ctl stop -m immediate``, as a crash): the Repo
reports the outage and does not crash, callers get errors rather than hang, and once the
server is back writes resume with nothing that was acknowledged lost."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator

import asyncpg
import pytest

import otp
from hearth.testing.postgres import Cluster, find_binaries, start_cluster
from store import RESTART_WAIT, Connection, Repo, RepoLost, RepoUnavailable
from store import postgres as pg_backend
from tests.actors._tree import supervised
from tests.actors.test_repo import until

NAME = "test.repo"
WRITERS = 8
BATCH = 40
"""Writes acknowledged before the kill, and again after the restart."""


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own: it is stopped and started again."""
    if find_binaries() is None:
        pytest.skip("no PostgreSQL server binaries: apt-get install postgresql")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


class Said(logging.Handler):
    """Sets an event when the Repo logs a line holding ``words``."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.event = asyncio.Event()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if self.words in line:
            self.lines.append(line)
            self.event.set()


async def test_a_killed_server_is_reported_refused_and_resumed_with_nothing_lost(
    own_cluster: Cluster,
) -> None:
    url = own_cluster.url("outage")
    admin = await asyncpg.connect(own_cluster.url())
    await admin.execute("CREATE DATABASE outage")
    await admin.close()
    conn = await asyncpg.connect(url)
    await pg_backend.migrate(conn, "test")
    await conn.close()

    log = logging.getLogger("store.repo")
    lost, back = Said("lost the connection"), Said("is back after")
    for handler in (lost, back):
        log.addHandler(handler)
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    others: list[BaseException] = []
    numbers = itertools.count()
    stop = asyncio.Event()
    first_failure = asyncio.Event()
    goal = [BATCH]  # acknowledged writes to wait for
    reached = asyncio.Event()

    async def insert(conn: Connection, slug: str) -> None:
        await conn.execute("INSERT INTO rooms (slug, name, created_at) VALUES (?, 'W', 1)",
                           (slug,))

    async def writer(n: int) -> None:
        while not stop.is_set():
            slug = f"w{next(numbers)}"
            try:
                if n % 2:
                    await Repo.transaction(lambda conn, slug=slug: insert(conn, slug),
                                           repo=NAME)
                else:
                    await Repo.execute("INSERT INTO rooms (slug, name, created_at)"
                                       " VALUES (?, 'W', 1)", (slug,), repo=NAME)
            except (RepoUnavailable, RepoLost) as e:
                failures.append(e)
                first_failure.set()
                continue
            except Exception as e:  # anything else is the defect
                others.append(e)
                stop.set()
                reached.set()
                return
            acknowledged.append(slug)
            if len(acknowledged) >= goal[0]:
                reached.set()

    try:
        async with supervised([Repo.child_spec(url, name=NAME)]):
            pid = otp.whereis(NAME)
            writers = [asyncio.ensure_future(writer(n)) for n in range(WRITERS)]
            try:
                await reached.wait()
                await asyncio.to_thread(own_cluster.stop, "immediate")

                await lost.event.wait()
                await first_failure.wait()
                info = Repo.describe(NAME)
                assert info["available"] is False and "error" in info
                # A caller that comes now is told, after a bounded wait, not left hanging.
                async with asyncio.timeout(RESTART_WAIT * 5):
                    with pytest.raises(RepoUnavailable, match="cannot reach its database"):
                        await Repo.fetch_all("SELECT 1", repo=NAME)

                await asyncio.to_thread(own_cluster.start)
                await back.event.wait()
                resumed_at = len(acknowledged)
                goal[0] = resumed_at + BATCH
                reached.clear()
                await reached.wait()
            finally:
                stop.set()
                await asyncio.gather(*writers)
            assert otp.whereis(NAME) == pid  # it never crashed: the same Repo throughout
            assert Repo.describe(NAME)["available"] is True
            stored = {row["slug"] for row in await Repo.fetch_all(
                "SELECT slug FROM rooms WHERE name = 'W'", repo=NAME)}
    finally:
        for handler in (lost, back):
            log.removeHandler(handler)

    assert others == []
    assert failures  # callers saw the outage ...
    assert len(lost.lines) == 1 and len(back.lines) == 1  # ... reported once, and its end
    missing = [slug for slug in acknowledged if slug not in stored]
    assert missing == []  # nothing acknowledged was lost
    assert len(acknowledged) - resumed_at >= BATCH  # writes resumed


async def test_a_repo_killed_while_the_server_is_down_restarts_and_waits_for_it(
    own_cluster: Cluster,
) -> None:
    url = own_cluster.url("restarts")
    admin = await asyncpg.connect(own_cluster.url())
    await admin.execute("CREATE DATABASE restarts")
    await admin.close()
    log = logging.getLogger("store.repo")
    back = Said("is back after")
    log.addHandler(back)
    try:
        async with supervised([Repo.child_spec(url, name=NAME)]) as sup:
            await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('before',"
                               " 'B', 1)", repo=NAME)
            await asyncio.to_thread(own_cluster.stop, "immediate")
            # As many kills as the supervisor's restart intensity allows (3 in 5 s): each
            # restart must start, unavailable, not fail its init against the stopped server
            # (restarts that fail use the intensity up at once, and the tree gives up).
            for _ in range(3):
                pid = otp.whereis(NAME)
                assert pid is not None
                otp.exit(pid, "kill")
                await until(lambda pid=pid: otp.whereis(NAME) not in (None, pid)
                            and serving_or_not())
            assert otp.is_alive(sup)
            with pytest.raises(RepoUnavailable, match="cannot reach its database"):
                await Repo.fetch_all("SELECT 1", repo=NAME)
            assert Repo.describe(NAME)["available"] is False

            await asyncio.to_thread(own_cluster.start)
            await back.event.wait()
            await Repo.execute("INSERT INTO rooms (slug, name, created_at) VALUES ('after',"
                               " 'A', 1)", repo=NAME)
            slugs = [row["slug"] for row in await Repo.fetch_all(
                "SELECT slug FROM rooms WHERE name IN ('A', 'B') ORDER BY id",
                repo=NAME)]
    finally:
        log.removeHandler(back)
    assert slugs == ["before", "after"]


def serving_or_not() -> bool:
    """Whether the Repo at NAME is past its init (it has a store, available or not)."""
    try:
        Repo.describe(NAME)
    except (otp.NoProcess, RepoUnavailable):
        return False
    return True
