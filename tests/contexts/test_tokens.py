"""The tokens context: keys read at start, pinned algorithms, claims, families, rotation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import otp
from actors.repo import NAME as REPO
from actors.repo import Repo
from contexts.tokens import TokenError, Tokens
from hearth.config import AuthConfig, ConfigError
from hearth.testing.node import repo_for
from otp import Down, Supervisor
from tests.web._keys import write_ed25519_pair, write_rsa_pair

SECRET = b"s" * 48


@dataclass(frozen=True)
class Someone:
    id: int
    role: str = "user"


def rs256(tmp_path: Path) -> AuthConfig:
    private, public = write_rsa_pair(tmp_path)
    return AuthConfig(jwt_algorithm="RS256", jwt_private_key_path=str(private),
                      jwt_public_key_path=str(public))


def eddsa(tmp_path: Path) -> AuthConfig:
    private, public = write_ed25519_pair(tmp_path)
    return AuthConfig(jwt_algorithm="EdDSA", jwt_private_key_path=str(private),
                      jwt_public_key_path=str(public))


def refused(code: str) -> pytest.RaisesExc[TokenError]:
    return pytest.raises(TokenError, check=lambda e: e.code == code)


# -- keys ------------------------------------------------------------------------------------


def test_asymmetric_algorithms_need_both_key_files(tmp_path: Path) -> None:
    private, _ = write_rsa_pair(tmp_path)

    with pytest.raises(ConfigError, match=r"auth\.jwt_private_key_path: EdDSA needs a PEM key"):
        Tokens(AuthConfig(jwt_algorithm="EdDSA"), SECRET)
    with pytest.raises(ConfigError, match=r"auth\.jwt_public_key_path: RS256 needs a PEM key"):
        Tokens(AuthConfig(jwt_algorithm="RS256", jwt_private_key_path=str(private)), SECRET)


def test_keys_of_the_wrong_kind_or_pair_are_refused_at_start(tmp_path: Path) -> None:
    rsa_private, rsa_public = write_rsa_pair(tmp_path)
    ed_private, ed_public = write_ed25519_pair(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_public = write_rsa_pair(other)
    small = tmp_path / "small"
    small.mkdir()
    small_private, small_public = write_rsa_pair(small, bits=1024)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")

    def start(algorithm: str, private: Path, public: Path) -> None:
        Tokens(AuthConfig(jwt_algorithm=algorithm, jwt_private_key_path=str(private),
                          jwt_public_key_path=str(public)), SECRET)

    with pytest.raises(ConfigError, match="RS256 needs an RSA private key"):
        start("RS256", ed_private, ed_public)
    with pytest.raises(ConfigError, match="EdDSA needs an Ed25519 or Ed448 public key"):
        start("EdDSA", ed_private, rsa_public)
    with pytest.raises(ConfigError, match="not the private key's pair"):
        start("RS256", rsa_private, other_public)
    with pytest.raises(ConfigError, match="1024 bits; RS256 needs at least 2048"):
        start("RS256", small_private, small_public)
    with pytest.raises(ConfigError, match="is not an unencrypted PEM private key"):
        start("RS256", garbage, rsa_public)
    with pytest.raises(ConfigError, match="is not a PEM public key"):
        start("RS256", rsa_private, garbage)


def test_an_encrypted_private_key_is_refused_at_start(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "locked.pem"
    private.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))
    public = tmp_path / "locked.pub.pem"
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    with pytest.raises(ConfigError, match="unencrypted PEM private key"):
        Tokens(AuthConfig(jwt_algorithm="RS256", jwt_private_key_path=str(private),
                          jwt_public_key_path=str(public)), SECRET)


# -- signing and checking --------------------------------------------------------------------


@pytest.mark.parametrize("config", ["HS256", "RS256", "EdDSA"])
def test_an_access_token_decodes_to_what_was_signed(tmp_path: Path, config: str) -> None:
    auth = {"HS256": AuthConfig, "RS256": lambda: rs256(tmp_path),
            "EdDSA": lambda: eddsa(tmp_path)}[config]()
    tokens = Tokens(auth, SECRET)

    access = tokens.decode(tokens.sign_access(Someone(7, "moderator"), "fam-1"))

    assert (access.user_id, access.role, access.family_id) == (7, "moderator", "fam-1")
    assert access.expires_at == pytest.approx(time.time() + 900, abs=5)
    assert jwt.get_unverified_header(tokens.sign_access(Someone(7), "f"))["alg"] == config


def test_each_algorithm_accepts_only_its_own_tokens(tmp_path: Path) -> None:
    hs = Tokens(AuthConfig(), SECRET)
    rs = Tokens(rs256(tmp_path), SECRET)
    ed = Tokens(eddsa(tmp_path), SECRET)
    other_secret = Tokens(AuthConfig(), b"t" * 48)

    for signer, checker in [(hs, rs), (rs, hs), (ed, rs), (rs, ed), (hs, ed), (other_secret, hs)]:
        with refused("invalid_token"):
            checker.decode(signer.sign_access(Someone(1), "f"))


def test_a_jwt_that_is_not_an_access_token_is_refused(tmp_path: Path) -> None:
    auth = rs256(tmp_path)
    tokens = Tokens(auth, SECRET)
    claims = jwt.decode(tokens.sign_access(Someone(1), "f"), options={"verify_signature": False})

    # Right key, right claims, but signed as some other kind of JWT.
    other = jwt.encode(claims, Path(auth.jwt_private_key_path).read_bytes(), algorithm="RS256")

    with refused("invalid_token"):
        tokens.decode(other)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "e30.W10.", "W10.e30.", "!!!.???.###"])
def test_garbage_is_malformed(garbage: str) -> None:
    with refused("malformed_token"):
        Tokens(AuthConfig(), SECRET).decode(garbage)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", "admin"), ("sub", "-1"), ("role", "root"), ("role", None), ("fam", 3),
     ("jti", 5), ("exp", "tomorrow"), ("iat", [1]), ("nbf", {})],
)
def test_ill_typed_claims_are_invalid(claim: str, value: object) -> None:
    tokens = Tokens(AuthConfig(), SECRET)
    claims = jwt.decode(tokens.sign_access(Someone(1), "f"), options={"verify_signature": False})

    with refused("invalid_token"):
        tokens.decode(tokens.encode({**claims, claim: value}))


# -- families --------------------------------------------------------------------------------


@asynccontextmanager
async def repo_with_users(tmp_path: Path, *user_ids: int) -> AsyncIterator[None]:
    """A Repo on a fresh database holding users ``user_ids``."""
    otp.trap_exit(True)
    sup = await Supervisor.start_link([Repo.child_spec(repo_for(tmp_path / "t.db"), name=REPO)])
    assert sup is not None
    try:
        for user_id in user_ids:
            await Repo.execute(
                "INSERT INTO users (id, email, email_norm, password_hash, display_name,"
                " created_at, updated_at) VALUES (?, ?, ?, 'x', 'n', 0, 0)",
                (user_id, f"u{user_id}@example.com", f"u{user_id}@example.com"),
            )
        yield
    finally:
        ref = otp.monitor(sup)
        otp.exit(sup, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is Down and m.ref == ref)


async def lookup(user_id: int) -> Someone | None:
    return Someone(user_id)


async def test_a_refresh_spends_the_token_and_keeps_the_family(tmp_path: Path) -> None:
    tokens = Tokens(AuthConfig(), SECRET)
    async with repo_with_users(tmp_path, 1):
        first = await tokens.issue(Someone(1))

        second = await tokens.refresh(first.refresh_token, lookup)

        assert (await tokens.verify(second.access_token)).family_id == (
            await tokens.verify(first.access_token)).family_id
        with refused("revoked_token"):
            await tokens.refresh(first.refresh_token, lookup)
        with refused("revoked_token"):
            await tokens.verify(second.access_token)


async def test_two_refreshes_racing_with_one_token_end_the_family(tmp_path: Path) -> None:
    tokens = Tokens(AuthConfig(), SECRET)
    async with repo_with_users(tmp_path, 1):
        pair = await tokens.issue(Someone(1))

        results = await asyncio.gather(
            tokens.refresh(pair.refresh_token, lookup),
            tokens.refresh(pair.refresh_token, lookup),
            return_exceptions=True,
        )

        errors = [r for r in results if isinstance(r, TokenError)]
        assert len(errors) == 1 and errors[0].code == "revoked_token"
        with refused("revoked_token"):
            await tokens.verify(pair.access_token)


async def test_a_refresh_for_a_deleted_account_is_refused(tmp_path: Path) -> None:
    tokens = Tokens(AuthConfig(), SECRET)
    async with repo_with_users(tmp_path, 1):
        pair = await tokens.issue(Someone(1))

        async def gone(user_id: int) -> Someone | None:
            return None

        with refused("invalid_token"):
            await tokens.refresh(pair.refresh_token, gone)
