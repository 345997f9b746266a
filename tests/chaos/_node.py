"""A real node for the chaos tests: ``hearth serve`` as a subprocess, and what an operator
sees of it (the admin endpoint, ``/proc/<pid>``, its log, its exit status).

``async with serving(tmp_path) as node`` starts ``python -m hearth serve`` on a free port with
a scratch configuration (demo data seeded, so ``room:lobby`` exists; bcrypt at cost 4; an
admin token) and kills whatever is left of it on the way out. Its stderr is read all along
into ``node.log``, so a chatty node never blocks on a full pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hearth.config import Config, load_config
from hearth.testing.ports import free_port

ADMIN_TOKEN = "a-chaos-admin-token-0123456789abcdefghij"
SHUTDOWN_TIMEOUT = 2.0
STARTUP = 20.0
"""Seconds ``hearth serve`` gets to log that it listens (it takes about 0.4 s idle)."""

CONFIG = """
[node]
name = "test@chaos"
dirty_pool_size = 2
log_level = "info"

[server]
host = "127.0.0.1"
shutdown_timeout = {shutdown}
access_log = false

[database]
path = "data/hearth.db"

[auth]
bcrypt_cost = 4
secret_key = "a-chaos-secret-key-0123456789abcdefghijklm"

[admin]
token = "{token}"

[api]
# The load posts hundreds of messages per test; quotas are tested elsewhere.
rate_limit = 1000000
"""

_RECORD = re.compile(r"\d{4}-\d\d-\d\d ")
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class ServedNode:
    """A running ``hearth serve``: its process, URL, configuration and log so far."""

    proc: asyncio.subprocess.Process
    url: str
    config: Config
    database: Path
    log: list[str] = field(default_factory=list)
    admin: aiohttp.ClientSession | None = None
    kill_unanswered: bool = False
    """Whether the last kill request was cut off before its answer."""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/socket"

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def log_tail(self, records: int = 15) -> str:
        """The last ``records`` log records, without their tracebacks' lines."""
        return "".join([line for line in self.log if _RECORD.match(line)][-records:])

    # -- what /proc says -------------------------------------------------------------------

    def threads(self) -> int:
        """The node's OS threads (``Threads:`` of ``/proc/<pid>/status``)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        raise AssertionError("no Threads: line in /proc status")

    def descriptors(self) -> int:
        """The node's open file descriptors (entries of ``/proc/<pid>/fd``)."""
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def descriptor_targets(self) -> list[str]:
        """What each open descriptor is (``socket:[123]``, a file's path, ...), sorted."""
        found = []
        for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
            try:
                found.append(os.readlink(f"/proc/{self.proc.pid}/fd/{fd}"))
            except OSError:  # closed since the listing
                continue
        return sorted(found)

    # -- the admin endpoint (what ``hearth tree`` and ``hearth kill`` ask) ------------------

    async def _admin(self, method: str, path: str, body: Any = None) -> Any:
        assert self.admin is not None
        async with self.admin.request(method, f"{self.url}/_admin/{path}", json=body) as r:
            answer = await r.json()
            assert r.status == 200, f"{method} /_admin/{path}: {r.status} {answer}"
            return answer

    async def tree(self) -> dict[str, Any]:
        """``hearth tree --json``: the supervision tree below ``hearth.root``."""
        tree: dict[str, Any] = await self._admin("GET", "tree")
        return tree

    async def kill(self, name: str) -> str:
        """``hearth kill NAME``: exit signal ``kill``; the pid that was killed."""
        pid = await self.pid_of(name)
        assert pid is not None, f"no running process {name} to kill"
        try:
            answer = await self._admin("POST", "kill", {"target": pid, "reason": "kill"})
        except aiohttp.ServerDisconnectedError:
            # Killing hearth.endpoint may end the request that asked: no answer comes back.
            self.kill_unanswered = True
            return pid
        assert answer["killed"] == pid, answer
        return pid

    async def pid_of(self, name: str) -> str | None:
        """The pid of the running child registered as ``name``, or None."""
        for child in children(await self.tree()):
            process = child.get("process") or {}
            if process.get("name") == name and child.get("state") == "running":
                pid: str = child["pid"]
                return pid
        return None

    async def restarted(self, name: str, old: str, deadline: float) -> str | None:
        """Poll the tree until ``name`` runs under a pid other than ``old``; that pid, or
        None if it did not within ``deadline`` seconds (or the node exited)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while loop.time() < end and self.running:
            with contextlib.suppress(aiohttp.ClientError, AssertionError):
                pid = await self.pid_of(name)
                if pid is not None and pid != old:
                    return pid
            await asyncio.sleep(0.02)  # polling pace, not synchronisation
        return None

    # -- the database, read as an outsider would -----------------------------------------

    async def stored_messages(self) -> dict[int, str]:
        """Every stored chat message, id -> body, read from the SQLite file (read-only)."""

        def read() -> dict[int, str]:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
            ) as db:
                return dict(db.execute("SELECT id, body FROM messages").fetchall())

        return await asyncio.to_thread(read)

    async def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` of the database file: ``"ok"`` when whole."""

        def check() -> str:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
            ) as db:
                return "\n".join(row[0] for row in db.execute("PRAGMA integrity_check"))

        return await asyncio.to_thread(check)

    # -- stopping ---------------------------------------------------------------------------

    async def terminate(self, within: float) -> int | None:
        """SIGTERM; the exit status, or None if still running after ``within`` seconds."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(within):
                return await self.proc.wait()
        except TimeoutError:
            return None


def children(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every static child in ``tree``, depth first (supervisors' children included)."""
    for child in tree.get("children", ()):
        yield child
        sub = child.get("tree")
        if sub is not None and child.get("type") == "supervisor":
            yield from children(sub)


async def _drain(stream: asyncio.StreamReader, log: list[str],
                 listening: asyncio.Future[str]) -> None:
    """Keep the log; resolve ``listening`` with the URL once the node says where it listens."""
    while line := await stream.readline():
        log.append(line.decode(errors="replace"))
        found = _LISTENING.search(log[-1])
        if found and not listening.done():
            listening.set_result(found.group(1))
    if not listening.done():
        listening.set_exception(
            AssertionError("hearth serve exited before listening:\n" + "".join(log)))


@asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[ServedNode]:
    """``hearth serve`` in ``tmp_path`` until the end of the ``async with``."""
    (tmp_path / "hearth.toml").write_text(
        CONFIG.format(shutdown=SHUTDOWN_TIMEOUT, token=ADMIN_TOKEN)
    )
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hearth", "serve", "--config", "hearth.toml", "--port", str(port),
        cwd=tmp_path,
        env=clean,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,  # the demo accounts' passwords: not needed
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    log: list[str] = []
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    drain = asyncio.create_task(_drain(proc.stderr, log, listening))
    try:
        async with asyncio.timeout(STARTUP):
            url = await listening
        config = load_config(tmp_path / "hearth.toml", env={}, overrides={"server.port": port})
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            # No keep-alive: the node's descriptor count is measured between requests.
            connector=aiohttp.TCPConnector(force_close=True),
        ) as admin:
            yield ServedNode(proc, url, config, tmp_path / "data" / "hearth.db", log, admin)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
