"""``hearth serve`` as an operator runs it: a real process, a real port, a real signal."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

CONFIG = """
[node]
name = "test@serve"
dirty_pool_size = 1
log_level = "info"

[server]
host = "127.0.0.1"
port = 4000          # the tests pass --port 0
shutdown_timeout = 2.0
"""

Process = asyncio.subprocess.Process
Launch = Callable[..., Awaitable[Process]]


def hearth_command() -> list[str]:
    """The installed ``hearth`` script next to this interpreter, else ``python -m hearth``."""
    script = Path(sys.executable).with_name("hearth")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hearth"]


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Launch]:
    """Start ``hearth serve`` in a scratch directory; whatever is left running is killed."""
    started: list[Process] = []

    async def launch(*args: str, command: list[str] | None = None, **env: str) -> Process:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        proc = await asyncio.create_subprocess_exec(
            *(command or [sys.executable, "-m", "hearth"]),
            "serve",
            *args,
            cwd=tmp_path,
            env={**clean, **env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield launch
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_until(proc: Process, pattern: str, log: list[str]) -> re.Match[str]:
    """Read stderr line by line (kept in ``log``) until one matches ``pattern``."""
    assert proc.stderr is not None
    async with asyncio.timeout(15):
        while True:
            line = await proc.stderr.readline()
            if not line:
                raise AssertionError(f"hearth exited before logging {pattern!r}:\n{''.join(log)}")
            log.append(line.decode())
            found = re.search(pattern, log[-1])
            if found:
                return found


async def test_serve_answers_health_and_stops_on_sigterm(launch: Launch, tmp_path: Path) -> None:
    (tmp_path / "hearth.toml").write_text(CONFIG)
    node = await launch("--config", "hearth.toml", "--port", "0")
    log: list[str] = []

    listening = await read_until(node, r"listening on http://127\.0\.0\.1:(\d+)", log)
    port = int(listening.group(1))
    assert port != 0

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/health") as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        health = await response.json()
    assert health["status"] == "ok"
    assert health["node"] == "test@serve"
    assert health["processes"] > 0
    assert isinstance(health["uptime_s"], float) and health["uptime_s"] >= 0

    node.send_signal(signal.SIGTERM)
    assert node.stderr is not None
    async with asyncio.timeout(15):
        log.extend((await node.stderr.read()).decode().splitlines(keepends=True))
        code = await node.wait()

    text = "".join(log)
    assert code == 0, text
    assert "signal SIGTERM: stopping node test@serve" in text
    assert text.index(f"stopped listening on http://127.0.0.1:{port}") < text.index(
        "node test@serve stopped"
    )
    assert "ERROR" not in text and "Traceback" not in text


@pytest.mark.parametrize("command", ["script", "module"])
async def test_bad_config_value_exits_2_naming_the_key(
    launch: Launch, tmp_path: Path, command: str
) -> None:
    (tmp_path / "config.toml").write_text('[server]\nport = "abc"\n')  # found by default
    argv = hearth_command() if command == "script" else [sys.executable, "-m", "hearth"]

    node = await launch(command=argv)
    assert node.stderr is not None
    async with asyncio.timeout(15):
        stderr = (await node.stderr.read()).decode()
        code = await node.wait()

    assert code == 2
    assert "server.port must be an integer, not 'abc'" in stderr


async def test_bad_env_value_exits_2_naming_the_variable(launch: Launch) -> None:
    node = await launch("--port", "0", HEARTH_NODE_DIRTY_POOL_SIZE="many")
    assert node.stderr is not None
    async with asyncio.timeout(15):
        stderr = (await node.stderr.read()).decode()
        code = await node.wait()

    assert code == 2
    assert "HEARTH_NODE_DIRTY_POOL_SIZE: node.dirty_pool_size must be an integer" in stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('jwt_algorithm = "RS256"\n',
         "auth.jwt_private_key_path: RS256 needs a PEM key file, and none is set"),
        ('jwt_algorithm = "EdDSA"\njwt_private_key_path = "missing.pem"\n',
         "auth.jwt_private_key_path: cannot read missing.pem"),
    ],
)
async def test_a_jwt_key_problem_exits_2_naming_the_setting_before_the_tree_starts(
    launch: Launch, tmp_path: Path, settings: str, message: str
) -> None:
    (tmp_path / "hearth.toml").write_text(f"{CONFIG}\n[auth]\n{settings}")

    node = await launch("--config", "hearth.toml", "--port", "0")
    assert node.stderr is not None
    async with asyncio.timeout(15):
        stderr = (await node.stderr.read()).decode()
        code = await node.wait()

    assert code == 2, stderr
    assert f"hearth: configuration error: {message}" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "data").exists()  # no database made: the tree never started


# -- exits after Repo kills: no thread holds the process ------------------------------------

ADMIN_TOKEN = "a-test-admin-token-0123456789abcdefghijk"

ADMIN_CONFIG = CONFIG + f"""
[auth]
bcrypt_cost = 4

