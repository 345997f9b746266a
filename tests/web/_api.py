"""A running node for the API tests: the real tree on a temporary database, and a client.

``async with api_node(tmp_path) as node`` starts ``supervisors.root`` (Repo, dirty pool,
RateLimiter, Endpoint on port 0, ...) with bcrypt at cost 4 and no demo data, and stops it on
the way out. A context manager rather than a fixture: the tree's parent is the process of the
task that starts it, and it stops when that task ends.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

import otp
from contexts.accounts import Accounts, User
from contexts.tokens import Tokens
from hearth.config import Config, load_config
from otp import Down
from supervisors.root import root_spec
from web.endpoint import Endpoint

SECRET = "k" * 40
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Answer:
    """What the server answered, read."""

    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def code(self) -> str | None:
        """The API error code, if this is a problem document."""
        if self.headers.get("Content-Type", "").startswith("application/problem+json"):
            code: str = self.body["code"]
            return code
        return None

    @property
    def detail(self) -> str:
        """The problem document's message for people."""
        assert self.code is not None, self
        detail: str = self.body["detail"]
        return detail


@dataclass
class Node:
    """A running node and a client for it."""

    url: str
    config: Config
    http: aiohttp.ClientSession
    accounts: Accounts
    tokens: Tokens
    """Made from the same configuration and secret as the node's: what it signs, the node
    accepts (tests use it to make tokens the API would never issue)."""

    async def user(self, email: str, role: str = "user") -> User:
        """A new account with :data:`PASSWORD`."""
        return await self.accounts.register(email, PASSWORD, email.split("@")[0], role)

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """The token pair of a successful login."""
        answer = await self.request(
            "POST", "/api/v1/auth/token", json={"email": email, "password": password}
        )
        assert answer.status == 200, answer
        body: dict[str, Any] = answer.body
        return body

    async def token(self, email: str, role: str = "user") -> str:
        """An access token of a new account."""
        await self.user(email, role)
        access: str = (await self.login(email))["access_token"]
        return access

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request, with a Bearer ``token`` or an ``api_key`` if given."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if api_key is not None:
            sent["X-API-Key"] = api_key
        async with self.http.request(
            method, self.url + path, json=json, data=data, headers=sent
        ) as response:
            raw = await response.read()
            body: Any = None
            if response.content_type.endswith("json"):
                body = orjson.loads(raw) if raw else None
            elif raw:
                body = raw.decode(errors="replace")
            return Answer(response.status, body, response.headers)


def config_for(tmp_path: Path, **overrides: Any) -> Config:
    """The test configuration; ``overrides`` by dotted key (``{"auth.jwt_algorithm": ...}``
    as ``auth__jwt_algorithm=...``)."""
    settings: dict[str, Any] = {
        "server.port": 0,
        "server.access_log": "0",
        "node.dirty_pool_size": 2,
        "database.path": str(tmp_path / "hearth.db"),
        "auth.secret_key": SECRET,
        "auth.bcrypt_cost": 4,
        "demo.seed": "0",
        # Tests make many requests from one address; quota tests set their own limits.
        "api.rate_limit": 100_000,
        "api.anonymous_rate_limit": 100_000,
    }
    settings.update({key.replace("__", "."): value for key, value in overrides.items()})
    return load_config(env={}, overrides=settings)


@asynccontextmanager
async def api_node(tmp_path: Path, **overrides: Any) -> AsyncIterator[Node]:
    """The node's tree on ``tmp_path``, serving on a free port; stopped on the way out."""
    config = config_for(tmp_path, **overrides)
    otp.trap_exit(True)
    root = await root_spec(config).start()
    assert root is not None
    try:
        host, port = await Endpoint.address()
        async with aiohttp.ClientSession() as http:
            yield Node(
                f"http://{host}:{port}",
                config,
                http,
                Accounts(config.auth),
                Tokens(config.auth, SECRET.encode()),
            )
    finally:
        ref = otp.monitor(root)
        otp.exit(root, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is Down and m.ref == ref)


# -- keys and hand-made tokens ---------------------------------------------------------------


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
