"""Two nodes writing to one PostgreSQL database at once: what SQLite's single writer made
safe stays so under concurrent writers (row locks and conditional writes).

Each node is a Repo of its own (``test.repo.a`` and ``test.repo.b``, each with its pool) on
the same database; their callers run at once, so the server sees their transactions
interleave as two machines' would.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

import otp
from actors import rate_limiter
from actors.rate_limiter import RateLimiter
from contexts import api_keys, chat, posts
from contexts.accounts import Accounts, InvalidToken
from contexts.demo import seed_demo
from contexts.tokens import TokenError, Tokens
from contexts.validation import Conflict
from hearth.config import AuthConfig
from otp import Down, PubSub, Supervisor, dirty_pool_spec
from otp.gen_server import table_of
from store import NAME as REPO
from store import Repo
from store import postgres as pg_backend

A, B = "test.repo.a", "test.repo.b"
AUTH = AuthConfig(bcrypt_cost=4)
SECRET = b"a-secret-of-the-two-nodes-0123456789"
PUBSUB = "test.pubsub"


@contextlib.asynccontextmanager
async def two_nodes(url: str, *extra: Any, names: tuple[str, str] = (A, B)
                    ) -> AsyncIterator[None]:
    conn = await asyncpg.connect(url)
    try:
        await pg_backend.migrate(conn, "test")
    finally:
        await conn.close()
    otp.trap_exit(True)
    children = [Repo.child_spec(url, id=name, name=name) for name in names]
    children += [dirty_pool_spec(2), PubSub.child_spec(id="PubSub", name=PUBSUB), *extra]
    sup = await Supervisor.start_link(children)
    assert sup is not None
    try:
        yield
    finally:
        ref = otp.monitor(sup)
        otp.exit(sup, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is Down and m.ref == ref)


async def add_users(count: int, repo: str = A) -> list[int]:
    ids = []
    for n in range(count):
        result = await Repo.execute(
            "INSERT INTO users (email, email_norm, password_hash, display_name, created_at,"
            " updated_at) VALUES (?, ?, 'x', ?, 1, 1) RETURNING id",
            (f"u{n}@example.com", f"u{n}@example.com", f"U{n}"), repo=repo)
        ids.append(result.rows[0]["id"])
    return ids


def node(n: int) -> str:
    return (A, B)[n % 2]


async def test_likes_sent_at_once_from_two_nodes_add_up_exactly(pg_url: str) -> None:
    async with two_nodes(pg_url):
        author, *fans = await add_users(21)
        post = await posts.create_post(author, "Hello", "world", repo=A, pubsub=PUBSUB)

        liked = await asyncio.gather(*(posts.like_post(post.id, fan, repo=node(n), pubsub=PUBSUB)
                                       for n, fan in enumerate(fans)))
        twice = await asyncio.gather(
            *(posts.like_post(post.id, fans[0], repo=name, pubsub=PUBSUB) for name in (A, B)),
            return_exceptions=True)
        stored = await posts.get_post(post.id, repo=B)

    # Each caller learned the count its own like made: 1 to 20, once each.
    assert sorted(p.likes for p in liked if p is not None) == list(range(1, 21))
    assert [type(r) for r in twice] == [Conflict, Conflict]  # fans[0] liked already
    assert stored is not None and stored.likes == 20


async def test_a_refresh_token_presented_to_both_nodes_at_once_is_spent_once(pg_url: str,
                                                                             ) -> None:
    async with two_nodes(pg_url):
        [user_id] = await add_users(1)
        user = await Accounts(AUTH, repo=A).get_user(user_id)
        assert user is not None
        tokens = {name: Tokens(AUTH, SECRET, repo=name) for name in (A, B)}
        pair = await tokens[A].issue(user)

        async def get_user(uid: int) -> Any:
            return user

        outcomes = await asyncio.gather(
            *(tokens[node(n)].refresh(pair.refresh_token, get_user) for n in range(12)),
            return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, TokenError)]
        fresh = [o for o in outcomes if not isinstance(o, BaseException)]

        # Exactly one spent it; every other saw it spent (or its login revoked) ...
        assert len(fresh) == 1 and len(refused) == 11
        assert {e.code for e in refused} == {"revoked_token"}
        # ... and the reuse revoked the whole login, the winner's new tokens with it.
        with pytest.raises(TokenError, match="revoked"):
            await tokens[B].verify(fresh[0].access_token)
        with pytest.raises(TokenError, match="revoked"):
            await tokens[A].refresh(fresh[0].refresh_token, get_user)


async def test_a_reset_link_used_on_both_nodes_at_once_works_once(pg_url: str) -> None:
    async with two_nodes(pg_url):
        [user_id] = await add_users(1)
        token = "a-reset-token-from-a-mail-of-ours"
        await Repo.execute(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (hashlib.sha256(token.encode()).hexdigest(), user_id, time.time(),
             time.time() + 600), repo=A)

        outcomes = await asyncio.gather(
            *(Accounts(AUTH, repo=name).reset_password(token, f"new password {name}")
              for name in (A, B)), return_exceptions=True)

    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidToken", "User"]
    assert any(isinstance(o, InvalidToken) for o in outcomes)


async def test_the_api_key_quota_holds_when_keys_are_made_at_once(pg_url: str) -> None:
    async with two_nodes(pg_url, names=(REPO, B)):
        [user_id] = await add_users(1, repo=REPO)
        for n in range(api_keys.MAX_KEYS - 5):
            await api_keys.create_key(user_id, f"key {n}")

        # The Repo's pool runs these on as many connections at once.
        outcomes = await asyncio.gather(
            *(api_keys.create_key(user_id, f"late {n}") for n in range(12)),
            return_exceptions=True)
        live = await Repo.fetch_one("SELECT COUNT(*) FROM api_keys WHERE user_id = ?",
                                    (user_id,), repo=B)

    made = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, api_keys.ApiKeyError)]
    assert len(made) == 5 and len(refused) == 7
    assert {e.code for e in refused} == {"too_many_keys"}
    assert live is not None and live[0] == api_keys.MAX_KEYS


async def test_a_chat_retry_reaching_both_nodes_at_once_is_stored_once(pg_url: str) -> None:
    async with two_nodes(pg_url):
        [user_id] = await add_users(1)
        lobby = await chat.get_room(chat.LOBBY, repo=A)
        assert lobby is not None

        sent = await asyncio.gather(
            *(chat.post_message(lobby.id, user_id, "once", client_id="c-1", repo=node(n))
              for n in range(6)))
        count = await chat.count_messages(lobby.id, repo=B)

    assert count == 1
    assert len({m.id for m in sent}) == 1
    assert sorted(m.replay for m in sent) == [False, True, True, True, True, True]


async def test_nodes_seeding_one_empty_database_at_once_seed_it_once(pg_url: str) -> None:
    async with two_nodes(pg_url):
        seeded = await asyncio.gather(*(seed_demo(Accounts(AUTH, repo=name), repo=name)
                                        for name in (A, B)))
        users = await Repo.fetch_one("SELECT COUNT(*) FROM users", repo=B)

    assert sorted(map(len, seeded)) == [0, 4]
    assert users is not None and users[0] == 4


async def test_rate_limits_counted_on_two_nodes_add_up(pg_url: str) -> None:
    limiters = [RateLimiter.child_spec(id=f"limiter.{name}", name=f"test.limiter.{name}",
                                       init_kwargs={"repo": name}) for name in (A, B)]
    async with two_nodes(pg_url, *limiters):
        hits = {A: 30, B: 20}
        for name, count in hits.items():
            for _ in range(count):
                RateLimiter.hit("api", "key-1", 1000, 600, limiter=f"test.limiter.{name}")
        tables = [table_of(f"test.limiter.{name}", RateLimiter) for name in (A, B)]

        await asyncio.gather(*(rate_limiter._flush(t) for t in tables))  # at once
        first = await Repo.fetch_one(
            "SELECT count FROM rate_limits WHERE bucket = 'api' AND key = 'key-1'", repo=A)
        known = [RateLimiter.check("api", "key-1", 1000, 600, limiter=f"test.limiter.{name}")
                 for name in (A, B)]
        # One more event each: each node's next flush adds it and reads back the sum.
        for name, table in zip((A, B), tables, strict=True):
            RateLimiter.hit("api", "key-1", 1000, 600, limiter=f"test.limiter.{name}")
            await rate_limiter._flush(table)
        stored = await Repo.fetch_one(
            "SELECT count FROM rate_limits WHERE bucket = 'api' AND key = 'key-1'", repo=A)
        seen = [RateLimiter.check("api", "key-1", 1000, 600, limiter=f"test.limiter.{name}")
                for name in (A, B)]

    assert first is not None and first[0] == 50  # neither node's events lost
    assert min(d.remaining for d in known) == 1000 - 50  # the later flush read the sum
    assert stored is not None and stored[0] == 52
    assert [d.remaining for d in seen] == [1000 - 51, 1000 - 52]
