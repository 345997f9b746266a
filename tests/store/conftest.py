"""A throwaway PostgreSQL cluster for the store's tests, and an empty database per test.

The cluster is this module tree's own, whatever database the run gives the kit's nodes:
the outage test stops and starts it. Without PostgreSQL's server binaries the tests that
need it are skipped (``.ci/run`` installs Debian's ``postgresql``, so CI never skips them).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from hearth.testing.postgres import Cluster, find_binaries, start_cluster

_names = itertools.count()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if find_binaries() is None:
        pytest.skip("no PostgreSQL server binaries: apt-get install postgresql")
    made = start_cluster()
    try:
        yield made
    finally:
        made.destroy()


async def create_database(cluster: Cluster, name: str) -> str:
    admin = await asyncpg.connect(cluster.url())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return cluster.url(name)


async def drop_database(cluster: Cluster, name: str) -> None:
    if not cluster.running():
        return
    admin = await asyncpg.connect(cluster.url())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pg_url(cluster: Cluster) -> AsyncIterator[str]:
    """The URL of an empty database (on the Unix socket), dropped after the test."""
    name = f"store_{next(_names)}"
    url = await create_database(cluster, name)
    try:
        yield url
    finally:
        await drop_database(cluster, name)
