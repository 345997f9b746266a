"""The RateLimiter keeps its windows in the database: a limiter restarted by its supervisor
goes on counting where it was, and an expired window is forgotten."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

from actors.rate_limiter import NAME, RateLimiter
from hearth.testing.node import repo_for
from otp import Pid, Supervisor
from store import NAME as REPO
from store import Repo

from ._tree import supervised


def limiter_tree(db: Path) -> AbstractAsyncContextManager[Pid]:
    return supervised([
        Repo.child_spec(repo_for(db), 1, name=REPO),
        RateLimiter.child_spec(id="limiter", name=NAME, init_kwargs={"repo": REPO}),
    ])


async def test_a_restarted_limiter_goes_on_counting(tmp_path: Path) -> None:
    async with limiter_tree(tmp_path / "db.sqlite") as sup:
        for _ in range(3):
            RateLimiter.hit("api.key", "7", 5, 3600.0)
        RateLimiter.hit("api.key", "8", 5, 3600.0)
        first = RateLimiter.check("api.key", "7", 5, 3600.0)

        await Supervisor.terminate_child(sup, "limiter")
        await Supervisor.restart_child(sup, "limiter")
        after = RateLimiter.hit("api.key", "7", 5, 3600.0)
        other = RateLimiter.check("api.key", "8", 5, 3600.0)

        assert first.remaining == 2
        assert after.remaining == 1
        assert abs(after.reset_at - first.reset_at) < 1e-6
        assert other.remaining == 4


async def test_expired_and_reset_windows_are_not_brought_back(tmp_path: Path) -> None:
    async with limiter_tree(tmp_path / "db.sqlite") as sup:
        RateLimiter.hit("login.account", "ann@example.com", 5, 3600.0)
        RateLimiter.reset("login.account", "ann@example.com")
        RateLimiter.hit("api.key", "9", 5, 1e-9)  # over as soon as it starts

        await Supervisor.terminate_child(sup, "limiter")
        rows = await Repo.fetch_all("SELECT bucket, key FROM rate_limits")
        await Supervisor.restart_child(sup, "limiter")

        assert [tuple(row) for row in rows] == []
        assert RateLimiter.check("login.account", "ann@example.com", 5, 3600.0).remaining == 5
        assert RateLimiter.check("api.key", "9", 5, 3600.0).remaining == 5


async def test_acquire_counts_in_every_counter_or_in_none(tmp_path: Path) -> None:
    async with limiter_tree(tmp_path / "db.sqlite"):
        counters = [("login.account", "ann", 5), ("login.address", "10.0.0.9", 2)]
        taken = [RateLimiter.acquire(counters, 300.0) for _ in range(3)]
        account = RateLimiter.check("login.account", "ann", 5, 300.0)
        RateLimiter.give_back("login.address", "10.0.0.9")
        again = RateLimiter.acquire(counters, 300.0)

    assert [[d.allowed for d in decisions] for decisions in taken] == [
        [True, True], [True, True], [True, False]]
    assert account.remaining == 3  # the refused third took no slot of the account's
    assert [d.allowed for d in again] == [True, True]
