"""API keys: made with a login, shown once, listed without secrets, used, revoked."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from actors.repo import Repo

from ._api import Answer, Node, api_node

KEY = re.compile(r"hk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


async def create(node: Node, token: str, name: str = "ci") -> Answer:
    return await node.request("POST", "/api/v1/api_keys", token=token, json={"name": name})


async def test_a_key_is_shown_once_and_then_listed_without_its_secret(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")

        made = await create(node, token, "deploy bot")
        listed = await node.request("GET", "/api/v1/api_keys", token=token)

        assert made.status == 201
        match = KEY.fullmatch(made.body["key"])
        assert match is not None
        assert made.body["prefix"] == match.group(1)
        assert made.body["name"] == "deploy bot"
        assert made.body["revoked"] is False
        assert listed.status == 200
        assert listed.body == {"api_keys": [{k: v for k, v in made.body.items() if k != "key"}]}
        assert match.group(2) not in str(listed.body)


async def test_the_database_keeps_only_the_secrets_hash(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        key = (await create(node, token)).body["key"]
        prefix, secret = key.split("_", 2)[1:]

        row = await Repo.fetch_one("SELECT * FROM api_keys")

        assert row is not None
        assert row["prefix"] == prefix
        assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in [str(value) for value in tuple(row)]


async def test_a_key_authenticates_as_its_owner_and_records_its_use(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        key = (await create(node, token)).body["key"]

        first = await node.request("GET", "/api/v1/me", api_key=key)
        used = (await node.request("GET", "/api/v1/api_keys", api_key=key)).body["api_keys"][0]
        await node.request("GET", "/api/v1/me", api_key=key)
        again = (await node.request("GET", "/api/v1/api_keys", api_key=key)).body["api_keys"][0]

        assert first.status == 200
        assert first.body["email"] == "ann@example.com"
        assert used["last_used_at"] is not None
        # Within a minute the use is not written again (no write per request).
        assert again["last_used_at"] == used["last_used_at"]


async def test_a_revoked_key_stops_working_and_stays_listed(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        made = (await create(node, token)).body

        revoked = await node.request("DELETE", f"/api/v1/api_keys/{made['id']}", token=token)
        answer = await node.request("GET", "/api/v1/me", api_key=made["key"])
        listed = (await node.request("GET", "/api/v1/api_keys", token=token)).body

        assert revoked.status == 200
        assert revoked.body["revoked"] is True
        assert answer.status == 401
        assert answer.code == "invalid_api_key"
        assert "revoked" in answer.detail
        assert 'error="invalid_api_key"' in answer.headers["WWW-Authenticate"]
        assert listed["api_keys"][0]["revoked"] is True


async def test_unknown_wrong_and_malformed_keys_are_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        key = (await create(node, token)).body["key"]
        right_prefix_wrong_secret = key[:16] + ("A" if key[16] != "A" else "B") + key[17:]

        for presented in [right_prefix_wrong_secret, "hk_000000000000_" + "a" * 43,
                          "hk_nope", "sk_live_123", key + "x"]:
            answer = await node.request("GET", "/api/v1/me", api_key=presented)
            assert answer.status == 401, presented
            assert answer.code == "invalid_api_key"


async def test_making_a_key_needs_a_login_not_a_key(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        key = (await create(node, token)).body["key"]

        with_key = await node.request("POST", "/api/v1/api_keys", api_key=key,
                                      json={"name": "another"})
        anonymous = await node.request("POST", "/api/v1/api_keys", json={"name": "another"})

        assert with_key.status == 403
        assert with_key.code == "forbidden"
        assert anonymous.status == 401
        assert anonymous.code == "missing_token"


async def test_a_user_cannot_revoke_anothers_key_but_an_admin_can(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ann = await node.token("ann@example.com")
        bob = await node.token("bob@example.com")
        admin = await node.token("root@example.com", "admin")
        made = (await create(node, ann)).body
        path = f"/api/v1/api_keys/{made['id']}"

        by_bob = await node.request("DELETE", path, token=bob)
        still = await node.request("GET", "/api/v1/me", api_key=made["key"])
        bobs_list = (await node.request("GET", "/api/v1/api_keys", token=bob)).body
        by_admin = await node.request("DELETE", path, token=admin)

        assert by_bob.status == 404
        assert by_bob.code == "not_found"
        assert still.status == 200
        assert bobs_list == {"api_keys": []}
        assert by_admin.status == 200
        assert by_admin.body["revoked"] is True
        assert (await node.request("GET", "/api/v1/me", api_key=made["key"])).status == 401


async def test_revoking_a_key_that_does_not_exist_is_not_found(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")

        for path in ["/api/v1/api_keys/999", "/api/v1/api_keys/abc",
                     "/api/v1/api_keys/99999999999999999999999"]:
            answer = await node.request("DELETE", path, token=token)
            assert answer.status == 404, path
            assert answer.code == "not_found"


async def test_a_key_needs_a_name(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")

        for body in [{}, {"name": ""}, {"name": "   "}, {"name": 7}, {"name": "x" * 101}]:
            answer = await node.request("POST", "/api/v1/api_keys", token=token, json=body)
            assert answer.status == 400, body
            assert answer.code == "invalid_request"
            assert "name" in answer.detail
