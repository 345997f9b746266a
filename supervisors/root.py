"""The root of the tree: what runs on a Hearth node, in start order.

Children start top to bottom and stop bottom to top, so each may rely on those above it for
its whole life. The root restarts only the child that died (``one_for_one``); they share
nothing but names, and a crashed Endpoint has no reason to take the PubSub with it.

Children still to come, and where they go:

- ``Repo`` (SQLite via aiosqlite, migrations on start): first, before the PubSub, so every
  process that stores can rely on it;
- ``Presence`` (tracker shards): after the Registry, since it broadcasts through the PubSub;
- ``RateLimiter``: after the dirty pool, before the TaskSupervisor.
"""

from __future__ import annotations

from actors.rate_limiter import NAME as RATE_LIMITER
from actors.rate_limiter import RateLimiter
from actors.repo import NAME as REPO
from actors.repo import Repo
from hearth.config import Config
from otp import (
    ChildSpec,
    DynamicSupervisor,
    PubSub,
    Registry,
    Supervisor,
    TaskSupervisor,
    dirty_pool_spec,
)
from web.endpoint import NAME as ENDPOINT
from web.endpoint import Endpoint

__all__ = [
    "ENDPOINT",
    "LIVE",
    "PUBSUB",
    "RATE_LIMITER",
    "REGISTRY",
    "REPO",
    "ROOT",
    "SESSIONS",
    "TASKS",
    "root_spec",
]

ROOT = "hearth.root"
PUBSUB = "hearth.pubsub"
REGISTRY = "hearth.registry"
TASKS = "hearth.tasks"
SESSIONS = "hearth.sessions"
LIVE = "hearth.live"


def root_spec(config: Config) -> ChildSpec:
    """The child spec of the root supervisor, ``hearth.root``, for ``otp.run_node``."""
    children = [
        Repo.child_spec(
            config.database.path, config.database.read_connections, id="Repo", name=REPO
        ),
        PubSub.child_spec(id="PubSub", name=PUBSUB),
        Registry.child_spec(id="Registry", name=REGISTRY, init_kwargs={"keys": "unique"}),
        dirty_pool_spec(config.node.dirty_pool_size),
        RateLimiter.child_spec(id="RateLimiter", name=RATE_LIMITER),
        TaskSupervisor.child_spec(id="TaskSupervisor", name=TASKS),
        # One SocketSession per connection.
        DynamicSupervisor.child_spec(id="SessionSupervisor", name=SESSIONS),
        # One process per connected live page.
        DynamicSupervisor.child_spec(id="LiveSupervisor", name=LIVE),
        # The supervisor waits past the server's own grace period before it kills.
        Endpoint.child_spec(
            config, id="Endpoint", name=ENDPOINT, shutdown=config.server.shutdown_timeout + 1.0
        ),
    ]
    return Supervisor.child_spec(
        children, id=ROOT, name=ROOT, init_kwargs={"strategy": "one_for_one"}
    )
