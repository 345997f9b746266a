"""``hearth db migrate|status|copy``, and ``hearth serve`` refusing a PostgreSQL server it
cannot use: the exit status and what an operator reads."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import asyncpg
import pytest

import otp
from contexts import chat, posts
from contexts.accounts import Accounts
from contexts.tokens import Tokens
from hearth.config import AuthConfig
from hearth.testing.postgres import Cluster
from otp import PubSub, dirty_pool_spec
from store import NAME as REPO
from store import Repo, schema
from store.migrations import MIGRATIONS
from tests.actors._tree import supervised

from .conftest import create_database

CONFIG = """
[server]
port = 0

[auth]
bcrypt_cost = 4
secret_key = "a-db-cli-secret-key-0123456789abcdefghijklm"
"""
PASSWORD = "correct horse battery"


async def hearth(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """``hearth ARGS --config hearth.toml`` in ``cwd``: exit status, stdout, stderr."""
    (cwd / "hearth.toml").write_text(CONFIG)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hearth", *args, "--config", "hearth.toml", cwd=cwd,
        env={**clean, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# -- hearth serve ------------------------------------------------------------------------------


async def test_an_unreachable_server_stops_the_start_with_exit_2(tmp_path: Path,
                                                                 cluster: Cluster) -> None:
    nobody = f"postgresql://hearth@127.0.0.1:{cluster.port + 1}/hearth"
    code, _, err = await hearth(tmp_path, "serve", HEARTH_REPO_URL=nobody)

    assert code == 2
    assert "configuration error: repo.url: cannot connect to" in err
    assert "cannot reach the server" in err


async def test_a_refused_password_stops_the_start_with_exit_2_and_is_not_shown(
    tmp_path: Path, cluster: Cluster
) -> None:
    wrong = cluster.url(tcp=True, password="not-the-password")
    code, _, err = await hearth(tmp_path, "serve", HEARTH_REPO_URL=wrong)

    assert code == 2
    assert "repo.url: cannot connect to" in err and "the password was refused" in err
    assert "not-the-password" not in err and "hearth:***@127.0.0.1" in err


async def test_a_url_of_no_known_database_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    code, _, err = await hearth(tmp_path, "serve", HEARTH_REPO_URL="mysql://db/hearth")

    assert code == 2
    assert "HEARTH_REPO_URL: repo.url must be empty, sqlite:///path or postgresql://" in err


async def test_a_missing_database_stops_the_start_with_exit_2(tmp_path: Path,
                                                              cluster: Cluster) -> None:
    code, _, err = await hearth(tmp_path, "serve", HEARTH_REPO_URL=cluster.url("nosuchdb"))

    assert code == 2
    assert "repo.url: cannot connect to" in err and "nosuchdb" in err


# -- hearth db migrate and status ------------------------------------------------------------


async def test_migrate_then_status_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    before = await hearth(tmp_path, "db", "status", "--url", pg_url)
    migrated = await hearth(tmp_path, "db", "migrate", "--url", pg_url)
    again = await hearth(tmp_path, "db", "migrate", "--url", pg_url)
    after = await hearth(tmp_path, "db", "status", "--url", pg_url)

    last = MIGRATIONS[-1][0]
    assert before[0] == 0 and f"schema version 0 (this code knows {last})" in before[1]
    assert before[1].count("pending") == len(MIGRATIONS)
    assert migrated[0] == 0 and f"at version {last}" in migrated[1]
    assert again[:2] == (0, f"{pg_url}: at version {last}, nothing to apply\n")
    assert after[0] == 0 and after[1].count("applied") == len(MIGRATIONS)
    assert "pending" not in after[1]


async def test_status_of_a_sqlite_file_that_does_not_exist_fails(tmp_path: Path) -> None:
    code, _, err = await hearth(tmp_path, "db", "status")

    assert code == 1
    assert "cannot read sqlite:///data/hearth.db" in err
    assert not (tmp_path / "data" / "hearth.db").exists()  # status changes nothing


# -- hearth db copy ----------------------------------------------------------------------------


async def fill(db: Path) -> None:
    """A SQLite database as a node leaves it: users, tokens, rooms, messages, posts, likes."""
    otp.trap_exit(True)
    async with supervised([Repo.child_spec(str(db), name=REPO), dirty_pool_spec(2),
                           PubSub.child_spec(id="PubSub", name="test.pubsub")]):
        accounts = Accounts(AuthConfig(bcrypt_cost=4))
        users = [await accounts.register(f"u{n}@example.com", PASSWORD, f"U{n}")
                 for n in range(5)]
        await Tokens(AuthConfig(), b"k" * 32).issue(users[0])
        room = await chat.create_room("kitchen", "Kitchen")
        for n in range(30):
            await chat.post_message(room.id, users[n % 5].id, f"message {n}",
                                    client_id=f"c{n}")
        for n in range(12):
            post = await posts.create_post(users[n % 5].id, f"Post {n}", "body",
                                           pubsub="test.pubsub")
            for fan in users[: n % 5]:
                await posts.like_post(post.id, fan.id, pubsub="test.pubsub")
        # Ids with gaps: the copy keeps them, and the next id comes after the largest.
        await Repo.execute("DELETE FROM posts WHERE id = ?", (post.id - 3,))


def sqlite_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type ="
                                            " 'table' AND name != 'schema_migrations'")]
        return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                for name in names}
    finally:
        conn.close()


async def test_copy_moves_every_row_to_postgresql_verified_by_counts(tmp_path: Path,
                                                                     pg_url: str) -> None:
    db = tmp_path / "data" / "hearth.db"
    await fill(db)
    expected = sqlite_counts(db)
    source = sqlite3.connect(db)
    liked = [(r[0], r[1]) for r in source.execute("SELECT id, likes FROM posts ORDER BY id")]
    source.close()

    code, out, err = await hearth(tmp_path, "db", "copy", "--from", f"sqlite:///{db}",
                                  "--to", pg_url)

    assert (code, err) == (0, "")
    assert f"copied {sum(expected.values())} rows in {len(expected)} tables" in out
    assert "  messages                    30 rows" in out
    conn = await asyncpg.connect(pg_url)
    try:
        copied = {name: await conn.fetchval(f'SELECT COUNT(*) FROM "{name}"')
                  for name in expected}
        top_post = await conn.fetchval("SELECT MAX(id) FROM posts")
        likes = await conn.fetch("SELECT id, likes FROM posts ORDER BY id")
    finally:
        await conn.close()
    assert copied == expected
    assert [(r["id"], r["likes"]) for r in likes] == liked
    # The sequences start after the largest copied id: a new row takes the next one.
    otp.trap_exit(True)
    async with supervised([Repo.child_spec(pg_url, name=REPO)]):
        result = await Repo.execute(
            "INSERT INTO posts (author_id, title, body, created_at, updated_at)"
            " VALUES (1, 'new', 'b', 1, 1) RETURNING id")
        tables = await Repo.transaction(schema.tables)
    assert result.rows[0]["id"] == top_post + 1
    assert set(tables) == set(expected)


async def test_copy_refuses_a_target_with_data_and_leaves_it_as_it_was(tmp_path: Path,
                                                                       pg_url: str) -> None:
    db = tmp_path / "data" / "hearth.db"
    await fill(db)
    first = await hearth(tmp_path, "db", "copy", "--from", f"sqlite:///{db}", "--to", pg_url)
    assert first[0] == 0

    code, _, err = await hearth(tmp_path, "db", "copy", "--from", f"sqlite:///{db}",
                                "--to", pg_url)

    assert code == 1
    assert "holds data already (users: 5 rows): copy into an empty database" in err
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM users") == 5
    finally:
        await conn.close()


async def test_copy_into_an_unreachable_server_exits_2_naming_the_option(
    tmp_path: Path, cluster: Cluster
) -> None:
    db = tmp_path / "data" / "hearth.db"
    await fill(db)
    await create_database(cluster, "copy_target")
    wrong = cluster.url("copy_target", tcp=True, password="wrong")

    code, _, err = await hearth(tmp_path, "db", "copy", "--to", wrong)

    assert code == 2
    assert err.startswith("hearth: --to: cannot connect to") and "wrong" not in err


@pytest.mark.parametrize("flag", ["--from", "--to"])
async def test_copy_with_a_bad_url_exits_2_naming_the_option(tmp_path: Path, flag: str) -> None:
    other = "--to" if flag == "--from" else "--from"
    code, _, err = await hearth(tmp_path, "db", "copy", flag, "ftp://x/y", other,
                                "sqlite:///x.db")

    assert code == 2
    assert f"hearth: {flag}: unknown scheme 'ftp'" in err


async def test_copy_refuses_a_database_into_itself(tmp_path: Path, pg_url: str) -> None:
    code, _, err = await hearth(tmp_path, "db", "copy", "--to", pg_url,
                                HEARTH_REPO_URL=pg_url)

    assert code == 1
    assert f"{pg_url} is both the source and the target" in err
