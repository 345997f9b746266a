"""API tokens: short-lived signed access tokens, and single-use refresh tokens in families.

A login starts a *family*. It hands out an access token (a JWT that names the family in its
``fam`` claim) and a refresh token (32 random bytes; the database keeps only their SHA-256).
Each refresh spends the refresh token presented and answers a new pair in the same family.
A refresh token presented a second time means two parties hold it, and the server cannot
tell which is the thief: the whole family is revoked, and every access token naming it stops
working at its next request.

Access tokens are signed with the one algorithm the configuration names (``auth.jwt_algorithm``)
and checked against that algorithm only, whatever the token's header claims, so neither
``alg: none`` nor a token HMAC-signed with the RS256 public key passes. The keys are read
once, when :class:`Tokens` is made at start; a missing or unusable key stops the start with
a :class:`~hearth.config.ConfigError` that names the setting. :func:`check_keys` runs the
same loader on its own, so ``hearth serve`` refuses such a configuration before the tree
starts.

Failures raise :class:`TokenError`, whose ``code`` is what the API answers:
``malformed_token`` (not a JWT at all), ``expired_token``, ``revoked_token`` (the family was
revoked, or the refresh token was spent already) or ``invalid_token`` (bad signature, wrong
algorithm, issuer or audience, missing or ill-typed claims, unknown refresh token).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa

from hearth.config import AuthConfig, ConfigError
from store import NAME as REPO
from store import Connection, Repo

from .roles import is_role

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "AccessToken",
    "Subject",
    "TokenError",
    "TokenPair",
    "Tokens",
    "check_keys",
    "revoke_families",
]

ACCESS_TOKEN_TYPE = "at+jwt"
"""The ``typ`` header of an access token (RFC 9068): no other JWT passes for one."""

LEEWAY = 5.0
"""Seconds of clock difference tolerated on ``exp``, ``nbf`` and ``iat``."""

MIN_RSA_BITS = 2048
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "role", "fam", "jti", "iat", "nbf", "exp"]

log = logging.getLogger(__name__)


class TokenError(Exception):
    """A token was refused; ``code`` says why (see the module docstring), ``message`` says
    it to a person; ``revoked_family`` names the login this refusal revoked (a refresh token
    used twice), so its sockets can be closed too."""

    def __init__(self, code: str, message: str, revoked_family: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.revoked_family = revoked_family


class Subject(Protocol):
    """Whom a token is for: an account, as ``contexts.accounts.User`` is."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class AccessToken:
    """The verified claims of an access token."""

    user_id: int
    role: str
    family_id: str
    jti: str
    expires_at: float


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


class _Spent(NamedTuple):
    user_id: int
    family_id: str
    refresh_token: str


