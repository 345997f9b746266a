"""Identities: a user's accounts at other sites (Google, GitHub, any OpenID provider), the
seed's ``find_or_create_user`` (Example 41).

A :class:`Profile` is what a provider said about the person signing in (``contexts.oauth``
checks that it said it). :func:`find_or_create_user` turns it into a user of ours:

- the identity ``(provider, uid)`` is known: its user;
- else a user has the profile's email: linked to it, only if the provider says it verified
  that address (else :class:`EmailNotVerified`: anyone can register an address they do not
  own at some provider, and must not get the account of its owner here by doing so);
- else a new user with the profile's email and name and no password
  (``accounts.NO_PASSWORD``); an email the provider has not verified makes no account
  either (it would hold the address against its owner, who would reset its password).

A signed-in user :func:`link` s more identities (one per provider) and :func:`unlink` s them,
but never the last way to sign in: an account without a password keeps its last identity
(:class:`LastSignIn`). Each refusal is an :class:`IdentityRefused` whose message says why,
for the person who tried.
"""

from __future__ import annotations

import sqlite3
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.repo import NAME as REPO
from actors.repo import Repo, Row

from .accounts import (
    MAX_DISPLAY_NAME,
    NO_PASSWORD,
    User,
    has_password,
    insert_user,
    is_valid_email,
    normalize_email,
)

__all__ = [
    "EmailNotVerified",
    "Identity",
    "IdentityRefused",
    "LastSignIn",
    "NoEmail",
    "Profile",
    "TakenIdentity",
    "find_or_create_user",
    "has_password_for",
    "link",
    "list_identities",
    "unlink",
]

_USER = "u.id, u.email, u.role, u.display_name, u.created_at, u.updated_at"


@dataclass(frozen=True)
class Profile:
    """The person signing in, as a provider described them (and vouched for)."""

    provider: str
    """The provider's name in our config (``google``), not its label."""
    uid: str
    """The provider's id for them (an OpenID ``sub``, GitHub's numeric id): never reused."""
    email: str | None
    email_verified: bool
    name: str


@dataclass(frozen=True)
class Identity:
    """One of a user's accounts at a provider."""

    id: int
    user_id: int
    provider: str
    uid: str
    email: str | None
    created_at: float
    last_used_at: float


class IdentityRefused(Exception):
    """This sign-in or link is not done; the message says why, to the person who tried."""


class EmailNotVerified(IdentityRefused):
    """The provider has not verified the email it gave, which an account of ours has (or
    which would make one)."""


class NoEmail(IdentityRefused):
    """The provider gave no email (or one that is not an address): no account can be made."""


class TakenIdentity(IdentityRefused):
    """The identity belongs to another user, or this user has another at the provider."""


class LastSignIn(IdentityRefused):
    """Unlinking would leave the account with no way to sign in."""


async def find_or_create_user(profile: Profile, label: str, *, repo: Any = REPO,
                              clock: Callable[[], float] = time.time) -> tuple[User, str]:
    """The user ``profile`` signs in as, and how they were found: ``"known"`` (by the
    identity), ``"linked"`` (by a verified email; the identity is added) or ``"created"``.
    Raises :class:`IdentityRefused`. ``label`` names the provider in its messages."""

    async def find(conn: Any) -> tuple[User, str]:
        now = clock()
        user = await _user_by_identity(conn, profile, now)
        if user is not None:
            return user, "known"
        email = _email(profile, label)
        row = await fetch_one_in(
            conn, "SELECT id, email, role, display_name, created_at, updated_at FROM users"
            " WHERE email_norm = ?", (normalize_email(email),))
        if row is not None:
            if not profile.email_verified:
                raise EmailNotVerified(
                    f"An account with {email} exists already, and {label} has not verified "
                    f"that address. Log in with your password, then link {label} on your "
                    "account page."
                )
            user = _user(row)
            if not await _insert_identity(conn, user.id, profile, now, label):
                return user, "known"  # a sign-in at the same moment linked it first
            return user, "linked"
        if not profile.email_verified:
            raise EmailNotVerified(
                f"{label} has not verified your address {email}. Verify it at {label}, or "
                "register with a password."
            )
        user = await insert_user(conn, email=email, password_hash=NO_PASSWORD,
                                 display_name=_display_name(profile, email), role="user",
                                 now=now)
        await _insert_identity(conn, user.id, profile, now, label)
        return user, "created"

    return await _retrying(find, repo)


async def link(user: User, profile: Profile, label: str, *, repo: Any = REPO,
               clock: Callable[[], float] = time.time) -> None:
    """Add ``profile``'s identity to the signed-in ``user`` (again: nothing changes).
    Raises :class:`TakenIdentity` when it is another user's, or ``user`` has another
    identity at this provider."""

    async def add(conn: Any) -> None:
        now = clock()
        owner = await _user_by_identity(conn, profile, now)
        if owner is not None:
            if owner.id != user.id:
                raise TakenIdentity(f"That {label} account is linked to another user already.")
            return
        await _insert_identity(conn, user.id, profile, now, label)

    await _retrying(add, repo)


