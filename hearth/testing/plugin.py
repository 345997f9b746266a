"""The pytest plugin of the testing kit, installed with the package (entry point ``pytest11``).

Fixtures:

- ``hearth_node``: a fresh node (:class:`~hearth.testing.node.TestNode`) for the test, on a
  temporary SQLite file; configured by ``@pytest.mark.hearth_config({...})`` on the test (or
  its module's ``pytestmark``), dotted keys to values, and by the ``hearth_overrides``
  fixture, for values known only when the test runs (a server's port): override it in a
  module or a ``conftest.py`` to return such a dict; it wins over the markers.
- ``conn``: a :class:`~hearth.testing.conn.Conn` to that node, with its own cookies.
- ``hearth_module_node`` and ``module_conn``: the same with one node for a whole module, for
  tests that only read what the module set up. Such a module runs its tests in one event loop:
  ``pytestmark = pytest.mark.asyncio(loop_scope="module")``.
- ``channel_case``: Phoenix's ChannelCase (:mod:`channels.testing`).

Every mock of :mod:`hearth.testing.mocks` is verified when its test's body ends (Mox's
``verify_on_exit!``): a missing call fails the test that expected it; then it is reset.

``--hearth-repo`` (default: the ``PYTEST_HEARTH_REPO`` environment variable, else SQLite: not
``HEARTH_*``, which the node's configuration would read as a setting)
chooses the database of every node the kit starts: ``postgresql`` starts a throwaway
PostgreSQL cluster for the run (:mod:`hearth.testing.postgres`), a ``postgresql://`` URL
uses that server (its user must be allowed to create databases). Each test then gets
databases of its own (see :mod:`hearth.testing.node`); tests that only make sense on SQLite
say so with ``@pytest.mark.sqlite_only`` and are skipped.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from channels.testing import channel_case

from . import mocks
from . import node as nodes
from .conn import Conn
from .node import TestNode, dotted, start_node, test_config

__all__ = ["channel_case", "conn", "hearth_module_node", "hearth_node", "hearth_overrides",
           "module_conn"]

MARKER = "hearth_config"


REPO_OPTION = "--hearth-repo"
REPO_ENV = "PYTEST_HEARTH_REPO"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        REPO_OPTION, default=None, metavar="DATABASE",
        help="the database of the kit's nodes: sqlite (the default), postgresql (a throwaway "
             f"cluster) or a postgresql:// server URL; default: ${REPO_ENV}",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(overrides, **keys): configuration of the test's Hearth node, dotted keys "
        "to values ({'api.rate_limit': 5}, or api__rate_limit=5)",
    )
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test reads or writes the SQLite file itself; "
        "skipped on a PostgreSQL run",
    )
    # The one place the kit reads the environment: a CI step chooses the database so.
    repo = config.getoption(REPO_OPTION) or os.environ.get(REPO_ENV, "")
    if repo and repo != "sqlite":
        if not (repo == "postgresql" or repo.startswith(("postgresql://", "postgres://"))):
            raise pytest.UsageError(f"{REPO_OPTION}: expected sqlite, postgresql or a "
                                    f"postgresql:// URL, not {repo!r}")
        config.stash[_REPO] = nodes.use_postgres(repo)


_REPO = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    nodes.stop_postgres()


def pytest_report_header(config: pytest.Config) -> str:
    return f"hearth repo: {config.stash.get(_REPO, 'SQLite')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not nodes.postgres_in_use():
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "SQLite only"
            item.add_marker(pytest.mark.skip(reason=f"a PostgreSQL run: {reason}"))


@pytest.fixture(autouse=True)
def _hearth_databases() -> Iterator[None]:
    """On a PostgreSQL run, drop the databases of the test once it is over (a module's node
    keeps its own until the module's end)."""
    yield
    nodes.drop_unused_databases()


def _overrides(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    # The closest last: a test's marker wins over its module's.
    for marker in reversed(list(node.iter_markers(MARKER))):
        for given in marker.args:
            settings.update(given)
        settings.update(dotted(marker.kwargs))
    return settings


@pytest.fixture
def hearth_overrides() -> dict[str, Any]:
    """Configuration of the test's node computed when it runs; none unless overridden."""
    return {}


@pytest_asyncio.fixture
async def hearth_node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                      hearth_overrides: dict[str, Any]) -> AsyncIterator[TestNode]:
    """A node of the application for this test."""
    settings = {**_overrides(request.node), **hearth_overrides}
    node = await start_node(test_config(tmp_path_factory.mktemp("hearth"), settings))
    try:
        yield node
    finally:
        await node.stop()


@pytest_asyncio.fixture
async def conn(hearth_node: TestNode) -> AsyncIterator[Conn]:
    """A client of the test's node with its own cookie jar."""
    async with Conn(hearth_node) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hearth_module_node(request: pytest.FixtureRequest,
                             tmp_path_factory: pytest.TempPathFactory
                             ) -> AsyncIterator[TestNode]:
    """One node for every test of the module."""
    node = await start_node(test_config(tmp_path_factory.mktemp("hearth"),
                                        _overrides(request.node)))
    try:
        yield node
    finally:
        await node.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def module_conn(hearth_module_node: TestNode) -> AsyncIterator[Conn]:
    """A client of the module's node, with cookies of its own for each test."""
    async with Conn(hearth_module_node) as client:
        yield client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True
    try:
        result = yield
    except BaseException:
        mocks.reset_all()
        raise
    mocks.verify_all()
    return result
