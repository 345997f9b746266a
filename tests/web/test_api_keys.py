"""API keys: made with a login, shown once, listed without secrets, used, revoked."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import pytest_asyncio

from actors.repo import Repo
from hearth.testing import (
    Conn,
    Response,
    TestNode,
    api_conn,
    insert,
    json_response,
    problem_response,
)

KEY = re.compile(r"hk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@pytest_asyncio.fixture
async def ann(hearth_node: TestNode) -> AsyncIterator[Conn]:
    """An API client logged in as ann@example.com."""
    async with await api_conn(await insert("user", email="ann@example.com")) as client:
        yield client


async def create(api: Conn, name: str = "ci") -> Response:
    return await api.post("/api/v1/api_keys", json={"name": name})


async def test_a_key_is_shown_once_and_then_listed_without_its_secret(ann: Conn) -> None:
    made = await create(ann, "deploy bot")
    listed = await ann.get("/api/v1/api_keys")

    shown = json_response(made, 201)
    match = KEY.fullmatch(shown["key"])
    assert match is not None
    assert shown["prefix"] == match.group(1)
    assert shown["name"] == "deploy bot"
    assert shown["revoked"] is False
    assert json_response(listed, 200) == {
        "api_keys": [{k: v for k, v in shown.items() if k != "key"}]
    }
    assert match.group(2) not in listed.text


async def test_the_database_keeps_only_the_secrets_hash(ann: Conn) -> None:
    key = (await create(ann)).body["key"]
    prefix, secret = key.split("_", 2)[1:]

    row = await Repo.fetch_one("SELECT * FROM api_keys")

    assert row is not None
    assert row["prefix"] == prefix
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in [str(value) for value in tuple(row)]


async def test_a_key_authenticates_as_its_owner_and_records_its_use(
    ann: Conn, conn: Conn
) -> None:
    key = (await create(ann)).body["key"]

    first = await conn.request("GET", "/api/v1/me", api_key=key)
    used = (await conn.request("GET", "/api/v1/api_keys", api_key=key)).body["api_keys"][0]
    await conn.request("GET", "/api/v1/me", api_key=key)
    again = (await conn.request("GET", "/api/v1/api_keys", api_key=key)).body["api_keys"][0]

    assert json_response(first, 200)["email"] == "ann@example.com"
    assert used["last_used_at"] is not None
    # Within a minute the use is not written again (no write per request).
    assert again["last_used_at"] == used["last_used_at"]


async def test_a_revoked_key_stops_working_and_stays_listed(ann: Conn, conn: Conn) -> None:
    made = (await create(ann)).body

    revoked = await ann.delete(f"/api/v1/api_keys/{made['id']}")
    answer = await conn.request("GET", "/api/v1/me", api_key=made["key"])
    listed = (await ann.get("/api/v1/api_keys")).body

    assert json_response(revoked, 200)["revoked"] is True
    problem_response(answer, 401, "invalid_api_key")
    assert "revoked" in answer.detail
    assert 'error="invalid_api_key"' in answer.headers["WWW-Authenticate"]
    assert listed["api_keys"][0]["revoked"] is True


async def test_unknown_wrong_and_malformed_keys_are_refused(ann: Conn, conn: Conn) -> None:
    key = (await create(ann)).body["key"]
    right_prefix_wrong_secret = key[:16] + ("A" if key[16] != "A" else "B") + key[17:]

    for presented in [right_prefix_wrong_secret, "hk_000000000000_" + "a" * 43,
                      "hk_nope", "sk_live_123", key + "x"]:
        answer = await conn.request("GET", "/api/v1/me", api_key=presented)
        assert answer.status == 401, presented
        assert answer.code == "invalid_api_key"


async def test_making_a_key_needs_a_login_not_a_key(ann: Conn, conn: Conn) -> None:
    key = (await create(ann)).body["key"]

    with_key = await conn.request("POST", "/api/v1/api_keys", api_key=key,
                                  json={"name": "another"})
    anonymous = await conn.post("/api/v1/api_keys", json={"name": "another"})

    problem_response(with_key, 403, "forbidden")
    problem_response(anonymous, 401, "missing_token")


async def test_a_user_cannot_revoke_anothers_key_but_an_admin_can(
    ann: Conn, conn: Conn
) -> None:
    made = (await create(ann)).body
    path = f"/api/v1/api_keys/{made['id']}"
    async with (await api_conn(await insert("user")) as bob,
                await api_conn(await insert("user", "admin")) as admin):
        by_bob = await bob.delete(path)
        still = await conn.request("GET", "/api/v1/me", api_key=made["key"])
        bobs_list = (await bob.get("/api/v1/api_keys")).body
        by_admin = await admin.delete(path)

    problem_response(by_bob, 404, "not_found")
    assert still.status == 200
    assert bobs_list == {"api_keys": []}
    assert json_response(by_admin, 200)["revoked"] is True
    assert (await conn.request("GET", "/api/v1/me", api_key=made["key"])).status == 401


async def test_revoking_a_key_that_does_not_exist_is_not_found(ann: Conn) -> None:
    for path in ["/api/v1/api_keys/999", "/api/v1/api_keys/abc",
                 "/api/v1/api_keys/99999999999999999999999"]:
        answer = await ann.delete(path)
        assert answer.status == 404, path
        assert answer.code == "not_found"


async def test_a_key_needs_a_name(ann: Conn) -> None:
    for body in [{}, {"name": ""}, {"name": "   "}, {"name": 7}, {"name": "x" * 101}]:
        answer = await ann.post("/api/v1/api_keys", json=body)
        assert answer.status == 400, body
        assert answer.code == "invalid_request"
        assert "name" in answer.detail
