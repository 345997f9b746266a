"""A cluster under test: ``hearth serve`` nodes as subprocesses on loopback, one real Redis,
one shared store.

``async with cluster(tmp_path, redis, "a", "b", "c") as nodes`` starts the first node alone
(it migrates the store and seeds the demo rooms), then the others, and waits until every node
hears every other (``/_admin/nodes``). Each node has its own directory, name and fixed port
(a restarted node comes back where its clients reconnect), the same secret key and admin
token, and short heartbeats (:data:`HEARTBEAT`, :data:`DOWN_AFTER`), so a killed node is down
for the others within a few seconds (and a node merely slowed by a busy CI machine is not).

The store is the testing kit's (``hearth.testing.node.repo_for``): on a PostgreSQL run
(``pytest --hearth-repo postgresql``, or ``PYTEST_HEARTH_REPO=postgresql``) a fresh PostgreSQL
database that every node uses, as a real cluster does; otherwise one SQLite file in WAL mode,
which several processes on one machine may share. Either way it is one ``[repo] url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hearth.config import Config, load_config
from hearth.testing import PASSWORD, Conn, log_in_with_password, redirected_to
from hearth.testing.node import repo_for
from hearth.testing.redis_server import RedisServer
from tests.chaos._node import free_port
from tests.web.test_user_socket_endpoint import page_token

ADMIN_TOKEN = "a-cluster-admin-token-0123456789abcdefghij"
SECRET_KEY = "a-cluster-secret-key-0123456789abcdefghijklm"
HEARTBEAT = 0.25
DOWN_AFTER = 3.0
STARTUP = 30.0
WAIT = 10.0
"""Seconds to wait for what a cluster does within a few heartbeats (generous for CI)."""



def store_url(shared: Path) -> str:
    """The ``[repo] url`` every node of the cluster uses (see the module docstring)."""
    where = repo_for(shared / "hearth.db")
    return where if "://" in where else f"sqlite:///{where}"


CONFIG = """
[node]
name = "{name}"
dirty_pool_size = 1
log_level = "info"

[server]
host = "127.0.0.1"
port = {port}
shutdown_timeout = 1.0
access_log = false

[repo]
url = "{store}"

[auth]
bcrypt_cost = 4
secret_key = "{secret}"

[admin]
token = "{token}"

[demo]
seed = {seed}

[api]
rate_limit = {rate_limit}

[cluster]
redis_url = "{redis}"
heartbeat_interval = {heartbeat}
down_after = {down_after}
"""

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Node:
    """One ``hearth serve`` of the cluster (running or not)."""

    name: str
    directory: Path
    port: int
    config: Config
    proc: asyncio.subprocess.Process | None = None
    log: list[str] = field(default_factory=list)
    _drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        """What phoenix.js is given (``/socket``)."""
        return f"{self.url}/socket"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log_tail(self, lines: int = 30) -> str:
        return "".join(self.log[-lines:])

    async def start(self) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hearth", "serve", "--config", "hearth.toml",
            cwd=self.directory, env=clean, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        assert self.proc.stderr is not None
        self._drain = asyncio.create_task(self._read(self.proc.stderr, listening))
        async with asyncio.timeout(STARTUP):
            await listening

    async def _read(self, stream: asyncio.StreamReader, listening: asyncio.Future[str]) -> None:
        while line := await stream.readline():
            self.log.append(f"[{self.name}] " + line.decode(errors="replace"))
            if not listening.done() and _LISTENING.search(self.log[-1]):
                listening.set_result(self.url)
        if not listening.done():
            listening.set_exception(AssertionError(
                f"node {self.name} exited before listening:\n{self.log_tail()}"))

    async def kill(self) -> None:
        """``kill -9``: no goodbye to anyone."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain

    async def admin(self, path: str, **query: Any) -> Any:
        """``GET /_admin/<path>`` with the admin token; the JSON answer (status 200)."""
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                                         ) as http, http.get(f"{self.url}/_admin/{path}",
                                                             params=query) as r:
            body = await r.json()
            assert r.status == 200, f"{self.name} /_admin/{path}: {r.status} {body}"
            return body

    async def nodes_up(self) -> set[str]:
        return {row["name"] for row in (await self.admin("nodes"))["nodes"] if row["up"]}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``hearth ARGS --url <this node> --token <admin token>``, as an operator runs it."""
        return subprocess.run(
            [sys.executable, "-m", "hearth", *args, "--url", self.url, "--token", ADMIN_TOKEN],
            capture_output=True, text=True, timeout=60, cwd=self.directory,
            env={k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")},
        )


@dataclass
class Cluster:
    redis: RedisServer
    nodes: dict[str, Node]

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def logs(self) -> str:
        return "\n".join(n.log_tail() for n in self.nodes.values())

    async def until(self, what: str, check: Any, within: float = WAIT) -> Any:
        """Poll ``check()`` (async) until it is truthy; its value. Fails with every node's
        log after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + within
        last: Any = None
        while loop.time() < end:
            with contextlib.suppress(aiohttp.ClientError, AssertionError):
                last = await check()
                if last:
                    return last
            await asyncio.sleep(0.05)  # polling pace, not synchronisation
        raise AssertionError(f"{what}: not within {within}s (last: {last!r})\n{self.logs()}")

    async def joined(self, within: float = WAIT) -> None:
        """Until every running node hears every other running node."""
        running = {n.name for n in self.nodes.values() if n.running}

        async def all_hear() -> bool:
            for node in self.nodes.values():
                if node.running and await node.nodes_up() != running:
                    return False
            return True

        await self.until(f"nodes {sorted(running)} hear each other", all_hear, within)


