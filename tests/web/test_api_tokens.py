"""Logging in for API tokens, using them, refreshing them, and every way one is refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
import pytest_asyncio

from actors.rate_limiter import RateLimiter
from actors.repo import Repo
from contexts.accounts import LOGIN_ACCOUNT as ACCOUNT_BUCKET
from contexts.accounts import User
from hearth.config import ConfigError
from hearth.testing import (
    PASSWORD,
    Conn,
    Response,
    TestNode,
    insert,
    json_response,
    problem_response,
    running,
    test_config,
)
from web.endpoint import build_app

from ._keys import b64url, claims_of, unb64url, with_claims, write_ed25519_pair, write_rsa_pair

TOKEN = "/api/v1/auth/token"


@pytest_asyncio.fixture
async def ann(hearth_node: TestNode) -> User:
    """An account, ann@example.com (shown as "ann"), with :data:`PASSWORD`."""
    user: User = await insert("user", email="ann@example.com", display_name="ann")
    return user


async def login(conn: Conn, email: str = "ann@example.com") -> dict[str, Any]:
    """The token pair of a successful login (``POST /api/v1/auth/token``)."""
    answer = await conn.post(TOKEN, json={"email": email, "password": PASSWORD})
    pair: dict[str, Any] = json_response(answer, 200)
    return pair


async def access_token(conn: Conn, email: str = "ann@example.com") -> str:
    """The access token of a successful login."""
    token: str = (await login(conn, email))["access_token"]
    return token


def assert_refused(answer: Response, code: str) -> None:
    """A 401 with ``code`` in the body and in the ``WWW-Authenticate`` challenge."""
    problem_response(answer, 401, code)
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="hearth", ')
    assert f'error="{code}"' in challenge
    assert 'error_description="' in challenge


async def me(conn: Conn, token: str) -> Response:
    return await conn.request("GET", "/api/v1/me", token=token)


# -- logging in ------------------------------------------------------------------------------


async def test_a_login_answers_a_token_pair_that_identifies_the_caller(conn: Conn) -> None:
    ann = await insert("user", "moderator", email="ann@example.com", display_name="ann")

    pair = await login(conn, "Ann@Example.com")
    answer = await me(conn, pair["access_token"])

    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900
    assert isinstance(pair["refresh_token"], str) and len(pair["refresh_token"]) >= 43
    assert answer.headers["Cache-Control"] == "private, no-cache"
    assert json_response(answer, 200) == {
        "id": ann.id,
        "email": "ann@example.com",
        "role": "moderator",
        "display_name": "ann",
        "created_at": ann.created_at,
        "updated_at": ann.updated_at,
    }


async def test_the_access_token_carries_the_claims_it_is_checked_on(
    ann: User, conn: Conn
) -> None:
    before = int(time.time())
    claims = claims_of(await access_token(conn))

    assert claims["sub"] == str(ann.id)
    assert claims["role"] == "user"
    assert claims["iss"] == "hearth"
    assert claims["aud"] == "hearth-api"
    assert claims["iat"] == claims["nbf"] and claims["iat"] >= before
    assert claims["exp"] == claims["iat"] + 900
    assert claims["jti"] and claims["fam"]


async def test_a_wrong_password_and_an_unknown_email_are_refused_alike(
    ann: User, conn: Conn
) -> None:
    wrong = await conn.post(TOKEN, json={"email": "ann@example.com", "password": "nope" * 4})
    unknown = await conn.post(TOKEN, json={"email": "who@example.com", "password": PASSWORD})

    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert wrong.code == "invalid_credentials"


async def test_failed_logins_are_limited_per_account(ann: User, conn: Conn) -> None:
    await insert("user", email="bob@example.com")
    guess = {"email": "ann@example.com", "password": "not the password"}

    for _ in range(5):  # auth.login_limit_per_account
        assert (await conn.post(TOKEN, json=guess)).status == 401
    refused = await conn.post(TOKEN, json={"email": "ANN@example.com", "password": PASSWORD})

    problem_response(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert await access_token(conn, "bob@example.com")


@pytest.mark.hearth_config(auth__login_limit_per_address=3)
async def test_failed_logins_are_limited_per_address(ann: User, conn: Conn) -> None:
    for n in range(3):
        guess = {"email": f"guess{n}@example.com", "password": "not the password"}
        assert (await conn.post(TOKEN, json=guess)).status == 401
    refused = await conn.post(TOKEN, json={"email": "ann@example.com", "password": PASSWORD})

    assert refused.status == 429
    assert "Retry-After" in refused.headers


async def test_a_burst_of_guesses_checks_only_the_limit_and_others_still_log_in(
    hearth_node: TestNode, ann: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:  # runs on the dirty pool's threads
        checked.append(password)
        return real_checkpw(password, hashed)

    await insert("user", email="bob@example.com")
    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    token_url = hearth_node.url + TOKEN

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


async def test_browser_and_api_logins_share_one_allowance(
    hearth_node: TestNode, ann: User, conn: Conn
) -> None:
    window = hearth_node.config.auth.login_limit_window

    for _ in range(5):  # as five failed logins on the login page count
        RateLimiter.hit(ACCOUNT_BUCKET, "ann@example.com", 5, window)
    answer = await conn.post(TOKEN, json={"email": "ann@example.com", "password": PASSWORD})

    assert answer.status == 429


async def test_a_successful_login_clears_the_account_count(ann: User, conn: Conn) -> None:
    guess = {"email": "ann@example.com", "password": "not the password"}

    for _ in range(4):
        await conn.post(TOKEN, json=guess)
    await login(conn)
    for _ in range(4):
        await conn.post(TOKEN, json=guess)

    assert await access_token(conn)


# -- refused access tokens -------------------------------------------------------------------


async def test_a_protected_route_without_credentials_asks_for_a_token(conn: Conn) -> None:
    assert_refused(await conn.get("/api/v1/me"), "missing_token")


@pytest.mark.parametrize(
    "authorization",
    ["Basic YW5uOnB3", "Bearer", "Bearer not a token", "Bearer abc", "Bearer a.b", "Token x.y.z"],
)
async def test_a_malformed_authorization_is_refused(conn: Conn, authorization: str) -> None:
    answer = await conn.get("/api/v1/me", headers={"Authorization": authorization})

    assert_refused(answer, "malformed_token")


async def test_an_expired_token_is_refused(hearth_node: TestNode, ann: User, conn: Conn) -> None:
    family = claims_of(await access_token(conn))["fam"]

    expired = hearth_node.tokens.sign_access(ann, family, now=time.time() - 3600)

    assert_refused(await me(conn, expired), "expired_token")


async def test_a_token_not_yet_valid_is_refused(hearth_node: TestNode, ann: User,
                                               conn: Conn) -> None:
    family = claims_of(await access_token(conn))["fam"]

    future = hearth_node.tokens.sign_access(ann, family, now=time.time() + 3600)

    assert_refused(await me(conn, future), "invalid_token")


async def test_a_tampered_signature_is_refused(ann: User, conn: Conn) -> None:
    token = await access_token(conn)
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    assert_refused(await me(conn, f"{head}.{payload}.{flipped}"), "invalid_token")


async def test_a_role_claim_edited_to_admin_fails_the_signature(ann: User, conn: Conn) -> None:
    token = await access_token(conn)

    forged = with_claims(token, role="admin")

    assert_refused(await conn.request("GET", "/api/v1/admin/users", token=forged),
                   "invalid_token")


@pytest.mark.parametrize(
    ("claim", "value"), [("aud", "someone-else"), ("iss", "evil"), ("aud", ["hearth-api", "x"])]
)
async def test_a_token_for_another_audience_or_issuer_is_refused(
    hearth_node: TestNode, ann: User, conn: Conn, claim: str, value: object
) -> None:
    claims = claims_of(await access_token(conn))

    other = hearth_node.tokens.encode({**claims, claim: value})

    assert_refused(await me(conn, other), "invalid_token")


@pytest.mark.parametrize("missing", ["exp", "nbf", "iat", "iss", "aud", "sub", "fam", "jti"])
async def test_a_token_missing_a_required_claim_is_refused(
    hearth_node: TestNode, ann: User, conn: Conn, missing: str
) -> None:
    claims = claims_of(await access_token(conn))
    del claims[missing]

    assert_refused(await me(conn, hearth_node.tokens.encode(claims)), "invalid_token")


async def test_an_unsigned_token_is_refused(ann: User, conn: Conn) -> None:
    claims = claims_of(await access_token(conn))

    header = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    unsigned = f"{header}.{b64url(json.dumps(claims).encode())}."

    assert_refused(await me(conn, unsigned), "invalid_token")


async def test_a_token_signed_with_another_secret_is_refused(
    hearth_node: TestNode, ann: User, conn: Conn
) -> None:
    claims = claims_of(await access_token(conn))

    payload = b64url(json.dumps(claims).encode())
    header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
    signature = hmac.new(hearth_node.secret, f"{header}.{payload}".encode(), hashlib.sha256)
    forged = f"{header}.{payload}.{b64url(signature.digest())}"

    # The raw node secret is not the token key either: the key is derived from it.
    assert_refused(await me(conn, forged), "invalid_token")


# -- asymmetric keys -------------------------------------------------------------------------


async def test_rs256_tokens_work_and_an_hs256_forgery_with_the_public_key_does_not(
    tmp_path: Path,
) -> None:
    private, public = write_rsa_pair(tmp_path)
    async with running(tmp_path, auth__jwt_algorithm="RS256",
                       auth__jwt_private_key_path=str(private),
                       auth__jwt_public_key_path=str(public)) as node, Conn(node) as conn:
        await insert("user", email="ann@example.com")
        token = await access_token(conn)
        claims = claims_of(token)

        # The classic confusion: HMAC-sign with the public key a verifier holds.
        header = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
        payload = b64url(json.dumps({**claims, "role": "admin"}).encode())
        mac = hmac.new(public.read_bytes(), f"{header}.{payload}".encode(), hashlib.sha256)
        forged = f"{header}.{payload}.{b64url(mac.digest())}"
        unsigned_header = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())

        assert json.loads(unb64url(token.split(".")[0]))["alg"] == "RS256"
        assert (await me(conn, token)).status == 200
        assert_refused(await me(conn, forged), "invalid_token")
        assert_refused(await me(conn, f"{unsigned_header}.{payload}."), "invalid_token")


async def test_eddsa_tokens_work(tmp_path: Path) -> None:
    private, public = write_ed25519_pair(tmp_path)
    async with running(tmp_path, auth__jwt_algorithm="EdDSA",
                       auth__jwt_private_key_path=str(private),
                       auth__jwt_public_key_path=str(public)) as node, Conn(node) as conn:
        await insert("user", email="ann@example.com")
        token = await access_token(conn)

        assert json_response(await me(conn, token), 200)["email"] == "ann@example.com"
        assert_refused(await me(conn, with_claims(token, role="admin")), "invalid_token")


def test_the_start_fails_clearly_without_the_configured_keys(tmp_path: Path) -> None:
    missing = test_config(tmp_path, {"auth.jwt_algorithm": "RS256"})
    unreadable = test_config(tmp_path, {
        "auth.jwt_algorithm": "RS256",
        "auth.jwt_private_key_path": str(tmp_path / "nope.pem"),
        "auth.jwt_public_key_path": str(tmp_path / "nope.pub.pem"),
    })

    with pytest.raises(ConfigError, match=r"auth\.jwt_private_key_path: RS256 needs a PEM key"):
        build_app(missing)
    with pytest.raises(ConfigError, match=r"auth\.jwt_private_key_path: cannot read .*nope\.pem"):
        build_app(unreadable)


# -- refreshing ------------------------------------------------------------------------------


async def refresh(conn: Conn, refresh_token: str) -> Response:
    return await conn.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def test_a_refresh_rotates_the_refresh_token(ann: User, conn: Conn) -> None:
    first = await login(conn)

    second = await refresh(conn, first["refresh_token"])

    renewed = json_response(second, 200)
    assert renewed["refresh_token"] != first["refresh_token"]
    assert renewed["access_token"] != first["access_token"]
    assert claims_of(renewed["access_token"])["fam"] == claims_of(first["access_token"])["fam"]
    assert (await me(conn, renewed["access_token"])).status == 200
    third = await refresh(conn, renewed["refresh_token"])
    assert third.status == 200


async def test_a_refresh_token_used_twice_revokes_its_whole_login(ann: User, conn: Conn) -> None:
    other_login = await login(conn)
    first = await login(conn)
    second = (await refresh(conn, first["refresh_token"])).body

    reused = await refresh(conn, first["refresh_token"])

    assert_refused(reused, "revoked_token")
    # Both holders are out: the newest refresh token and every access token of the login.
    assert_refused(await refresh(conn, second["refresh_token"]), "revoked_token")
    assert_refused(await me(conn, second["access_token"]), "revoked_token")
    assert_refused(await me(conn, first["access_token"]), "revoked_token")
    # Another login of the same account is another family, and goes on.
    assert (await me(conn, other_login["access_token"])).status == 200
    assert (await refresh(conn, other_login["refresh_token"])).status == 200


async def test_refresh_tokens_are_stored_only_as_hashes(ann: User, conn: Conn) -> None:
    pair = await login(conn)

    rows = await Repo.fetch_all("SELECT token_hash FROM refresh_tokens")

    assert [row["token_hash"] for row in rows] == [
        hashlib.sha256(pair["refresh_token"].encode()).hexdigest()
    ]


async def test_an_unknown_or_expired_refresh_token_is_refused(ann: User, conn: Conn) -> None:
    pair = await login(conn)
    await Repo.execute("UPDATE refresh_tokens SET expires_at = ?", (time.time() - 1,))

    assert_refused(await refresh(conn, "x" * 43), "invalid_token")
    assert_refused(await refresh(conn, pair["refresh_token"]), "expired_token")


async def test_a_refresh_picks_up_a_changed_role(
    hearth_node: TestNode, ann: User, conn: Conn
) -> None:
    pair = await login(conn)
    await hearth_node.accounts.set_role("ann@example.com", "admin")

    renewed = (await refresh(conn, pair["refresh_token"])).body

    assert claims_of(renewed["access_token"])["role"] == "admin"


async def test_a_role_taken_away_counts_before_the_token_expires(
    hearth_node: TestNode, conn: Conn
) -> None:
    await insert("user", "admin", email="ann@example.com")
    token = await access_token(conn)
    assert (await conn.request("GET", "/api/v1/admin/users", token=token)).status == 200

    await hearth_node.accounts.set_role("ann@example.com", "user")
    answer = await conn.request("GET", "/api/v1/admin/users", token=token)

    problem_response(answer, 403, "forbidden")


# -- logging out -----------------------------------------------------------------------------


async def test_logging_out_revokes_the_access_and_the_refresh_token(
    ann: User, conn: Conn
) -> None:
    pair = await login(conn)

    answer = await conn.delete(TOKEN, token=pair["access_token"])

    assert answer.status == 204
    assert_refused(await me(conn, pair["access_token"]), "revoked_token")
    assert_refused(await refresh(conn, pair["refresh_token"]), "revoked_token")


async def test_revoking_an_accounts_logins_ends_all_of_them(
    hearth_node: TestNode, ann: User, conn: Conn
) -> None:
    logins = [await login(conn) for _ in range(2)]

    await hearth_node.tokens.revoke_user(ann.id)

    for pair in logins:
        assert_refused(await me(conn, pair["access_token"]), "revoked_token")
        assert_refused(await refresh(conn, pair["refresh_token"]), "revoked_token")
