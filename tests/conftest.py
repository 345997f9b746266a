"""Shared fixtures: every test runs on uvloop, and no process outlives its test."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import uvloop

from otp import _kernel as k


@pytest.fixture(scope="session")
def event_loop_policy() -> uvloop.EventLoopPolicy:
    return uvloop.EventLoopPolicy()


@pytest.fixture(autouse=True)
async def _no_leftover_processes() -> AsyncIterator[None]:
    before = set(k._procs)
    yield
    for ident, proc in list(k._procs.items()):
        if ident not in before:
            proc._signal(None, k.KILL)
    logging.getLogger("otp").setLevel(logging.NOTSET)
