"""``hearth users``: create (password from stdin, never argv), list, set-role; field errors
exit 2."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from contexts.accounts import Accounts
from hearth import cli
from hearth.config import load_config
from hearth.testing.node import postgres_in_use, repo_for

from ..actors._tree import store_tree

CONFIG = """
[database]
path = "data/hearth.db"

[auth]
bcrypt_cost = 4
"""
PASSWORD = "correct horse battery"


class Run:
    """``hearth ARGS --config hearth.toml`` in a scratch directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        (cwd / "hearth.toml").write_text(CONFIG)

    async def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        """Exit status, stdout and stderr."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        if postgres_in_use():
            # The database store_tree reads back, on a PostgreSQL run.
            clean["HEARTH_REPO_URL"] = repo_for(self.cwd / "data" / "hearth.db")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hearth", *args, "--config", "hearth.toml",
            cwd=self.cwd,
            env=clean,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            out, err = await proc.communicate(stdin.encode())
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def hearth(tmp_path: Path) -> Run:
    return Run(tmp_path)


async def test_create_list_and_set_role(hearth: Run, tmp_path: Path) -> None:
    created = await hearth(
        "users", "create", "--email", "Ann@Example.com", "--role", "admin", "--name", "Ann",
        stdin=PASSWORD + "\n",
    )
    second = await hearth(
        "users", "create", "--email", "bob@example.com", "--role", "user", stdin=PASSWORD
    )
    changed = await hearth("users", "set-role", "--email", "ann@example.com", "--role", "user")
    listed = await hearth("users", "list")

    assert created == (0, "created user 1: Ann@Example.com (admin)\n", created[2])
    assert second[:2] == (0, "created user 2: bob@example.com (user)\n")
    assert changed[:2] == (0, "Ann@Example.com is now user\n")
    code, out, _ = listed
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["ID", "EMAIL", "ROLE", "NAME"],
        ["1", "Ann@Example.com", "user", "Ann"],
        ["2", "bob@example.com", "user", "bob"],
    ]
    # The password read from stdin is the one stored, without its newline.
    async with store_tree(tmp_path / "data" / "hearth.db"):
        accounts = Accounts(load_config(env={}, overrides={"auth.bcrypt_cost": "4"}).auth)
        assert await accounts.authenticate("ann@example.com", PASSWORD) is not None
        assert await accounts.authenticate("bob@example.com", PASSWORD) is not None


async def test_a_wrong_role_exits_2_naming_the_field(hearth: Run) -> None:
    created = await hearth(
        "users", "create", "--email", "ann@example.com", "--role", "owner", stdin=PASSWORD
    )
    listed = await hearth("users", "list")

    assert created[0] == 2
    assert "hearth: role: should be one of user, moderator, admin" in created[2]
    assert listed[:2] == (0, "ID  EMAIL  ROLE  NAME\n")


async def test_every_bad_field_is_printed_and_exits_2(hearth: Run) -> None:
    await hearth("users", "create", "--email", "ann@example.com", "--role", "user",
                 stdin=PASSWORD)

    taken = await hearth(
        "users", "create", "--email", "ANN@example.com", "--role", "user", stdin="short"
    )
    unknown = await hearth("users", "set-role", "--email", "bob@example.com", "--role", "admin")
    bad_role = await hearth("users", "set-role", "--email", "ann@example.com", "--role", "boss")

    assert taken[0] == 2
    assert taken[2].splitlines()[-2:] == [
        "hearth: email: has already been taken",
        "hearth: password: should be at least 12 characters",
    ]
    assert unknown[0] == 2 and "hearth: email: does not belong to any user" in unknown[2]
    assert bad_role[0] == 2 and "hearth: role: should be one of" in bad_role[2]


async def test_there_is_no_password_option(hearth: Run) -> None:
    code, _, err = await hearth(
        "users", "create", "--email", "ann@example.com", "--role", "user", "--password", PASSWORD
    )

    assert code == 2
    assert "unrecognized arguments: --password" in err


class Terminal:
    """A stdin that is a terminal, for the prompting path."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_password_is_asked_twice_and_must_match(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + "?"])
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    (tmp_path / "hearth.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)

    code = cli.main(["users", "create", "--email", "ann@example.com", "--role", "user",
                     "--config", "hearth.toml"])

    assert code == 2
    assert "hearth: the two passwords differ" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing was opened, let alone written


def test_on_a_terminal_matching_passwords_create_the_user(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(cli.getpass, "getpass", getpass)
    (tmp_path / "hearth.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)

    code = cli.main(["users", "create", "--email", "ann@example.com", "--role", "user",
                     "--config", "hearth.toml"])

    assert code == 0
    assert prompts == ["Password: ", "Password (again): "]
    assert capsys.readouterr().out == "created user 1: ann@example.com (user)\n"
