"""Keys and hand-made tokens for the token tests: PEM key pairs on disk, and JWTs edited
the way a forger can (their payload changed, their signature kept)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def write_rsa_pair(directory: Path, bits: int = 2048) -> tuple[Path, Path]:
    """A fresh RSA key pair as PEM files: (private, public)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _write_pair(directory, "rsa", key)


def write_ed25519_pair(directory: Path) -> tuple[Path, Path]:
    """A fresh Ed25519 key pair as PEM files: (private, public)."""
    return _write_pair(directory, "ed25519", ed25519.Ed25519PrivateKey.generate())


def _write_pair(directory: Path, stem: str, key: Any) -> tuple[Path, Path]:
    private = directory / f"{stem}.pem"
    public = directory / f"{stem}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified."""
    payload: dict[str, Any] = json.loads(unb64url(token.split(".")[1]))
    return payload


def with_claims(token: str, **changes: Any) -> str:
    """``token`` with its payload edited and its signature kept: what a forger can do
    without the key."""
    header, _, signature = token.split(".")
    payload = {**claims_of(token), **changes}
    return ".".join([header, b64url(json.dumps(payload).encode()), signature])
