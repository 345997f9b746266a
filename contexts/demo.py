"""Demo data: a fresh database gets sample users, rooms and posts to try Hearth with.

On a database without users, and when ``demo.seed`` is on, :class:`DemoSeed` (a child of the
root, started after the Repo, the dirty pool and the Mailer, before the Endpoint) creates an
admin, a moderator and two users with random passwords, a few rooms and a few posts, all in
one transaction, and prints the accounts with their passwords once to stdout. They are never
logged, and never shown again: a database with users is left alone, so a second start seeds
and prints nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TextIO

from hearth.config import Config
from otp import GenServer, Ignore
from store import NAME as REPO
from store import Connection, IntegrityError, Repo

from .accounts import Accounts, insert_user

__all__ = ["DEMO_USERS", "DemoAccount", "DemoSeed", "print_accounts", "seed_demo"]

log = logging.getLogger(__name__)

DEMO_USERS = (
    ("admin@example.com", "admin", "Ada (admin)"),
    ("moderator@example.com", "moderator", "Max (moderator)"),
    ("alice@example.com", "user", "Alice"),
    ("bob@example.com", "user", "Bob"),
)
"""Email, role and display name of each demo account."""

DEMO_ROOMS = (("lobby", "Lobby"), ("python", "Python"), ("otp", "OTP and actors"))

# The cart page's catalog: name, price in cents.
DEMO_PRODUCTS = (
    ("Cast-iron kettle", 3450),
    ("Oak log basket", 2200),
    ("Wool hearth rug", 5900),
    ("Fire steel", 1250),
)

# Author (an index into DEMO_USERS), title, body.
DEMO_POSTS = (
    (0, "Welcome to Hearth", "This node runs on demo data. Sign in with an account printed at "
     "start, join a room, and write a post."),
    (2, "Hello from Alice", "Every connection here is a process under a supervisor."),
    (3, "Bob's first post", "Kill a process from the CLI and watch it come back."),
)


class DemoAccount(NamedTuple):
    """A seeded account and the password it was given."""

    email: str
    role: str
    password: str


async def seed_demo(
    accounts: Accounts, *, repo: Any = REPO, clock: Callable[[], float] = time.time
) -> list[DemoAccount]:
    """Seed the demo data if the database has no users; returns the accounts created
    (none if it had users)."""
    if await Repo.fetch_one("SELECT 1 FROM users LIMIT 1", repo=repo) is not None:
        return []
    passwords = [secrets.token_urlsafe(12) for _ in DEMO_USERS]  # 16 characters each
    hashes = await asyncio.gather(*(accounts.hash_password(p) for p in passwords))
    now = clock()

    async def insert(conn: Connection) -> bool:
        # Checked again inside the transaction: another process may have added users.
        if await conn.fetch_one("SELECT 1 FROM users LIMIT 1") is not None:
            return False
        ids = []
        for (email, role, name), password_hash in zip(DEMO_USERS, hashes, strict=True):
            user = await insert_user(
                conn, email=email, password_hash=password_hash, display_name=name, role=role,
                now=now,
            )
            ids.append(user.id)
        await conn.execute_many(
            "INSERT INTO rooms (slug, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(slug, name, now) for slug, name in DEMO_ROOMS],
        )
        await conn.execute_many(
            "INSERT INTO posts (author_id, title, body, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(ids[author], title, body, now, now) for author, title, body in DEMO_POSTS],
        )
        await conn.execute_many(
            "INSERT INTO products (name, price_cents, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(name, price, now) for name, price in DEMO_PRODUCTS],
        )
        return True

    try:
        seeded = await Repo.transaction(insert, repo=repo)
    except IntegrityError:
        # Another node seeding the same empty PostgreSQL database got there first (its
        # users were not yet committed when this one looked).
        seeded = False
    if not seeded:
        return []
    log.info(
        "demo data seeded: %d users, %d rooms, %d posts, %d products",
        len(DEMO_USERS), len(DEMO_ROOMS), len(DEMO_POSTS), len(DEMO_PRODUCTS),
    )
    return [
        DemoAccount(email, role, password)
        for (email, role, _), password in zip(DEMO_USERS, passwords, strict=True)
    ]


def print_accounts(created: list[DemoAccount], out: TextIO) -> None:
    """Write the demo accounts and their passwords to ``out``, as a short table."""
    width = max(len(a.email) for a in created)
    lines = ["", "Demo accounts (passwords shown this once only; note them now):"]
    lines += [f"  {a.role:<10} {a.email:<{width}}  {a.password}" for a in created]
    lines.append("")
    print("\n".join(lines), file=out, flush=True)


class DemoSeed(GenServer):
    """Seeds at start, then declines to run: start it with
    ``DemoSeed.child_spec(config, restart="temporary")`` and it leaves no process behind."""

    async def init(self, config: Config) -> Any:
        if config.demo.seed:
            created = await seed_demo(Accounts(config.auth))
            if created:
                print_accounts(created, sys.stdout)
        return Ignore
