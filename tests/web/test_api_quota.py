"""Per-caller API quotas: every answer says where the caller stands; past the quota, 429
with Retry-After; exact under concurrent requests; kept across a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hearth.testing import Conn, api_conn, insert, running


async def an_api_key() -> str:
    """The secret of a new key of a new user."""
    issued = await insert("api_key")
    secret: str = issued.secret
    return secret


@pytest.mark.hearth_config(api__rate_limit=10)
async def test_every_answer_carries_the_callers_standing(conn: Conn) -> None:
    key = await an_api_key()

    ok = await conn.request("GET", "/api/v1/posts", api_key=key)
    missing = await conn.request("GET", "/api/v1/posts/999", api_key=key)
    refused = await conn.request("GET", "/api/v1/admin/users", api_key=key)

    before = time.time()
    for answer, remaining in [(ok, 9), (missing, 8), (refused, 7)]:
        assert answer.headers["X-RateLimit-Limit"] == "10"
        assert answer.headers["X-RateLimit-Remaining"] == str(remaining)
        reset = int(answer.headers["X-RateLimit-Reset"])
        assert before < reset <= before + 3600 + 1
    assert (missing.status, refused.status) == (404, 403)


@pytest.mark.hearth_config(api__rate_limit=3, api__rate_limit_window=600.0)
async def test_past_the_quota_a_caller_gets_429_with_retry_after(conn: Conn) -> None:
    key = await an_api_key()
    for _ in range(3):
        assert (await conn.request("GET", "/api/v1/me", api_key=key)).status == 200

    over = await conn.request("GET", "/api/v1/me", api_key=key)

    assert (over.status, over.code) == (429, "rate_limited")
    assert 1 <= int(over.headers["Retry-After"]) <= 600
    assert over.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.hearth_config(api__rate_limit=2)
async def test_each_key_has_its_own_quota_and_a_users_tokens_share_one(conn: Conn) -> None:
    ann = await insert("user")
    async with await api_conn(ann) as first_login, await api_conn(ann) as second_login:
        await first_login.get("/api/v1/me")
        await second_login.get("/api/v1/me")
        key_one = (await insert("api_key", owner=ann)).secret
        key_two = (await insert("api_key", owner=ann)).secret

        token_again = await first_login.get("/api/v1/me")
    by_key_one = await conn.request("GET", "/api/v1/me", api_key=key_one)
    by_key_two = await conn.request("GET", "/api/v1/me", api_key=key_two)

    assert token_again.status == 429
    assert by_key_one.status == by_key_two.status == 200
    assert by_key_one.headers["X-RateLimit-Remaining"] == "1"


@pytest.mark.hearth_config(api__rate_limit=25)
async def test_requests_at_once_never_pass_more_than_the_quota(conn: Conn) -> None:
    key = await an_api_key()

    answers = await asyncio.gather(*(conn.request("GET", "/api/v1/posts", api_key=key)
                                     for _ in range(60)))

    statuses = [a.status for a in answers]
    assert statuses.count(200) == 25
    assert statuses.count(429) == 35
    remaining = sorted(int(a.headers["X-RateLimit-Remaining"]) for a in answers
                       if a.status == 200)
    assert remaining == list(range(25))


@pytest.mark.hearth_config(api__anonymous_rate_limit=3)
async def test_callers_without_credentials_count_against_their_address(conn: Conn) -> None:
    answers = [await conn.request("GET", "/api/v1/posts", api_key="hk_0_guess")
               for _ in range(4)]

    assert [a.status for a in answers] == [401, 401, 401, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"


async def test_the_counts_survive_a_restart(tmp_path: Path) -> None:
    async with running(tmp_path, api__rate_limit=5) as node, Conn(node) as conn:
        key = await an_api_key()
        for _ in range(3):
            last = await conn.request("GET", "/api/v1/me", api_key=key)
        assert last.headers["X-RateLimit-Remaining"] == "2"
        reset = last.headers["X-RateLimit-Reset"]

    async with running(tmp_path, api__rate_limit=5) as node, Conn(node) as conn:  # same database
        after = await conn.request("GET", "/api/v1/me", api_key=key)

        assert after.status == 200
        assert after.headers["X-RateLimit-Remaining"] == "1"
        assert after.headers["X-RateLimit-Reset"] == reset
