"""The kit is a plugin of the installed package: a test file with no conftest.py just works,
and a missing expected call fails the test that expected it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

APP_TEST = '''
import pytest
from actors.mailer import MailAdapter
from hearth.testing import get_flash, insert, log_in, mocks, redirected_to

MailerMock = mocks.define(MailAdapter, name="MailerMock")


async def test_creates_post_and_redirects(conn):
    await log_in(conn, await insert("user"))
    resp = await conn.post("/posts", {"title": "Hello", "body": "World"})
    assert redirected_to(resp) == "/posts/1"
    assert get_flash(resp, "info") == "Post created."


@pytest.mark.hearth_config({"mail.adapter": MailerMock.path})
async def test_expects_a_mail_that_never_goes(conn):
    mocks.expect(MailerMock, "deliver", lambda mail: None)
    resp = await conn.get("/")
    assert resp.status == 200


async def test_channel_case_is_there(channel_case):
    assert channel_case is not None
'''


async def run_pytest(directory: Path) -> tuple[int, str]:
    """Run pytest on ``directory`` in a fresh interpreter, outside this repository's tests
    (no conftest.py, no pytest settings but the asyncio mode)."""
    (directory / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n"
                                         "asyncio_default_fixture_loop_scope = function\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", str(directory),
        cwd=directory, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_a_test_file_without_conftest_gets_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(APP_TEST)

    code, out = await run_pytest(tmp_path)

    assert code == 1, out
    assert "2 passed" in out and "1 failed" in out, out
    assert "FAILED test_app.py::test_expects_a_mail_that_never_goes" in out, out
    assert "AssertionError: mock expectations were not met:" in out
    assert "MailerMock.deliver was expected to be called once, and was called 0 times" in out


def test_the_plugin_is_registered_by_the_package(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("hearth")
    assert plugin is not None and plugin.__name__ == "hearth.testing.plugin"
