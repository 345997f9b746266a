"""The root of the tree: what runs on a Hearth node, in start order.

Children start top to bottom and stop bottom to top, so each may rely on those above it for
its whole life. The root restarts only the child that died (``one_for_one``); they share
nothing but names, and a crashed Endpoint has no reason to take the PubSub with it.

``DemoSeed`` is not a process that stays: on a fresh database it seeds the demo data (it
needs the Repo, the dirty pool and the Mailer above it) and declines to run, so it is gone
from the tree by the time the Endpoint starts serving.

Children still to come, and where they go:

- ``Presence`` (tracker shards): after the Registry, since it broadcasts through the PubSub.

``cli_spec`` is the small tree one-off commands (``hearth users``) run in: the Repo and the
dirty pool, nothing that serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.mailer import NAME as MAILER
from actors.mailer import Mailer, adapter_for
from actors.posts_freshness import NAME as POSTS_FRESHNESS
from actors.posts_freshness import PostsFreshness
from actors.rate_limiter import NAME as RATE_LIMITER
from actors.rate_limiter import RateLimiter
from channels.presence import Replication, presence_spec
from contexts import chat
from contexts.demo import DemoSeed
from hearth.config import Config
from hearth.names import LIVE, NODES, PRESENCE, PUBSUB, REGISTRY, ROOT, SESSIONS, TASKS
from otp import (
    Adapter,
    ChildSpec,
    DynamicSupervisor,
    Nodes,
    PubSub,
    RedisAdapter,
    Registry,
    Supervisor,
    TaskSupervisor,
    dirty_pool_spec,
)
from store import NAME as REPO
from store import Repo
from store.url import from_config
from web.endpoint import NAME as ENDPOINT
from web.endpoint import Endpoint

__all__ = [
    "CLI",
    "ENDPOINT",
    "LIVE",
    "MAILER",
    "PRESENCE",
    "PUBSUB",
    "RATE_LIMITER",
    "REGISTRY",
    "REPO",
    "ROOT",
    "SESSIONS",
    "TASKS",
    "cli_spec",
    "root_spec",
]

CLI = "hearth.cli"


def root_spec(config: Config) -> ChildSpec:
    """The child spec of the root supervisor, ``hearth.root``, for ``otp.run_node``."""
    children = [
        _repo(config),
        # With [cluster], its broadcasts reach every node's subscribers, through Redis.
        PubSub.child_spec(id="PubSub", name=PUBSUB,
                          init_kwargs={"adapter": _pubsub_adapter(config)}),
        *_cluster(config),
        Registry.child_spec(id="Registry", name=REGISTRY, init_kwargs={"keys": "unique"}),
        # Tracker shards: who is on each topic; diffs go out through the PubSub.
        presence_spec(PRESENCE, PUBSUB, config.presence.shards,
                      config.presence.broadcast_window, fetch=chat.presence_users,
                      replication=_replication(config)),
        dirty_pool_spec(config.node.dirty_pool_size),
        # Its counts (logins, API quotas) are kept in the Repo's database across restarts.
        # With [cluster], API quotas count across the nodes too, in Redis.
        RateLimiter.child_spec(id="RateLimiter", name=RATE_LIMITER,
                               init_kwargs={"repo": REPO, "shared": _shared_counts(config)}),
        Mailer.child_spec(adapter_for(config.mail), id="Mailer", name=MAILER),
        TaskSupervisor.child_spec(id="TaskSupervisor", name=TASKS),
        # One SocketSession per connection.
        DynamicSupervisor.child_spec(id="SessionSupervisor", name=SESSIONS),
        # One process per connected live page.
        DynamicSupervisor.child_spec(id="LiveSupervisor", name=LIVE),
        # Seeds a fresh database, then leaves the tree (see the module docstring).
        DemoSeed.child_spec(config, id="DemoSeed", restart="temporary"),
        # The supervisor waits past the server's own grace period before it kills.
        Endpoint.child_spec(
            config, id="Endpoint", name=ENDPOINT, shutdown=config.server.shutdown_timeout + 1.0
        ),
    ]
    return Supervisor.child_spec(
        children, id=ROOT, name=ROOT, init_kwargs={"strategy": "one_for_one"}
    )


def cli_spec(config: Config) -> ChildSpec:
    """The child spec of ``hearth.cli``: the Repo and the dirty pool, for one-off commands."""
    children = [_repo(config), dirty_pool_spec(config.node.dirty_pool_size)]
    return Supervisor.child_spec(
        children, id=CLI, name=CLI, init_kwargs={"strategy": "one_for_one"}
    )


def _cluster(config: Config) -> list[ChildSpec]:
    """With [cluster]: the heartbeats that tell every node who else is up, and the
    subscriber that keeps this node's post lists fresh when another node changes a post."""
    cluster = config.cluster
    if not cluster.enabled:
        return []
    return [Nodes.child_spec(PUBSUB, config.node.name, cluster.heartbeat_interval,
                             cluster.down_after, _node_info(config), id="Nodes", name=NODES),
            PostsFreshness.child_spec(PUBSUB, id="PostsFreshness", name=POSTS_FRESHNESS)]


def _node_info(config: Config) -> Callable[[], Awaitable[dict[str, Any]]]:
    """What this node's heartbeats say of it: where to reach it, and its connections."""
    address = config.cluster.address

    async def info() -> dict[str, Any]:
        said: dict[str, Any] = {"connections": (await DynamicSupervisor.count_children(
            SESSIONS))["active"]}
        if address:
            said["address"] = address
        else:
            host, port = await Endpoint.address()  # not yet while the tree starts
            said["address"] = f"http://{host}:{port}"
        return said

    return info


def _replication(config: Config) -> Replication | None:
    """With [cluster]: each tracker shard replicates to the same shard on the others."""
    cluster = config.cluster
    if not cluster.enabled:
        return None
    return Replication(config.node.name, cluster.heartbeat_interval, cluster.down_after)


def _shared_counts(config: Config) -> tuple[str, str] | None:
    cluster = config.cluster
    return (cluster.redis_url, cluster.prefix) if cluster.enabled else None


def _pubsub_adapter(config: Config) -> Adapter | None:
    cluster = config.cluster
    if not cluster.enabled:
        return None
    return RedisAdapter(cluster.redis_url, config.node.name, config.auth.secret_key.encode(),
                        prefix=cluster.prefix)


def _repo(config: Config) -> ChildSpec:
    return Repo.child_spec(from_config(config), id="Repo", name=REPO)