async def unlink(user_id: int, provider: str, label: str, *, repo: Any = REPO) -> None:
    """Remove the user's identity at ``provider``; raises :class:`LastSignIn` when it is
    the account's only way to sign in, :class:`IdentityRefused` when there is none."""

    async def remove(conn: Any) -> None:
        count = await fetch_one_in(
            conn, "SELECT COUNT(*) AS n, SUM(CASE WHEN provider = ? THEN 1 ELSE 0 END) AS here"
            " FROM identities WHERE user_id = ?", (provider, user_id))
        if count is None or not count["here"]:
            raise IdentityRefused(f"{label} is not linked to your account.")
        row = await fetch_one_in(conn, "SELECT password_hash FROM users WHERE id = ?",
                                 (user_id,))
        if count["n"] == 1 and (row is None or not has_password(row["password_hash"])):
            raise LastSignIn(
                f"{label} is the only way into this account: set a password (\"Forgot your "
                "password?\" on the login page mails a link) or link another site first."
            )
        await conn.execute("DELETE FROM identities WHERE user_id = ? AND provider = ?",
                           (user_id, provider))

    await Repo.transaction(remove, repo=repo)


async def list_identities(user_id: int, *, repo: Any = REPO) -> list[Identity]:
    """The user's identities, oldest first."""
    rows = await Repo.fetch_all(
        "SELECT id, user_id, provider, uid, email, created_at, last_used_at FROM identities"
        " WHERE user_id = ? ORDER BY id", (user_id,), repo=repo,
    )
    return [Identity(r["id"], r["user_id"], r["provider"], r["uid"], r["email"],
                     r["created_at"], r["last_used_at"]) for r in rows]


async def has_password_for(user_id: int, *, repo: Any = REPO) -> bool:
    """Whether the user can log in with a password."""
    row = await Repo.fetch_one("SELECT password_hash FROM users WHERE id = ?", (user_id,),
                               repo=repo)
    return row is not None and has_password(row["password_hash"])


# -- inside a transaction --------------------------------------------------------------------


async def fetch_one_in(conn: Any, sql: str, params: tuple[Any, ...]) -> Row | None:
    """One row read inside ``Repo.transaction``: with the Repo's own connection
    (``fetch_one``), or an aiosqlite connection, as the Repo handed them before its backends
    (``store``); drop that branch once no Repo hands one."""
    fetch = getattr(conn, "fetch_one", None)
    if fetch is not None:
        row: Row | None = await fetch(sql, params)
        return row
    rows = list(await conn.execute_fetchall(sql, params))
    return rows[0] if rows else None


async def _retrying(work: Callable[[Any], Any], repo: Any) -> Any:
    try:
        return await Repo.transaction(work, repo=repo)
    except sqlite3.IntegrityError:
        # The same person signing in twice at once (both made the user or the identity):
        # the second sees what the first stored.
        return await Repo.transaction(work, repo=repo)


async def _user_by_identity(conn: Any, profile: Profile, now: float) -> User | None:
    row = await fetch_one_in(
        conn, f"SELECT i.id AS identity_id, {_USER} FROM identities i JOIN users u"
        " ON u.id = i.user_id WHERE i.provider = ? AND i.uid = ?",
        (profile.provider, profile.uid))
    if row is None:
        return None
    await conn.execute("UPDATE identities SET last_used_at = ?, email = ? WHERE id = ?",
                       (now, profile.email, row["identity_id"]))
    return _user(row)


async def _insert_identity(conn: Any, user_id: int, profile: Profile, now: float,
                           label: str) -> bool:
    """Link ``profile`` to the user; False when that very identity is linked already (on
    PostgreSQL each statement sees what other sign-ins committed since the first)."""
    held = await fetch_one_in(conn, "SELECT uid FROM identities WHERE user_id = ? AND provider = ?",
                              (user_id, profile.provider))
    if held is not None:
        if held["uid"] == profile.uid:
            return False
        raise TakenIdentity(
            f"Another {label} account is linked to this user already: unlink it on the "
            "account page first."
        )
    await conn.execute(
        "INSERT INTO identities (user_id, provider, uid, email, created_at, last_used_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, profile.provider, profile.uid, profile.email, now, now),
    )
    return True


def _email(profile: Profile, label: str) -> str:
    email = (profile.email or "").strip()
    if not email or not is_valid_email(email):
        raise NoEmail(f"{label} did not share an email address, which an account needs. "
                      f"Allow it at {label}, or register with a password.")
    return email


def _display_name(profile: Profile, email: str) -> str:
    name = "".join(c for c in profile.name if unicodedata.category(c) != "Cc").strip()
    return name[:MAX_DISPLAY_NAME].strip() or email.split("@")[0][:MAX_DISPLAY_NAME]


def _user(row: Row) -> User:
    return User(row["id"], row["email"], row["role"], row["display_name"], row["created_at"],
                row["updated_at"])
