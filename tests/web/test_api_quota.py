"""Per-caller API quotas: every answer says where the caller stands; past the quota, 429
with Retry-After; exact under concurrent requests; kept across a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ._api import Node, api_node


async def an_api_key(node: Node, email: str) -> str:
    token = await node.token(email)
    made = await node.request("POST", "/api/v1/api_keys", token=token, json={"name": "k"})
    assert made.status == 201, made
    key: str = made.body["key"]
    return key


async def test_every_answer_carries_the_callers_standing(tmp_path: Path) -> None:
    async with api_node(tmp_path, api__rate_limit=10) as node:
        key = await an_api_key(node, "ann@example.com")

        ok = await node.request("GET", "/api/v1/posts", api_key=key)
        missing = await node.request("GET", "/api/v1/posts/999", api_key=key)
        refused = await node.request("GET", "/api/v1/admin/users", api_key=key)

        before = time.time()
        for answer, remaining in [(ok, 9), (missing, 8), (refused, 7)]:
            assert answer.headers["X-RateLimit-Limit"] == "10"
            assert answer.headers["X-RateLimit-Remaining"] == str(remaining)
            reset = int(answer.headers["X-RateLimit-Reset"])
            assert before < reset <= before + 3600 + 1
        assert (missing.status, refused.status) == (404, 403)


async def test_past_the_quota_a_caller_gets_429_with_retry_after(tmp_path: Path) -> None:
    async with api_node(tmp_path, api__rate_limit=3, api__rate_limit_window=600.0) as node:
        key = await an_api_key(node, "ann@example.com")
        for _ in range(3):
            assert (await node.request("GET", "/api/v1/me", api_key=key)).status == 200

        over = await node.request("GET", "/api/v1/me", api_key=key)

        assert (over.status, over.code) == (429, "rate_limited")
        assert 1 <= int(over.headers["Retry-After"]) <= 600
        assert over.headers["X-RateLimit-Remaining"] == "0"


async def test_each_key_has_its_own_quota_and_a_users_tokens_share_one(tmp_path: Path) -> None:
    async with api_node(tmp_path, api__rate_limit=2) as node:
        await node.user("ann@example.com")
        first_login = (await node.login("ann@example.com"))["access_token"]
        second_login = (await node.login("ann@example.com"))["access_token"]
        await node.request("GET", "/api/v1/me", token=first_login)
        await node.request("GET", "/api/v1/me", token=second_login)
        # Keys are made with a token, which is over its quota now: make them at the node.
        from contexts import api_keys

        ann = await node.accounts.get_user_by_email("ann@example.com")
        assert ann is not None
        _, key_one = await api_keys.create_key(ann.id, "one")
        _, key_two = await api_keys.create_key(ann.id, "two")

        token_again = await node.request("GET", "/api/v1/me", token=first_login)
        by_key_one = await node.request("GET", "/api/v1/me", api_key=key_one)
        by_key_two = await node.request("GET", "/api/v1/me", api_key=key_two)

        assert token_again.status == 429
        assert by_key_one.status == by_key_two.status == 200
        assert by_key_one.headers["X-RateLimit-Remaining"] == "1"


async def test_requests_at_once_never_pass_more_than_the_quota(tmp_path: Path) -> None:
    async with api_node(tmp_path, api__rate_limit=25) as node:
        key = await an_api_key(node, "ann@example.com")

        answers = await asyncio.gather(*(node.request("GET", "/api/v1/posts", api_key=key)
                                         for _ in range(60)))

        statuses = [a.status for a in answers]
        assert statuses.count(200) == 25
        assert statuses.count(429) == 35
        remaining = sorted(int(a.headers["X-RateLimit-Remaining"]) for a in answers
                           if a.status == 200)
        assert remaining == list(range(25))


async def test_callers_without_credentials_count_against_their_address(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path, api__anonymous_rate_limit=3) as node:
        answers = [await node.request("GET", "/api/v1/posts", api_key="hk_0_guess")
                   for _ in range(4)]

        assert [a.status for a in answers] == [401, 401, 401, 429]
        assert answers[0].headers["X-RateLimit-Limit"] == "3"


async def test_the_counts_survive_a_restart(tmp_path: Path) -> None:
    async with api_node(tmp_path, api__rate_limit=5) as node:
        key = await an_api_key(node, "ann@example.com")
        for _ in range(3):
            last = await node.request("GET", "/api/v1/me", api_key=key)
        assert last.headers["X-RateLimit-Remaining"] == "2"
        reset = last.headers["X-RateLimit-Reset"]

    async with api_node(tmp_path, api__rate_limit=5) as node:  # the same database
        after = await node.request("GET", "/api/v1/me", api_key=key)

        assert after.status == 200
        assert after.headers["X-RateLimit-Remaining"] == "1"
        assert after.headers["X-RateLimit-Reset"] == reset
