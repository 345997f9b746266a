"""Two nodes' RateLimiters counting in one real Redis: a quota is the cluster's, not each
node's; with Redis gone each node counts alone, and says so once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

import otp
from actors.rate_limiter import RateLimiter
from hearth.testing.redis_server import RedisServer

NODES = ("limiter.a", "limiter.b")



@pytest.fixture
async def limiters(redis_server: RedisServer, request: pytest.FixtureRequest
                   ) -> AsyncIterator[tuple[str, str]]:
    redis_server.start()
    prefix = f"t{request.node.name[-40:]}"  # each test its own counters
    pids = [await RateLimiter.start(shared=(redis_server.url, prefix), name=name)
            for name in NODES]
    yield NODES
    for pid in pids:
        if pid is not None and otp.is_alive(pid):
            await otp.stop(pid)


async def test_a_quota_of_25_over_two_nodes_lets_25_through(limiters: tuple[str, str]) -> None:
    decisions = await asyncio.gather(*(
        RateLimiter.shared_hit("api.key", "7", 25, 60.0, limiter=NODES[i % 2])
        for i in range(60)
    ))

    assert sum(d.allowed for d in decisions) == 25
    assert {d.limit for d in decisions} == {25}
    assert min(d.remaining for d in decisions) == 0
    assert all(0 < d.reset_after <= 60.0 for d in decisions)


async def test_acquire_takes_a_slot_in_every_counter_or_none_across_nodes(
        limiters: tuple[str, str]) -> None:
    counters = [("login.account", "ann@example.com", 5), ("login.address", "10.0.0.1", 3)]

    decisions = await asyncio.gather(*(
        RateLimiter.shared_acquire(counters, 60.0, limiter=NODES[i % 2]) for i in range(10)
    ))

    granted = [d for d in decisions if all(x.allowed for x in d)]
    assert len(granted) == 3  # the address's limit, across both nodes
    # Refused attempts took no slot of the account's: 2 are still left.
    again = await RateLimiter.shared_acquire([counters[0]], 60.0, limiter=NODES[1])
    assert again[0].allowed and again[0].remaining == 1

    await RateLimiter.shared_give_back("login.address", "10.0.0.1", limiter=NODES[0])
    assert all(d.allowed for d in await RateLimiter.shared_acquire(counters, 60.0,
                                                                   limiter=NODES[1]))
    await RateLimiter.shared_reset("login.address", "10.0.0.1", limiter=NODES[1])
    fresh = await RateLimiter.shared_acquire([counters[1]], 60.0, limiter=NODES[0])
    assert fresh[0].remaining == 2


async def test_with_redis_gone_each_node_counts_alone_and_says_so_once(
        limiters: tuple[str, str], redis_server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    redis_server.stop()

    with caplog.at_level(logging.INFO, logger="actors.rate_limiter"):
        on_a = [await RateLimiter.shared_hit("api.key", "8", 5, 60.0, limiter=NODES[0])
                for _ in range(7)]
        on_b = [await RateLimiter.shared_hit("api.key", "8", 5, 60.0, limiter=NODES[1])
                for _ in range(7)]
        redis_server.start()
        back = await RateLimiter.shared_hit("api.key", "8", 5, 60.0, limiter=NODES[0])

    assert [d.allowed for d in on_a] == [True] * 5 + [False] * 2
    assert [d.allowed for d in on_b] == [True] * 5 + [False] * 2
    assert back.allowed and back.remaining == 4  # Redis's count, started afresh
    alone = [r for r in caplog.records if "counting on this node alone" in r.getMessage()]
    assert len(alone) == 2  # once per node
    assert sum("counting across the cluster" in r.getMessage() for r in caplog.records) == 1
