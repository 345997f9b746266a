"""Shared fixtures: every test runs on uvloop, and no process outlives its test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

import pytest
import uvloop

from hearth.testing import node as test_nodes
from hearth.testing.redis_server import RedisServer, start_redis
from otp import _kernel as k


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(autouse=True)
async def _no_leftover_processes() -> AsyncIterator[None]:
    before = set(k._procs)
    yield
    if test_nodes._running:
        return  # a module's node (hearth_module_node) runs on: its processes are its own
    for ident, proc in list(k._procs.items()):
        if ident not in before:
            proc._signal(None, k.KILL)
    logging.getLogger("otp").setLevel(logging.NOTSET)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the module's tests, on a free port (stopped at its end)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
