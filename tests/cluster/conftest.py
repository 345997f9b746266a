"""Fixtures of the cluster tests: a real redis-server per module, and phoenix.js scenarios
(``js/``) run by Node against any node of the cluster."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hearth.testing.redis_server import RedisServer
from tests.interop.conftest import ROOT, Run, Script, node_bin  # noqa: F401 (a fixture)

JS = Path(__file__).resolve().parent / "js"



@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    """The module's Redis, running and empty at the start of each test."""
    redis_server.start()
    subprocess.run(["redis-cli", "-p", str(redis_server.port), "FLUSHALL"], check=True,
                   capture_output=True)
    return redis_server


@pytest.fixture
async def run_js(node_bin: str) -> AsyncIterator[Run]:  # noqa: F811
    """``await run_js("room.mjs", node.socket_url, *args)``: a scenario of ``js/``."""
    started: list[Script] = []

    async def run(scenario: str, url: str, *args: str, name: str | None = None) -> Script:
        proc = await asyncio.create_subprocess_exec(
            node_bin, str(JS / scenario), url, *args, cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, limit=1 << 20,
        )
        script = Script(name or scenario, proc)
        started.append(script)
        return script

    yield run
    for script in started:
        await script.kill()
