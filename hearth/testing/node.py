"""A node under test: the application's whole supervision tree on a temporary SQLite file.

:func:`start_node` starts ``supervisors.root`` (the Repo, the dirty pool, the Mailer, the
Endpoint on a free port, ...) with what a test wants: bcrypt at cost 4, no demo data, no
access log, and rate limits high enough for one client making every request. The tree's
parent is a holder process of its own, so a node started in a fixture outlives the fixture's
setup task and stops when :meth:`TestNode.stop` is called (the fixtures of
:mod:`hearth.testing.plugin` do both).

Only one node runs at a time in a test process: its processes are registered under the
node's names (``hearth.repo``, ``hearth.pubsub``, ...), as in a served node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import otp
from contexts.accounts import Accounts
from contexts.tokens import Tokens
from hearth.config import Config, load_config
from otp import Down, Exit

__all__ = ["PASSWORD", "SECRET_KEY", "TestNode", "current_node", "dotted", "running", "start_node",
           "test_config"]

SECRET_KEY = "hearth-testing-secret-key-of-forty-chars"
"""The node's ``auth.secret_key``: tests sign what the node accepts with it."""

PASSWORD = "correct horse battery"
"""The password the factories give users (their hash is computed once per run)."""

STOP_TIMEOUT = 10.0

_running: list[TestNode] = []


def test_config(data_dir: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """The configuration of a node under test, its database in ``data_dir``; ``overrides``
    by dotted key (``{"api.rate_limit": 5}``) win over the test defaults and are checked as
    ``config.toml``'s values are (an unknown key raises :class:`hearth.config.ConfigError`).

    Not a test, whatever pytest's name rules think: a test module may import it by name
    (``from hearth.testing import test_config``) without pytest collecting it."""
    settings: dict[str, Any] = {
        "server.host": "127.0.0.1",
        "server.port": 0,
        "server.access_log": "0",
        "node.name": "test@hearth",
        "node.dirty_pool_size": 2,
        "database.path": str(data_dir / "hearth.db"),
        "auth.secret_key": SECRET_KEY,
        "auth.bcrypt_cost": 4,
        "demo.seed": "0",
        # One client makes every request of a test; tests of the limits set their own.
        "api.rate_limit": 100_000,
        "api.anonymous_rate_limit": 100_000,
    }
    settings.update(overrides or {})
    return load_config(env={}, overrides=settings)


test_config.__test__ = False  # type: ignore[attr-defined]


@dataclass
class TestNode:
    """A running node: where it listens, how it is configured, and contexts made from the
    same configuration (what they sign or store, the node accepts)."""

    __test__ = False  # not a test class, whatever pytest's name rules think

    url: str
    config: Config
    accounts: Accounts
    tokens: Tokens
    """Signs with the node's key: tests use it for tokens the API would never issue."""
    _holder: otp.Pid = field(repr=False)

    @property
    def secret(self) -> bytes:
        return self.config.auth.secret_key.encode()

    @property
    def running(self) -> bool:
        return otp.is_alive(self._holder)

    async def stop(self) -> None:
        """Shut the tree down as the node does on SIGTERM, and wait until it has."""
        if self in _running:
            _running.remove(self)
        if not otp.is_alive(self._holder):
            return
        ref = otp.monitor(self._holder)
        otp.send(self._holder, _STOP)
        await otp.receive(timeout=STOP_TIMEOUT + 1,
                          match=lambda m: type(m) is Down and m.ref == ref)


_STOP = ("hearth.testing", "stop")


async def start_node(config: Config) -> TestNode:
    """Start the application's tree with ``config`` (see :func:`test_config`); raises what
    the start raised (a :class:`otp.StartError` naming the child that failed)."""
    from supervisors.root import root_spec
    from web.endpoint import Endpoint

    if _running:
        raise RuntimeError(
            "a Hearth test node is running already: one at a time (names are per node)"
        )
    started: asyncio.Future[otp.Pid] = asyncio.get_running_loop().create_future()

    async def hold() -> None:
        otp.trap_exit(True)
        try:
            root = await root_spec(config).start()
        except BaseException as e:
            if not started.done():
                started.set_exception(e)
            return
        assert root is not None
        started.set_result(root)
        # Until told to stop, or until the tree gives up (its parent then exits with it).
        message = await otp.receive(
            match=lambda m: m == _STOP or (type(m) is Exit and m.pid == root)
        )
        if message != _STOP:
            return
        ref = otp.monitor(root)
        otp.exit(root, "shutdown")
        await otp.receive(timeout=STOP_TIMEOUT, match=lambda m: type(m) is Down and m.ref == ref)

    holder = otp.spawn(hold)
    await started
    host, port = await Endpoint.address()
    node = TestNode(f"http://{host}:{port}", config, Accounts(config.auth),
                    Tokens(config.auth, config.auth.secret_key.encode()), holder)
    _running.append(node)
    return node


@asynccontextmanager
async def running(data_dir: Path, **overrides: Any) -> AsyncIterator[TestNode]:
    """``async with running(tmp_path, api__rate_limit=5) as node``: a node for the block
    (``__`` stands for the dot of a dotted key); for tests that start a node more than once,
    or start it late."""
    node = await start_node(test_config(data_dir, dotted(overrides)))
    try:
        yield node
    finally:
        await node.stop()


def dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides (``api__rate_limit``) as dotted keys (``api.rate_limit``)."""
    return {key.replace("__", "."): value for key, value in overrides.items()}


def current_node() -> TestNode:
    """The node running now, for helpers that are not handed one (the factories)."""
    if not _running:
        raise RuntimeError(
            "no Hearth test node is running: ask for the `hearth_node` (or `conn`) fixture"
        )
    return _running[-1]
