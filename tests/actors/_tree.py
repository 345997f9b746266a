"""A small tree for tests that store: the Repo on a scratch database (a SQLite file, or on a
PostgreSQL run a database of its own: ``hearth.testing.repo_for``), a dirty pool and the
Mailer, under the node's names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import otp
from actors.mailer import NAME as MAILER
from actors.mailer import MailAdapter, Mailer
from actors.rate_limiter import NAME as RATE_LIMITER
from actors.rate_limiter import RateLimiter
from hearth.testing.node import repo_for
from otp import Down, Pid, Supervisor, dirty_pool_spec
from store import NAME as REPO
from store import Repo


@asynccontextmanager
async def store_tree(
    db: Path, *, pool_size: int = 1, adapter: MailAdapter | None = None
) -> AsyncIterator[Pid]:
    """Run the tree for the body of the ``async with``, then stop it.

    A context manager rather than a fixture: the supervisor's parent is the process of the
    task that starts it, and a fixture's task is not the test's.
    """
    children = [
        Repo.child_spec(repo_for(db), 1, name=REPO),
        dirty_pool_spec(pool_size),
        RateLimiter.child_spec(name=RATE_LIMITER),
        Mailer.child_spec(adapter, name=MAILER),
    ]
    async with supervised(children) as sup:
        yield sup


@asynccontextmanager
async def supervised(children: list[Any]) -> AsyncIterator[Pid]:
    """A one_for_one supervisor of ``children`` for the body of the ``async with``; shut
    down, and waited for, on the way out."""
    otp.trap_exit(True)
    sup = await Supervisor.start_link(children)
    assert sup is not None
    try:
        yield sup
    finally:
        ref = otp.monitor(sup)
        otp.exit(sup, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is Down and m.ref == ref)


async def rows(sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """The rows of a read query, as dicts."""
    return [dict(row) for row in await Repo.fetch_all(sql, params)]
