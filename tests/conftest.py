"""Shared fixtures: every test runs on uvloop, and no process outlives its test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
import uvloop

from otp import _kernel as k

# channel_case: Phoenix's ChannelCase for channel tests.
pytest_plugins = ["channels.testing"]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(autouse=True)
async def _no_leftover_processes() -> AsyncIterator[None]:
    before = set(k._procs)
    yield
    for ident, proc in list(k._procs.items()):
        if ident not in before:
            proc._signal(None, k.KILL)
    logging.getLogger("otp").setLevel(logging.NOTSET)