class Tokens:
    """Issues, refreshes, verifies and revokes API tokens; one per application, made at
    start from ``auth`` and the node's secret key (used for HS256)."""

    def __init__(self, auth: AuthConfig, secret: bytes, *, repo: Any = REPO) -> None:
        self.repo = repo
        self.algorithm = auth.jwt_algorithm
        self.issuer = auth.jwt_issuer
        self.audience = auth.jwt_audience
        self.access_ttl = auth.access_token_ttl
        self.refresh_ttl = auth.refresh_token_ttl
        self._signing_key, self._verifying_key = _load_keys(auth, secret)

    # -- issuing ----------------------------------------------------------------------------

    async def issue(self, user: Subject) -> TokenPair:
        """A new family for ``user``, who has just proved who they are."""
        now = time.time()
        family_id = secrets.token_urlsafe(16)
        refresh_token = _new_refresh_token()

        async def start_family(conn: Connection) -> None:
            await conn.execute("INSERT INTO token_families (id, user_id, created_at)"
                               " VALUES (?, ?, ?)", (family_id, user.id, now))
            await self._store_refresh(conn, refresh_token, family_id, user.id, now)

        await Repo.transaction(start_family, repo=self.repo)
        return TokenPair(self.sign_access(user, family_id, now=now), refresh_token,
                         int(self.access_ttl))

    async def refresh(
        self, refresh_token: str, get_user: Callable[[int], Awaitable[Subject | None]]
    ) -> TokenPair:
        """Spend ``refresh_token`` for a new pair in its family, for the account
        ``get_user`` finds now (so a changed role shows in the new access token)."""
        spent = await self._spend(refresh_token)
        user = await get_user(spent.user_id)
        if user is None:  # deleted since; its families go with it
            raise TokenError("invalid_token", "the account of this token no longer exists")
        return TokenPair(self.sign_access(user, spent.family_id), spent.refresh_token,
                         int(self.access_ttl))

    def sign_access(self, user: Subject, family_id: str, *, now: float | None = None) -> str:
        """An access token for ``user`` in ``family_id``, issued at ``now`` (default: now)."""
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user.id),
            "role": user.role,
            "fam": family_id,
            "jti": secrets.token_urlsafe(16),
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(self.access_ttl),
        }
        return self.encode(claims)

    def encode(self, claims: dict[str, Any]) -> str:
        """``claims`` signed as they are, with the configured algorithm and key: every
        signature the node makes is made here."""
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm,
                          headers={"typ": ACCESS_TOKEN_TYPE})

    # -- verifying --------------------------------------------------------------------------

    def decode(self, token: str) -> AccessToken:
        """The claims of ``token`` once its signature, algorithm, type and claims check;
        raises :class:`TokenError`. Does not look at revocation: see :meth:`verify`."""
        try:
            # Only its structure: three base64url parts, a header and a payload that are
            # JSON objects. Nothing here is trusted yet.
            header = jwt.get_unverified_header(token)
            jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise TokenError("malformed_token", "the token is not a JWT") from None
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenError("invalid_token", "the token is not an access token")
        try:
            claims = jwt.decode(
                token,
                self._verifying_key,
                # Pinned: the token's own header never chooses how it is checked.
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": _REQUIRED_CLAIMS, "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("expired_token", "the token has expired") from None
        except jwt.InvalidSignatureError:
            raise TokenError("invalid_token", "the token's signature does not verify") from None
        except jwt.InvalidAlgorithmError:
            raise TokenError("invalid_token",
                             f"the token must be signed with {self.algorithm}") from None
        except jwt.InvalidTokenError as e:  # a claim wrong, missing or ill-typed
            raise TokenError("invalid_token", str(e) or "the token is invalid") from None
        return _claims(claims)

    async def verify(self, token: str) -> AccessToken:
        """:meth:`decode`, then check the token's family is still live."""
        access = self.decode(token)
        row = await Repo.fetch_one("SELECT revoked_at FROM token_families WHERE id = ?",
                                   (access.family_id,), repo=self.repo)
        if row is None or row["revoked_at"] is not None:
            raise TokenError("revoked_token", "the token has been revoked")
        return access

    # -- revoking ---------------------------------------------------------------------------

    async def revoke_family(self, family_id: str) -> None:
        """End one login: its refresh token and its access tokens stop working."""
        await Repo.execute(
            "UPDATE token_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), family_id), repo=self.repo,
        )

    async def revoke_user(self, user_id: int) -> None:
        """End every API login of ``user_id`` (after a password change, say)."""
        now = time.time()
        await Repo.transaction(lambda conn: revoke_families(conn, user_id, now), repo=self.repo)

    # -- refresh tokens ---------------------------------------------------------------------

    async def _spend(self, refresh_token: str) -> _Spent:
        now = time.time()
        token_hash = _hash(refresh_token)
        fresh = _new_refresh_token()

        async def rotate(conn: Connection) -> _Spent | TokenError:
            # Refusals are returned, not raised: raising would roll back a family's
            # revocation along with everything else. The token's row (and its family's) is
            # locked from the read on: the same token presented twice at once, to two nodes
            # of one PostgreSQL database, is spent by one and seen spent by the other.
            row = await conn.fetch_one(
                "SELECT r.family_id, r.user_id, r.expires_at, r.used_at, f.revoked_at"
                " FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id"
                " WHERE r.token_hash = ? FOR UPDATE",
                (token_hash,),
            )
            if row is None:
                return TokenError("invalid_token", "unknown refresh token")
            family_id, user_id = row["family_id"], row["user_id"]
            if row["revoked_at"] is not None:
                return TokenError("revoked_token", "the token has been revoked")
            if row["used_at"] is not None:
                await conn.execute("UPDATE token_families SET revoked_at = ? WHERE id = ?",
                                   (now, family_id))
                log.warning("refresh token used twice: revoked token family %s of user %s",
                            family_id, user_id)
                return TokenError("revoked_token",
                                  "the refresh token was used already; its login is revoked",
                                  revoked_family=family_id)
            if row["expires_at"] <= now:
                return TokenError("expired_token", "the refresh token has expired")
            await conn.execute("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?",
                               (now, token_hash))
            await self._store_refresh(conn, fresh, family_id, user_id, now)
            return _Spent(user_id, family_id, fresh)

        result = await Repo.transaction(rotate, repo=self.repo)
        if isinstance(result, TokenError):
            raise result
        return result

    async def _store_refresh(
        self, conn: Connection, token: str, family_id: str, user_id: int, now: float
    ) -> None:
        await conn.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (_hash(token), family_id, user_id, now, now + self.refresh_ttl),
        )


