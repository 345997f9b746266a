"""Logging in for API tokens, using them, refreshing them, and every way one is refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from actors.rate_limiter import RateLimiter
from actors.repo import Repo
from contexts.accounts import LOGIN_ACCOUNT as ACCOUNT_BUCKET
from hearth.config import ConfigError
from web.endpoint import build_app

from ._api import (
    PASSWORD,
    Answer,
    Node,
    api_node,
    b64url,
    claims_of,
    config_for,
    unb64url,
    with_claims,
    write_ed25519_pair,
    write_rsa_pair,
)


def assert_refused(answer: Answer, code: str) -> None:
    """A 401 with ``code`` in the body and in the ``WWW-Authenticate`` challenge."""
    assert answer.status == 401, answer
    assert answer.code == code
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="hearth", ')
    assert f'error="{code}"' in challenge
    assert 'error_description="' in challenge


async def me(node: Node, token: str) -> Answer:
    return await node.request("GET", "/api/v1/me", token=token)


# -- logging in ------------------------------------------------------------------------------


async def test_a_login_answers_a_token_pair_that_identifies_the_caller(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ann = await node.user("ann@example.com", "moderator")

        pair = await node.login("Ann@Example.com")
        answer = await me(node, pair["access_token"])

        assert pair["token_type"] == "Bearer"
        assert pair["expires_in"] == 900
        assert isinstance(pair["refresh_token"], str) and len(pair["refresh_token"]) >= 43
        assert answer.status == 200
        assert answer.headers["Cache-Control"] == "private, no-cache"
        assert answer.body == {
            "id": ann.id,
            "email": "ann@example.com",
            "role": "moderator",
            "display_name": "ann",
            "created_at": ann.created_at,
            "updated_at": ann.updated_at,
        }


async def test_the_access_token_carries_the_claims_it_is_checked_on(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ann = await node.user("ann@example.com")

        before = int(time.time())
        claims = claims_of((await node.login("ann@example.com"))["access_token"])

        assert claims["sub"] == str(ann.id)
        assert claims["role"] == "user"
        assert claims["iss"] == "hearth"
        assert claims["aud"] == "hearth-api"
        assert claims["iat"] == claims["nbf"] and claims["iat"] >= before
        assert claims["exp"] == claims["iat"] + 900
        assert claims["jti"] and claims["fam"]


async def test_a_wrong_password_and_an_unknown_email_are_refused_alike(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")

        wrong = await node.request("POST", "/api/v1/auth/token",
                                   json={"email": "ann@example.com", "password": "nope" * 4})
        unknown = await node.request("POST", "/api/v1/auth/token",
                                     json={"email": "who@example.com", "password": PASSWORD})

        assert wrong.status == unknown.status == 401
        assert wrong.body == unknown.body
        assert wrong.code == "invalid_credentials"


async def test_failed_logins_are_limited_per_account(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        await node.user("bob@example.com")
        guess = {"email": "ann@example.com", "password": "not the password"}

        for _ in range(5):  # auth.login_limit_per_account
            assert (await node.request("POST", "/api/v1/auth/token", json=guess)).status == 401
        refused = await node.request("POST", "/api/v1/auth/token",
                                     json={"email": "ANN@example.com", "password": PASSWORD})

        assert refused.status == 429
        assert refused.code == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 300
        assert (await node.login("bob@example.com"))["access_token"]


async def test_failed_logins_are_limited_per_address(tmp_path: Path) -> None:
    async with api_node(tmp_path, auth__login_limit_per_address=3) as node:
        await node.user("ann@example.com")

        for n in range(3):
            guess = {"email": f"guess{n}@example.com", "password": "not the password"}
            assert (await node.request("POST", "/api/v1/auth/token", json=guess)).status == 401
        refused = await node.request("POST", "/api/v1/auth/token",
                                     json={"email": "ann@example.com", "password": PASSWORD})

        assert refused.status == 429
        assert "Retry-After" in refused.headers


async def test_a_burst_of_guesses_checks_only_the_limit_and_others_still_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:  # runs on the dirty pool's threads
        checked.append(password)
        return real_checkpw(password, hashed)

    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        await node.user("bob@example.com")
        monkeypatch.setattr(bcrypt, "checkpw", checkpw)
        token_url = node.url + "/api/v1/auth/token"

        async def post(http: aiohttp.ClientSession, email: str, password: str) -> int:
            async with http.post(token_url, json={"email": email, "password": password}) as r:
                return r.status

        # The guesser and Bob are at two addresses of the loopback network.
        guesser = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            local_addr=("127.0.0.2", 0), limit=0))
        bob = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.3", 0)))
        async with guesser, bob:
            burst = [post(guesser, "ann@example.com", f"guess number {i}") for i in range(200)]
            burst.append(post(guesser, "ann@example.com", PASSWORD))
            *anns, bobs = await asyncio.gather(*burst, post(bob, "bob@example.com", PASSWORD))

    assert bobs == 200
    # Five checks at most for Ann (auth.login_limit_per_account), whichever came first,
    # and Bob's own: no more bcrypt work than that, however many arrived.
    assert len(checked) == 6
    assert anns.count(429) == 196
    assert sorted(set(anns) - {429}) in ([401], [200, 401])


async def test_browser_and_api_logins_share_one_allowance(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        window = node.config.auth.login_limit_window

        for _ in range(5):  # as five failed logins on the login page count
            RateLimiter.hit(ACCOUNT_BUCKET, "ann@example.com", 5, window)
        answer = await node.request("POST", "/api/v1/auth/token",
                                    json={"email": "ann@example.com", "password": PASSWORD})

        assert answer.status == 429


async def test_a_successful_login_clears_the_account_count(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        guess = {"email": "ann@example.com", "password": "not the password"}

        for _ in range(4):
            await node.request("POST", "/api/v1/auth/token", json=guess)
        await node.login("ann@example.com")
        for _ in range(4):
            await node.request("POST", "/api/v1/auth/token", json=guess)

        assert (await node.login("ann@example.com"))["access_token"]


# -- refused access tokens -------------------------------------------------------------------


async def test_a_protected_route_without_credentials_asks_for_a_token(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        assert_refused(await node.request("GET", "/api/v1/me"), "missing_token")


@pytest.mark.parametrize(
    "authorization",
    ["Basic YW5uOnB3", "Bearer", "Bearer not a token", "Bearer abc", "Bearer a.b", "Token x.y.z"],
)
async def test_a_malformed_authorization_is_refused(tmp_path: Path, authorization: str) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("GET", "/api/v1/me",
                                    headers={"Authorization": authorization})

        assert_refused(answer, "malformed_token")


async def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ann = await node.user("ann@example.com")
        family = claims_of((await node.login("ann@example.com"))["access_token"])["fam"]

        expired = node.tokens.sign_access(ann, family, now=time.time() - 3600)

        assert_refused(await me(node, expired), "expired_token")


async def test_a_token_not_yet_valid_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ann = await node.user("ann@example.com")
        family = claims_of((await node.login("ann@example.com"))["access_token"])["fam"]

        future = node.tokens.sign_access(ann, family, now=time.time() + 3600)

        assert_refused(await me(node, future), "invalid_token")


async def test_a_tampered_signature_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")
        head, payload, signature = token.split(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

        assert_refused(await me(node, f"{head}.{payload}.{flipped}"), "invalid_token")


async def test_a_role_claim_edited_to_admin_fails_the_signature(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com")

        forged = with_claims(token, role="admin")

        assert_refused(await node.request("GET", "/api/v1/admin/users", token=forged),
                       "invalid_token")


@pytest.mark.parametrize(
    ("claim", "value"), [("aud", "someone-else"), ("iss", "evil"), ("aud", ["hearth-api", "x"])]
)
async def test_a_token_for_another_audience_or_issuer_is_refused(
    tmp_path: Path, claim: str, value: object
) -> None:
    async with api_node(tmp_path) as node:
        claims = claims_of(await node.token("ann@example.com"))

        other = node.tokens.encode({**claims, claim: value})

        assert_refused(await me(node, other), "invalid_token")


@pytest.mark.parametrize("missing", ["exp", "nbf", "iat", "iss", "aud", "sub", "fam", "jti"])
async def test_a_token_missing_a_required_claim_is_refused(
    tmp_path: Path, missing: str
) -> None:
    async with api_node(tmp_path) as node:
        claims = claims_of(await node.token("ann@example.com"))
        del claims[missing]

        assert_refused(await me(node, node.tokens.encode(claims)), "invalid_token")


async def test_an_unsigned_token_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        claims = claims_of(await node.token("ann@example.com"))

        header = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
        unsigned = f"{header}.{b64url(json.dumps(claims).encode())}."

        assert_refused(await me(node, unsigned), "invalid_token")


async def test_a_token_signed_with_another_secret_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        claims = claims_of(await node.token("ann@example.com"))

        payload = b64url(json.dumps(claims).encode())
        header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
        signature = hmac.new(b"k" * 40, f"{header}.{payload}".encode(), hashlib.sha256)
        forged = f"{header}.{payload}.{b64url(signature.digest())}"

        # The raw node secret is not the token key either: the key is derived from it.
        assert_refused(await me(node, forged), "invalid_token")


# -- asymmetric keys -------------------------------------------------------------------------


async def test_rs256_tokens_work_and_an_hs256_forgery_with_the_public_key_does_not(
    tmp_path: Path,
) -> None:
    private, public = write_rsa_pair(tmp_path)
    async with api_node(tmp_path, auth__jwt_algorithm="RS256",
                        auth__jwt_private_key_path=str(private),
                        auth__jwt_public_key_path=str(public)) as node:
        token = await node.token("ann@example.com")
        claims = claims_of(token)

        # The classic confusion: HMAC-sign with the public key a verifier holds.
        header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
        payload = b64url(json.dumps({**claims, "role": "admin"}).encode())
        mac = hmac.new(public.read_bytes(), f"{header}.{payload}".encode(), hashlib.sha256)
        forged = f"{header}.{payload}.{b64url(mac.digest())}"
        unsigned_header = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())

        assert json.loads(unb64url(token.split(".")[0]))["alg"] == "RS256"
        assert (await me(node, token)).status == 200
        assert_refused(await me(node, forged), "invalid_token")
        assert_refused(await me(node, f"{unsigned_header}.{payload}."), "invalid_token")


async def test_eddsa_tokens_work(tmp_path: Path) -> None:
    private, public = write_ed25519_pair(tmp_path)
    async with api_node(tmp_path, auth__jwt_algorithm="EdDSA",
                        auth__jwt_private_key_path=str(private),
                        auth__jwt_public_key_path=str(public)) as node:
        token = await node.token("ann@example.com")

        assert (await me(node, token)).body["email"] == "ann@example.com"
        assert_refused(await me(node, with_claims(token, role="admin")), "invalid_token")


def test_the_start_fails_clearly_without_the_configured_keys(tmp_path: Path) -> None:
    missing = config_for(tmp_path, auth__jwt_algorithm="RS256")
    unreadable = config_for(tmp_path, auth__jwt_algorithm="RS256",
                            auth__jwt_private_key_path=str(tmp_path / "nope.pem"),
                            auth__jwt_public_key_path=str(tmp_path / "nope.pub.pem"))

    with pytest.raises(ConfigError, match=r"auth\.jwt_private_key_path: RS256 needs a PEM key"):
        build_app(missing)
    with pytest.raises(ConfigError, match=r"auth\.jwt_private_key_path: cannot read .*nope\.pem"):
        build_app(unreadable)


# -- refreshing ------------------------------------------------------------------------------


async def refresh(node: Node, refresh_token: str) -> Answer:
    return await node.request("POST", "/api/v1/auth/refresh",
                              json={"refresh_token": refresh_token})


async def test_a_refresh_rotates_the_refresh_token(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        first = await node.login("ann@example.com")

        second = await refresh(node, first["refresh_token"])

        assert second.status == 200
        assert second.body["refresh_token"] != first["refresh_token"]
        assert second.body["access_token"] != first["access_token"]
        assert claims_of(second.body["access_token"])["fam"] == claims_of(
            first["access_token"])["fam"]
        assert (await me(node, second.body["access_token"])).status == 200
        third = await refresh(node, second.body["refresh_token"])
        assert third.status == 200


async def test_a_refresh_token_used_twice_revokes_its_whole_login(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        other_login = await node.login("ann@example.com")
        first = await node.login("ann@example.com")
        second = (await refresh(node, first["refresh_token"])).body

        reused = await refresh(node, first["refresh_token"])

        assert_refused(reused, "revoked_token")
        # Both holders are out: the newest refresh token and every access token of the login.
        assert_refused(await refresh(node, second["refresh_token"]), "revoked_token")
        assert_refused(await me(node, second["access_token"]), "revoked_token")
        assert_refused(await me(node, first["access_token"]), "revoked_token")
        # Another login of the same account is another family, and goes on.
        assert (await me(node, other_login["access_token"])).status == 200
        assert (await refresh(node, other_login["refresh_token"])).status == 200


async def test_refresh_tokens_are_stored_only_as_hashes(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        pair = await node.login("ann@example.com")

        rows = await Repo.fetch_all("SELECT token_hash FROM refresh_tokens")

        assert [row["token_hash"] for row in rows] == [
            hashlib.sha256(pair["refresh_token"].encode()).hexdigest()
        ]


async def test_an_unknown_or_expired_refresh_token_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        pair = await node.login("ann@example.com")
        await Repo.execute("UPDATE refresh_tokens SET expires_at = ?", (time.time() - 1,))

        assert_refused(await refresh(node, "x" * 43), "invalid_token")
        assert_refused(await refresh(node, pair["refresh_token"]), "expired_token")


async def test_a_refresh_picks_up_a_changed_role(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        pair = await node.login("ann@example.com")
        await node.accounts.set_role("ann@example.com", "admin")

        renewed = (await refresh(node, pair["refresh_token"])).body

        assert claims_of(renewed["access_token"])["role"] == "admin"


async def test_a_role_taken_away_counts_before_the_token_expires(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("ann@example.com", "admin")
        assert (await node.request("GET", "/api/v1/admin/users", token=token)).status == 200

        await node.accounts.set_role("ann@example.com", "user")
        answer = await node.request("GET", "/api/v1/admin/users", token=token)

        assert answer.status == 403
        assert answer.code == "forbidden"


# -- logging out -----------------------------------------------------------------------------


async def test_logging_out_revokes_the_access_and_the_refresh_token(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        pair = await node.login("ann@example.com")

        answer = await node.request("DELETE", "/api/v1/auth/token", token=pair["access_token"])

        assert answer.status == 204
        assert_refused(await me(node, pair["access_token"]), "revoked_token")
        assert_refused(await refresh(node, pair["refresh_token"]), "revoked_token")


async def test_revoking_an_accounts_logins_ends_all_of_them(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        ann = await node.user("ann@example.com")
        logins = [await node.login("ann@example.com") for _ in range(2)]

        await node.tokens.revoke_user(ann.id)

        for pair in logins:
            assert_refused(await me(node, pair["access_token"]), "revoked_token")
            assert_refused(await refresh(node, pair["refresh_token"]), "revoked_token")
