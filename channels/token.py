"""Signed (and encrypted) tokens with Phoenix.Token's semantics (``protocol.md`` §3).

``sign(secret, salt, data)`` makes a token anyone can read but nobody can forge;
``encrypt`` makes one nobody can read either. ``verify``/``decrypt`` give the data back or
raise :class:`TokenError` with ``reason`` ``"missing"`` (no token), ``"invalid"`` (bad shape,
bad signature, wrong salt, signed in the future) or ``"expired"`` (older than ``max_age``).

The salt is a namespace: a token made with one salt never verifies with another. Keys are
derived per salt (PBKDF2-HMAC-SHA256, 1000 rounds, as Phoenix does) and cached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from functools import lru_cache
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["TokenError", "decrypt", "encrypt", "sign", "verify"]

DEFAULT_MAX_AGE = 86400.0
_SIGNED = b"HS256"
_ENCRYPTED = b"A256GCM"


class TokenError(ValueError):
    """The token cannot be used; ``reason`` is ``missing``, ``invalid`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@lru_cache(maxsize=64)
def _key(secret: bytes, salt: str, purpose: bytes) -> bytes:
    if len(secret) < 20:
        raise ValueError("the secret must be at least 20 bytes")
    return hashlib.pbkdf2_hmac("sha256", secret, salt.encode() + b"|" + purpose, 1000, 32)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _envelope(data: Any, signed_at: float | None, max_age: float | None) -> bytes:
    signed_ms = int((time.time() if signed_at is None else signed_at) * 1000)
    age = DEFAULT_MAX_AGE if max_age is None else max_age
    return orjson.dumps({"d": data, "s": signed_ms, "m": age})


def _check(envelope: bytes, max_age: float | None) -> Any:
    try:
        body = orjson.loads(envelope)
        data, signed_ms, embedded = body["d"], body["s"], body["m"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise TokenError("invalid") from None
    age = embedded if max_age is None else max_age
    now_ms = time.time() * 1000
    if age is not None and age != float("inf"):
        if age <= 0:
            raise TokenError("expired")
        if signed_ms > now_ms + 1000:  # a second of clock skew is tolerated
            raise TokenError("invalid")
        if signed_ms + age * 1000 < now_ms:
            raise TokenError("expired")
    return data


def sign(
    secret: bytes, salt: str, data: Any, signed_at: float | None = None,
    max_age: float | None = None,
) -> str:
    """A token carrying ``data`` (readable by anyone), valid ``max_age`` seconds (default a
    day) from ``signed_at`` (seconds; default now)."""
    payload = _b64(_envelope(data, signed_at, max_age))
    head = _b64(_SIGNED)
    mac = hmac.new(_key(secret, salt, b"sign"), head + b"." + payload, "sha256").digest()
    return b".".join((head, payload, _b64(mac))).decode()


def verify(secret: bytes, salt: str, token: str | None, max_age: float | None = None) -> Any:
    """The data of a :func:`sign` token; raises :class:`TokenError`. ``max_age`` here
    overrides the one embedded at signing."""
    if not token:
        raise TokenError("missing")
    try:
        head, payload, mac = token.encode().split(b".")
        expected = hmac.new(_key(secret, salt, b"sign"), head + b"." + payload, "sha256").digest()
        if head != _b64(_SIGNED) or not hmac.compare_digest(expected, _unb64(mac)):
            raise TokenError("invalid")
        envelope = _unb64(payload)
    except (ValueError, UnicodeEncodeError):
        raise TokenError("invalid") from None
    return _check(envelope, max_age)


def encrypt(
    secret: bytes, salt: str, data: Any, signed_at: float | None = None,
    max_age: float | None = None,
) -> str:
    """Like :func:`sign`, but the data is also unreadable without the secret (AES-256-GCM)."""
    nonce = os.urandom(12)
    head = _b64(_ENCRYPTED)
    sealed = AESGCM(_key(secret, salt, b"encrypt")).encrypt(
        nonce, _envelope(data, signed_at, max_age), head
    )
    return b".".join((head, _b64(nonce), _b64(sealed))).decode()


def decrypt(secret: bytes, salt: str, token: str | None, max_age: float | None = None) -> Any:
    """The data of an :func:`encrypt` token; raises :class:`TokenError`."""
    if not token:
        raise TokenError("missing")
    try:
        head, nonce, sealed = token.encode().split(b".")
        if head != _b64(_ENCRYPTED):
            raise TokenError("invalid")
        envelope = AESGCM(_key(secret, salt, b"encrypt")).decrypt(
            _unb64(nonce), _unb64(sealed), head
        )
    except TokenError:
        raise
    except Exception:  # any failure to open the box means the same thing
        raise TokenError("invalid") from None
    return _check(envelope, max_age)
