"""API keys: long-lived credentials for programs, shown once, stored as a hash.

A key reads ``hk_<prefix>_<secret>``. The prefix (12 hex digits) is stored as it is: it finds
the key's row and names the key in listings. The secret (32 random bytes, base64url) is
stored only as its SHA-256, compared in constant time; nobody, the server included, can show
a key again after :func:`create_key` has returned it. A plain hash is enough here, unlike a
password's: 256 random bits leave nothing to guess.

A request made with a key acts as the key's owner. Only the owner, or an admin, may revoke
a key (:func:`can_revoke`); a revoked key stays listed, marked revoked, and never works again.

A key and its owner, once read, are trusted for :data:`KNOWN_FOR` seconds without reading
them again, so the API's requests do not each wait for the database. Revoking a key forgets
it at once; a role changed from the command line (another program) counts within
:data:`KNOWN_FOR` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from store import Connection, IntegrityError, Repo, Row

from .accounts import User
from .roles import at_least
from .tokens import Subject

__all__ = [
    "KNOWN_FOR",
    "MAX_KEYS",
    "MAX_NAME",
    "TOUCH_EVERY",
    "ApiKey",
    "ApiKeyError",
    "authenticate",
    "can_revoke",
    "create_key",
    "get_key",
    "list_keys",
    "revoke_key",
]

KIND = "hk"
MAX_NAME = 100
MAX_KEYS = 25
"""Live (unrevoked) keys one account may hold."""

TOUCH_EVERY = 60.0
"""Seconds between two writes of a key's ``last_used_at``. Writing it on every request would
put a write, which waits for the one writer connection, on every API call; to the minute is
as much as anyone reads from it."""

KNOWN_FOR = 2.0
"""Seconds a key and its owner, once read, are used without reading them again."""
MAX_KNOWN = 10_000

_PREFIX = re.compile(r"[0-9a-f]{12}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_COLUMNS = "id, user_id, name, prefix, created_at, last_used_at, revoked_at"
_KEY_COLUMNS = ", ".join(f"k.{column}" for column in _COLUMNS.split(", "))


class ApiKeyError(Exception):
    """A key could not be made or was refused; ``code`` says why: ``invalid_name``,
    ``too_many_keys`` or ``invalid_api_key``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApiKey:
    """A key as its owner sees it: everything but the secret."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked": self.revoked,
            "revoked_at": self.revoked_at,
        }


async def create_key(user_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for ``user_id``, and the key itself: show it once, it is not kept."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ApiKeyError("invalid_name", f"name must be 1 to {MAX_NAME} characters")
    now = time.time()
    for _ in range(3):  # a prefix already taken: draw another
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        insert = functools.partial(_insert, user_id, name, prefix, _hash(secret), now)
        try:
            result = await Repo.transaction(insert)
        except IntegrityError:
            continue
        if isinstance(result, ApiKeyError):
            raise result
        key = ApiKey(result, user_id, name, prefix, now, None, None)
        return key, f"{KIND}_{prefix}_{secret}"
    raise RuntimeError("could not draw an unused API key prefix in 3 tries")


async def _insert(
    user_id: int, name: str, prefix: str, key_hash: str, now: float, conn: Connection
) -> int | ApiKeyError:
    # Counted and inserted in one transaction, so two requests at once cannot both pass;
    # the owner's row is locked first, so neither can two nodes of one PostgreSQL database.
    await conn.execute("SELECT 1 FROM users WHERE id = ? FOR UPDATE", (user_id,))
    row = await conn.fetch_one(
        "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NULL", (user_id,)
    )
    if row is not None and row[0] >= MAX_KEYS:
        return ApiKeyError("too_many_keys",
                           f"an account may hold {MAX_KEYS} live keys; revoke one first")
    inserted = await conn.fetch_one(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (user_id, name, prefix, key_hash, now),
    )
    assert inserted is not None
    return int(inserted["id"])


async def list_keys(user_id: int) -> list[ApiKey]:
    """The keys of ``user_id``, newest first, revoked ones included."""
    rows = await Repo.fetch_all(
        f"SELECT {_COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY id DESC", (user_id,)
    )
    return [_key(row) for row in rows]


async def get_key(key_id: int) -> ApiKey | None:
    """The key ``key_id``, or ``None``."""
    row = await Repo.fetch_one(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
    return None if row is None else _key(row)


def can_revoke(user: Subject, key: ApiKey) -> bool:
    """Whether ``user`` may revoke ``key``: its owner, or an admin."""
    return key.user_id == user.id or at_least(user.role, "admin")


async def revoke_key(key_id: int) -> ApiKey | None:
    """Revoke ``key_id`` (once: revoking again changes nothing); the key, or ``None`` if
    there is no such key. Check :func:`can_revoke` first."""
    await Repo.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (time.time(), key_id),
    )
    key = await get_key(key_id)
    if key is not None:
        _known.pop(key.prefix, None)
    return key


async def authenticate(presented: str) -> tuple[ApiKey, User]:
    """The live key ``presented`` is, and its owner as they are now, read in one query;
    raises :class:`ApiKeyError` ``invalid_api_key``."""
    kind, _, rest = presented.partition("_")
    prefix, _, secret = rest.partition("_")
    if kind != KIND or not _PREFIX.fullmatch(prefix) or not _SECRET.fullmatch(secret):
        raise ApiKeyError("invalid_api_key", "the API key is malformed")
    now = time.monotonic()
    known = _known.get(prefix)
    if known is None or now - known.read_at >= KNOWN_FOR:
        known = await _read_once(prefix, now)
    if known is None or not hmac.compare_digest(_hash(secret), known.key_hash):
        raise ApiKeyError("invalid_api_key", "the API key is not known")
    key = known.key
    # Said only to whoever holds the whole key.
    if key.revoked:
        raise ApiKeyError("invalid_api_key", "the API key has been revoked")
    used = time.time()
    if key.last_used_at is None or used - key.last_used_at >= TOUCH_EVERY:
        known.key = dataclasses.replace(key, last_used_at=used)
        await Repo.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (used, key.id))
    return known.key, known.owner


class _Known:
    __slots__ = ("key", "key_hash", "owner", "read_at")

    def __init__(self, key: ApiKey, key_hash: str, owner: User, read_at: float) -> None:
        self.key = key
        self.key_hash = key_hash
        self.owner = owner
        self.read_at = read_at


_known: dict[str, _Known] = {}
"""Keys read lately, by prefix (only keys that exist: a guessed prefix is never kept)."""


_reading: dict[str, asyncio.Future[_Known | None]] = {}
"""Reads in flight, by prefix: requests arriving while a key is being read wait for that one
read rather than each making their own (as many as there are requests in flight, every
:data:`KNOWN_FOR` seconds)."""


async def _read_once(prefix: str, now: float) -> _Known | None:
    pending = _reading.get(prefix)
    if pending is None:
        pending = _reading[prefix] = asyncio.ensure_future(_read(prefix, now))
        pending.add_done_callback(lambda _: _reading.pop(prefix, None))
    # Shielded: a request that gives up does not cancel the read the others wait for.
    return await asyncio.shield(pending)


async def _read(prefix: str, now: float) -> _Known | None:
    row = await Repo.fetch_one(
        f"SELECT {_KEY_COLUMNS}, k.key_hash, u.email, u.role, u.display_name,"
        " u.created_at AS user_created_at, u.updated_at AS user_updated_at"
        " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?",
        (prefix,),
    )
    if row is None:
        _known.pop(prefix, None)
        return None
    key = _key(row)
    owner = User(key.user_id, row["email"], row["role"], row["display_name"],
                 row["user_created_at"], row["user_updated_at"])
    if len(_known) >= MAX_KNOWN:
        _known.clear()
    known = _known[prefix] = _Known(key, row["key_hash"], owner, now)
    return known


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(row: Row) -> ApiKey:
    return ApiKey(row["id"], row["user_id"], row["name"], row["prefix"], row["created_at"],
                  row["last_used_at"], row["revoked_at"])