@asynccontextmanager
async def cluster(tmp_path: Path, redis: RedisServer, *names: str,
                  rate_limit: int = 1_000_000) -> AsyncIterator[Cluster]:
    """Nodes ``names`` (the first starts alone, then the rest together); see the module
    docstring."""
    shared = tmp_path / "shared"
    shared.mkdir()
    store = store_url(shared)
    nodes: dict[str, Node] = {}
    for i, name in enumerate(names):
        directory = tmp_path / name
        directory.mkdir()
        port = free_port()
        text = CONFIG.format(
            name=name, port=port, store=store, secret=SECRET_KEY,
            token=ADMIN_TOKEN, seed="true" if i == 0 else "false", rate_limit=rate_limit,
            redis=redis.url, heartbeat=HEARTBEAT, down_after=DOWN_AFTER,
        )
        (directory / "hearth.toml").write_text(text)
        config = load_config(directory / "hearth.toml", env={})
        nodes[name] = Node(name, directory, port, config)
    found = Cluster(redis, nodes)
    try:
        first, *rest = nodes.values()
        await first.start()
        await asyncio.gather(*(node.start() for node in rest))
        await found.joined()
        yield found
    finally:
        for node in nodes.values():
            await node.kill()


# -- people ----------------------------------------------------------------------------------


@dataclass
class Person:
    """Someone registered on one node and signed in, through the pages, on another: their
    browser session's cookie and the socket token a room page of that node rendered."""

    name: str
    email: str
    cookie: str | None
    token: str
    node: Node


async def sign_up(node: Node, name: str) -> None:
    """Register ``name`` (``<name>@example.com``) through ``node``'s pages."""
    async with Conn(node) as browser:
        registered = await browser.post("/register", {
            "email": f"{name}@example.com", "display_name": name.capitalize(),
            "password": PASSWORD,
        })
        assert redirected_to(registered) == "/login", f"{name} could not register"


async def sign_in(node: Node, name: str) -> Person:
    """Log ``name`` in on ``node`` through its pages; the room page's socket token."""
    email = f"{name}@example.com"
    async with Conn(node) as browser:
        page = await browser.get(redirected_to(await log_in_with_password(browser, email)))
        assert page.user == name.capitalize(), f"{name} could not log in on {node.name}"
        return Person(name, email, browser.cookie, await page_token(browser), node)


async def log_out(person: Person, node: Node) -> None:
    """``person``'s browser session logs out through ``node``'s pages."""
    async with Conn(node) as browser:
        browser.cookie = person.cookie
        page = await browser.post("/logout", follow=True)
        assert page.user is None, f"{person.name} is still signed in after logging out"
