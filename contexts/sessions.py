"""Browser sessions on the server: one row of ``sessions`` per signed-in browser.

The browser holds a random token (inside its encrypted cookie, ``web.session``); the table
keeps only its sha256, the user and an expiry, so a stolen database does not sign anyone in
and a session ends wherever its cookie is once its row is gone. :func:`lookup` is the one
query a page request makes to know its user.

A session's :func:`ref` (that sha256) names it to things that outlive a request, such as the
socket tokens a page hands out: :func:`lookup_ref` finds the user while the session lives,
and nothing once it has ended (logout, a password reset, "log out everywhere").
"""

from __future__ import annotations

import hashlib
import secrets
import time

from store import Connection, Repo

from .accounts import User

__all__ = ["create", "delete", "delete_all_for_user", "lookup", "lookup_ref", "ref"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(user_id: int, max_age: float) -> str:
    """Start a session for ``user_id`` that ends in ``max_age`` seconds; returns its token
    (keep it secret: it signs the browser in)."""
    token = secrets.token_urlsafe(32)
    now = time.time()

    async def insert(conn: Connection) -> None:
        # Each login also clears the user's expired rows, so the table stays bounded
        # without a sweeper.
        await conn.execute(
            "DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?", (user_id, now)
        )
        await conn.execute(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (_hash(token), user_id, now, now + max_age),
        )

    await Repo.transaction(insert)
    return token


async def lookup(token: str) -> User | None:
    """The user whose live session ``token`` names, or ``None`` (unknown, ended, expired)."""
    return await lookup_ref(_hash(token))


def ref(token: str) -> str:
    """What names the session ``token`` without signing anyone in: for :func:`lookup_ref`."""
    return _hash(token)


async def lookup_ref(session_ref: str) -> User | None:
    """The user of the live session :func:`ref` gave ``session_ref`` for, or ``None``
    (ended, expired, unknown): one lookup by primary key."""
    row = await Repo.fetch_one(
        "SELECT u.id, u.email, u.role, u.display_name, u.created_at, u.updated_at"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id_hash = ? AND s.expires_at > ?",
        (session_ref, time.time()),
    )
    if row is None:
        return None
    return User(
        id=row["id"],
        email=row["email"],
        role=row["role"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def delete(token: str) -> None:
    """End the session ``token`` names (nothing if there is none)."""
    await Repo.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(token),))


async def delete_all_for_user(user_id: int) -> int:
    """End every session of ``user_id`` ("log out everywhere"); returns how many.
    (``Accounts.reset_password`` ends them itself, in the transaction that changes the
    password.)"""
    result = await Repo.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    return result.rowcount

