"""The admin commands against a real node: a ``hearth serve`` subprocess, a real socket client,
and ``python -m hearth tree|info|kill|ps|stats|top`` as an operator types them."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from channels.client import Socket

from .test_serve import Launch, launch, read_until

__all__ = ["launch"]  # the fixture, re-exported for pytest

TOKEN = "a-test-admin-token-0123456789abcdefghijk"  # 40 characters
assert len(TOKEN) == 40

CONFIG = """
[node]
name = "test@admin"
dirty_pool_size = 1
log_level = "info"

[server]
host = "127.0.0.1"
shutdown_timeout = 2.0

[database]
path = "data/hearth.db"

[auth]
bcrypt_cost = 4

[demo]
seed = false

[admin]
token = "{token}"
"""


class Node:
    """A running node's URL, and the CLI pointed at it."""

    def __init__(self, port: int, cwd: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.cwd = cwd

    async def cli(self, *args: str, token: str = TOKEN, url: str | None = None
                  ) -> tuple[int, str, str]:
        """``python -m hearth ARGS --url ... --token ...``: exit status, stdout, stderr."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hearth", *args, "--url", url or self.url, "--token", token,
            cwd=self.cwd / "cli",  # no config.toml there: the flags say everything
            env=clean,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def json(self, *args: str) -> Any:
        code, out, err = await self.cli(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
async def node(launch: Launch, tmp_path: Path) -> AsyncIterator[Node]:
    (tmp_path / "hearth.toml").write_text(CONFIG.format(token=TOKEN))
    (tmp_path / "cli").mkdir()
    proc = await launch("--config", "hearth.toml", "--port", "0")
    log: list[str] = []
    listening = await read_until(proc, r"listening on http://127\.0\.0\.1:(\d+)", log)
    yield Node(int(listening.group(1)), tmp_path)


def child(tree: dict[str, Any], child_id: str) -> dict[str, Any]:
    found = [c for c in tree["children"] if str(c["id"]) == child_id]
    assert found, f"no child {child_id!r} in {[c['id'] for c in tree['children']]}"
    return found[0]


async def lobby_pid(node: Node, session: str) -> str:
    info = await node.json("info", session)
    channels: dict[str, str] = info["channels"]
    return channels["room:lobby"]


async def test_tree_info_kill_a_channel_and_the_client_rejoins(node: Node) -> None:
    client = Socket(f"ws://127.0.0.1:{node.port}/socket/websocket", rejoin_after=(0.05,))
    await client.connect()
    try:
        lobby = client.channel("room:lobby")
        await lobby.join()
        errored = asyncio.Event()
        rejoined = asyncio.Event()
        lobby.on("phx_error", lambda _payload: errored.set())
        lobby.on("phx_join", lambda _payload: rejoined.set())

        tree = await node.json("tree")
        assert tree["name"] == "hearth.root"
        assert tree["strategy"] == "one_for_one"
        assert child(tree, "RateLimiter")["process"]["name"] == "hearth.rate_limiter"
        assert child(tree, "RateLimiter")["restarts"] == 0

        # The session is a dynamic child of hearth.sessions; --all lists them all.
        full = await node.json("tree", "--all")
        sessions = child(full, "SessionSupervisor")["tree"]
        assert sessions["name"] == "hearth.sessions"
        assert len(sessions["children"]) == 1
        session = sessions["children"][0]["pid"]
        before = await lobby_pid(node, session)

        code, out, err = await node.cli("kill", before)
        assert code == 0, err
        assert before in out
        async with asyncio.timeout(10):
            await errored.wait()
            await rejoined.wait()
        assert lobby.state == "joined"
        after = await lobby_pid(node, session)
        assert after != before

        # The readable forms.
        code, out, err = await node.cli("tree", "--depth", "1")
        assert code == 0, err
        assert out.startswith("hearth.root")
        assert "RateLimiter" in out and "one_for_one" in out
        code, out, err = await node.cli("info", session)
        assert code == 0, err
        assert "room:lobby" in out and after in out
    finally:
        await client.disconnect()


async def test_kill_a_named_worker_and_tree_shows_the_restart(node: Node) -> None:
    code, out, err = await node.cli("kill", "hearth.rate_limiter")
    assert code == 0, err
    assert "killed" in out

    restarts = None
    async with asyncio.timeout(20):
        while restarts != 1:
            limiter = child(await node.json("tree", "--depth", "0"), "RateLimiter")
            restarts = limiter["restarts"]
    assert limiter["state"] == "running"
    assert limiter["process"]["name"] == "hearth.rate_limiter"


async def test_ps_stats_and_top(node: Node) -> None:
    ps = await node.json("ps", "--sort", "messages", "--limit", "5")
    rows = ps["processes"]
    assert 0 < len(rows) <= 5
    assert all("memory" in row and "pid" in row for row in rows)
    handled = [row["messages_handled"] for row in rows]
    assert handled == sorted(handled, reverse=True)

    stats = await node.json("stats")
    assert stats["node"] == "test@admin"
    assert stats["processes"] > 0
    assert {"connections", "channels", "presences", "messages_handled",
            "memory_rss_bytes"} <= set(stats)

    code, out, err = await node.cli("ps", "--limit", "3")
    assert code == 0, err
    assert out.splitlines()[0].split()[:2] == ["PID", "NAME"]
    assert len(out.splitlines()) == 4

    code, out, err = await node.cli("top", "--interval", "0.1", "--count", "2")
    assert code == 0, err
    assert "messages/s:" in out  # from the second sample on
    assert "processes:" in out


async def test_refusals_exit_1(node: Node) -> None:
    code, out, err = await node.cli("tree", token="x" * 40)
    assert (code, out) == (1, "")
    assert "unauthorized" in err

    code, _, err = await node.cli("info", "no.such.process")
    assert code == 1
    assert "no such process" in err

    code, _, err = await node.cli("kill", "<0.999999.0>")
    assert code == 1
    assert "no such process" in err

    code, _, err = await node.cli("restart", "hearth.root", "NoSuchChild")
    assert code == 1
    assert "no such child" in err


async def test_unreachable_node_and_usage_errors(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "cli").mkdir()
    node = Node(port, tmp_path)

    code, out, err = await node.cli("stats")
    assert (code, out) == (1, "")
    assert f"cannot reach the node at http://127.0.0.1:{port}: " in err

    code, _, err = await node.cli("ps", "--sort", "nonsense")
    assert code == 2
    assert "invalid choice" in err

    code, _, err = await node.cli("tree", token="")
    assert code == 2
    assert "no admin token" in err


async def test_terminate_and_restart_a_child(node: Node) -> None:
    code, out, err = await node.cli("terminate", "hearth.root", "Mailer")
    assert code == 0, err
    assert "terminated Mailer under hearth.root" in out
    assert child(await node.json("tree", "--depth", "0"), "Mailer")["pid"] is None

    answer = await node.json("restart", "hearth.root", "Mailer")
    assert answer["ok"] is True
    mailer = child(await node.json("tree", "--depth", "0"), "Mailer")
    assert mailer["pid"] == answer["pid"]
    assert mailer["state"] == "running"