# -- helpers ---------------------------------------------------------------------------------


def _new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _claims(claims: dict[str, Any]) -> AccessToken:
    sub, role, fam, jti, exp = (claims.get(k) for k in ("sub", "role", "fam", "jti", "exp"))
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()):
        raise TokenError("invalid_token", "the token's subject is not an account")
    if not is_role(role):
        raise TokenError("invalid_token", "the token's role is not a role")
    if not isinstance(fam, str) or not isinstance(jti, str):
        raise TokenError("invalid_token", "the token's fam and jti must be strings")
    if not isinstance(exp, (int, float)):
        raise TokenError("invalid_token", "the token's exp must be a number")
    return AccessToken(int(sub), str(role), fam, jti, float(exp))


# -- keys ------------------------------------------------------------------------------------

_SigningKey = bytes | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
_VerifyingKey = bytes | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

# The key types each asymmetric algorithm signs and verifies with.
_KEY_KINDS: dict[str, tuple[tuple[type, ...], tuple[type, ...], str]] = {
    "RS256": ((rsa.RSAPrivateKey,), (rsa.RSAPublicKey,), "an RSA"),
    "EdDSA": (
        (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey),
        (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
        "an Ed25519 or Ed448",
    ),
}


def check_keys(auth: AuthConfig) -> None:
    """Raise the :class:`~hearth.config.ConfigError` that making :class:`Tokens` from
    ``auth`` would raise, by the same loader: ``hearth serve`` calls it before the tree
    starts. HS256 reads no file (its key comes from the node's secret), so it always
    passes."""
    if auth.jwt_algorithm != "HS256":
        _load_key_files(auth)


def _load_keys(auth: AuthConfig, secret: bytes) -> tuple[_SigningKey, _VerifyingKey]:
    if auth.jwt_algorithm == "HS256":
        # A key of its own, derived from the node's secret, so that nothing signed for
        # another purpose (a session cookie) can ever pass for an access token.
        key = hmac.new(secret, b"hearth api access tokens", hashlib.sha256).digest()
        return key, key
    return _load_key_files(auth)


def _load_key_files(auth: AuthConfig) -> tuple[_SigningKey, _VerifyingKey]:
    private = _read_pem(auth.jwt_private_key_path, "jwt_private_key_path", auth.jwt_algorithm)
    public = _read_pem(auth.jwt_public_key_path, "jwt_public_key_path", auth.jwt_algorithm)
    try:
        signing: Any = serialization.load_pem_private_key(private, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ConfigError(f"auth.jwt_private_key_path: {auth.jwt_private_key_path} is not an "
                          f"unencrypted PEM private key: {e}") from None
    try:
        verifying: Any = serialization.load_pem_public_key(public)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ConfigError(f"auth.jwt_public_key_path: {auth.jwt_public_key_path} is not a "
                          f"PEM public key: {e}") from None
    private_kinds, public_kinds, expected = _KEY_KINDS[auth.jwt_algorithm]
    if not any(isinstance(signing, kind) for kind in private_kinds):
        raise ConfigError(f"auth.jwt_private_key_path: {auth.jwt_algorithm} needs "
                          f"{expected} private key")
    if not any(isinstance(verifying, kind) for kind in public_kinds):
        raise ConfigError(f"auth.jwt_public_key_path: {auth.jwt_algorithm} needs "
                          f"{expected} public key")
    if isinstance(signing, rsa.RSAPrivateKey) and signing.key_size < MIN_RSA_BITS:
        raise ConfigError(f"auth.jwt_private_key_path: the RSA key has {signing.key_size} "
                          f"bits; RS256 needs at least {MIN_RSA_BITS}")
    if _public_bytes(signing.public_key()) != _public_bytes(verifying):
        raise ConfigError("auth.jwt_public_key_path: the public key is not the private "
                          "key's pair")
    return signing, verifying


def _read_pem(path: str, setting: str, algorithm: str) -> bytes:
    if not path:
        raise ConfigError(f"auth.{setting}: {algorithm} needs a PEM key file, and none is set")
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"auth.{setting}: cannot read {path}: {e.strerror}") from None


def _public_bytes(key: Any) -> bytes:
    data: bytes = key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


async def revoke_families(conn: Connection, user_id: int, now: float) -> None:
    """End every API login of ``user_id``, inside the caller's transaction: their access
    tokens stop working at the next request and their refresh tokens are refused."""
    await conn.execute(
        "UPDATE token_families SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        (now, user_id),
    )