[demo]
seed = false

[admin]
token = "{ADMIN_TOKEN}"
"""


class Admin:
    """The node's admin endpoint, as ``hearth kill`` and ``hearth info`` use it."""

    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.url = f"http://127.0.0.1:{port}/_admin"
        self.headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def pid(self, name: str) -> str | None:
        async with self.http.get(f"{self.url}/info", params={"target": name},
                                 headers=self.headers) as response:
            if response.status == 404:
                return None
            info: dict[str, str] = await response.json()
            return info["pid"]

    async def kill(self, name: str) -> str:
        async with self.http.post(f"{self.url}/kill", json={"target": name},
                                  headers=self.headers) as response:
            assert response.status == 200, await response.text()
            killed: str = (await response.json())["killed"]
            return killed

    async def restarted(self, name: str, before: str) -> None:
        """Return once a process other than ``before`` is registered as ``name``."""
        async with asyncio.timeout(15):
            while (await self.pid(name)) in (None, before):
                pass  # each look is a request to the node: it paces itself


async def exit_code(node: Process, log: list[str]) -> tuple[int, str]:
    """Wait for the node to exit (15 s at most); its code and its whole log."""
    assert node.stderr is not None
    async with asyncio.timeout(15):
        log.extend((await node.stderr.read()).decode().splitlines(keepends=True))
        code = await node.wait()
    return code, "".join(log)


async def test_sigterm_after_repo_kills_exits_0(launch: Launch, tmp_path: Path) -> None:
    (tmp_path / "hearth.toml").write_text(ADMIN_CONFIG)
    node = await launch("--config", "hearth.toml", "--port", "0")
    log: list[str] = []
    port = int((await read_until(node, r"listening on http://127\.0\.0\.1:(\d+)", log))[1])
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, port)
        for _ in range(3):  # within the root's restart intensity (3 in 5 s)
            killed = await admin.kill("hearth.repo")
            await admin.restarted("hearth.repo", killed)
        async with http.get(f"http://127.0.0.1:{port}/posts") as response:
            assert response.status == 200  # the restarted Repo serves

    node.send_signal(signal.SIGTERM)
    code, text = await exit_code(node, log)

    assert code == 0, text
    assert "node test@serve stopped" in text


async def test_a_root_that_gives_up_after_repo_kills_exits_1(
    launch: Launch, tmp_path: Path
) -> None:
    (tmp_path / "hearth.toml").write_text(ADMIN_CONFIG)
    node = await launch("--config", "hearth.toml", "--port", "0")
    log: list[str] = []
    port = int((await read_until(node, r"listening on http://127\.0\.0\.1:(\d+)", log))[1])
    async with aiohttp.ClientSession() as http:
        admin = Admin(http, port)
        for _ in range(3):
            killed = await admin.kill("hearth.repo")
            await admin.restarted("hearth.repo", killed)
        await admin.kill("hearth.repo")  # the fourth in 5 s: past the root's intensity

    code, text = await exit_code(node, log)

    assert code == 1, text
    assert "root supervisor exited" in text
