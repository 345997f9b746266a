"""A node under test: the application's whole supervision tree on a temporary SQLite file.

:func:`start_node` starts ``supervisors.root`` (the Repo, the dirty pool, the Mailer, the
Endpoint on a free port, ...) with what a test wants: bcrypt at cost 4, no demo data, no
access log, and rate limits high enough for one client making every request. The tree's
parent is a holder process of its own, so a node started in a fixture outlives the fixture's
setup task and stops when :meth:`TestNode.stop` is called (the fixtures of
:mod:`hearth.testing.plugin` do both).

Only one node runs at a time in a test process: its processes are registered under the
node's names (``hearth.repo``, ``hearth.pubsub``, ...), as in a served node.

On a PostgreSQL run (``pytest --hearth-repo postgresql``, or ``PYTEST_HEARTH_REPO``: see
:mod:`hearth.testing.plugin`) each node's database is a PostgreSQL database of its own,
made for its ``database.path`` from a template migrated once per run (``CREATE DATABASE ...
TEMPLATE``, a few tens of milliseconds) and dropped when the test that made it ends (or its
module, for a module's node). The same path gives the same database, so a test that stops a
node and starts it again finds its data, as on SQLite. :func:`repo_for` does the same for
tests that start a Repo of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import otp
from contexts.accounts import Accounts
from contexts.tokens import Tokens
from hearth.config import Config, load_config
from otp import Down, Exit

__all__ = ["PASSWORD", "SECRET_KEY", "TestNode", "current_node", "dotted", "repo_for", "running",
           "start_node", "test_config"]

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
    if _postgres is not None and "repo.url" not in settings:
        settings["repo.url"] = _postgres.database_for(str(settings["database.path"]))
    return load_config(env={}, overrides=settings)


def repo_for(path: Path) -> str:
    """What a test that starts its own Repo gives it for the SQLite file ``path``: the path,
    or on a PostgreSQL run the URL of a database of its own, named after the path."""
    if _postgres is None:
        return str(path)
    return _postgres.database_for(str(path))


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


# -- PostgreSQL runs -------------------------------------------------------------------------

T = TypeVar("T")


class _Postgres:
    """The server a PostgreSQL run's databases live on, and the databases made so far."""

    def __init__(self, admin_url: str, make_url: Callable[[str], str],
                 cluster: Any = None) -> None:
        self.admin_url = admin_url
        self.make_url = make_url
        self.cluster = cluster
        self.template = f"hearth_template_{os.getpid()}"
        self.made: dict[str, str] = {}  # database name: its URL
        self._worker = concurrent.futures.ThreadPoolExecutor(1, "hearth-test-pg")

    def sync(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work()`` to its end on a loop of its own (a test's loop may be running)."""
        return self._worker.submit(lambda: asyncio.run(work())).result()

    async def _admin(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self.admin_url)

    def make_template(self) -> None:
        import asyncpg

        from store.postgres import migrate

        async def make() -> None:
            admin = await self._admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{self.template}"')
            finally:
                await admin.close()
            conn = await asyncpg.connect(self.make_url(self.template))
            try:
                await migrate(conn, self.template)
            finally:
                await conn.close()

        self.sync(make)

    def database_for(self, key: str) -> str:
        """The URL of the database for ``key`` (a SQLite path), made on first use."""
        name = "hearth_t_" + hashlib.sha1(key.encode()).hexdigest()[:20]
        url = self.made.get(name)
        if url is None:
            async def make() -> None:
                admin = await self._admin()
                try:
                    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'
                                        " STRATEGY FILE_COPY")
                finally:
                    await admin.close()

            self.sync(make)
            url = self.made[name] = self.make_url(name)
        return url

    def drop_unused(self) -> None:
        """Drop the databases no running node uses."""
        used = {node.config.repo.url for node in _running}
        names = [name for name, url in self.made.items() if url not in used]
        if not names:
            return

        async def drop() -> None:
            admin = await self._admin()
            try:
                for name in names:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

        self.sync(drop)
        for name in names:
            del self.made[name]

    def close(self) -> None:
        async def drop() -> None:
            admin = await self._admin()
            try:
                for name in [*self.made, self.template]:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

        try:
            if self.cluster is None:
                self.sync(drop)
        finally:
            self._worker.shutdown()
            if self.cluster is not None:
                self.cluster.destroy()


_postgres: _Postgres | None = None


def use_postgres(server: str) -> str:
    """Make every test node (and :func:`repo_for`) use PostgreSQL from now on: ``server``
    is ``"postgresql"`` for a throwaway cluster of this run's (:mod:`hearth.testing.postgres`),
    or the URL of a server where this user may create databases. Returns what it uses, for
    the report's header."""
    global _postgres
    if server == "postgresql":
        from .postgres import start_cluster

        cluster = start_cluster()
        pg = _Postgres(cluster.url(), cluster.url, cluster)
        shown = f"a throwaway cluster on port {cluster.port}"
    else:
        from store.url import redact

        shown = redact(server)
        base = server

        def url_of(name: str) -> str:
            import urllib.parse

            parts = urllib.parse.urlsplit(base)
            return urllib.parse.urlunsplit(parts._replace(path="/" + name))

        pg = _Postgres(server, url_of)
    try:
        pg.make_template()
    except BaseException:
        pg.close()
        raise
    _postgres = pg
    return f"PostgreSQL ({shown})"


def postgres_in_use() -> bool:
    """Whether this is a PostgreSQL run."""
    return _postgres is not None


def drop_unused_databases() -> None:
    if _postgres is not None:
        _postgres.drop_unused()


def stop_postgres() -> None:
    global _postgres
    if _postgres is not None:
        pg, _postgres = _postgres, None
        pg.close()
