"""Demo data: seeded once into a fresh database, passwords printed once and never logged."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from actors.repo import Repo
from contexts.accounts import Accounts
from contexts.demo import DEMO_USERS, DemoSeed
from hearth.config import Config, load_config

from ..actors._tree import rows, store_tree

ACCOUNT_LINE = re.compile(r"^\s+(\w+)\s+(\S+@\S+)\s+(\S+)$", re.M)


def demo_config(seed: bool = True) -> Config:
    return load_config(env={}, overrides={"auth.bcrypt_cost": "4", "demo.seed": str(int(seed))})


async def counts() -> dict[str, int]:
    return {
        table: (await Repo.fetch_one(f"SELECT COUNT(*) FROM {table}") or [0])[0]
        for table in ("users", "rooms", "posts")
    }


async def test_a_fresh_database_is_seeded_once_and_the_passwords_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = demo_config()
    caplog.set_level(logging.DEBUG)
    async with store_tree(tmp_path / "hearth.db", pool_size=2):
        first = await DemoSeed.start_link(config)
        printed = capsys.readouterr().out
        seeded = await counts()
        users = await rows("SELECT email, role FROM users ORDER BY id")

        second = await DemoSeed.start_link(config)
        printed_again = capsys.readouterr().out
        after_second = await counts()

        accounts = ACCOUNT_LINE.findall(printed)
        for _, email, password in accounts:
            assert await Accounts(config.auth).authenticate(email, password) is not None

    assert first is None and second is None  # it seeds in init and leaves no process
    assert seeded == after_second == {"users": 4, "rooms": 3, "posts": 3}
    assert [(u["email"], u["role"]) for u in users] == [(e, r) for e, r, _ in DEMO_USERS]
    assert [(email, role) for role, email, _ in accounts] == [(e, r) for e, r, _ in DEMO_USERS]
    assert printed_again == ""
    for _, _, password in accounts:
        assert len(password) >= 12
        assert password not in caplog.text


async def test_no_seed_when_the_config_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        await DemoSeed.start_link(demo_config(seed=False))

        # The lobby is there from the start (migration 4), seeded or not.
        assert await counts() == {"users": 0, "rooms": 1, "posts": 0}
    assert capsys.readouterr().out == ""


async def test_a_database_with_users_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = demo_config()
    async with store_tree(tmp_path / "hearth.db"):
        await Accounts(config.auth).register("ann@example.com", "correct horse battery", "Ann")

        await DemoSeed.start_link(config)

        assert await counts() == {"users": 1, "rooms": 1, "posts": 0}
    assert capsys.readouterr().out == ""
