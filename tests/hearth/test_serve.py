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
