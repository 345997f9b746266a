"""RedisAdapter: two PubSubs of two "nodes" in one process, linked by a real redis-server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

import otp
from hearth.testing.redis_server import RedisServer
from otp import LINK_TOPIC, LinkChanged, Pid, PubSub, RedisAdapter

from ._mailbox import expect, nothing_before

SECRET = b"the-cluster-secret-of-these-tests-0123456789"



@pytest.fixture
async def nodes(redis_server: RedisServer) -> AsyncIterator[tuple[RedisAdapter, RedisAdapter]]:
    redis_server.start()  # a test may have stopped it
    a = RedisAdapter(redis_server.url, "a@test", SECRET, prefix="t")
    b = RedisAdapter(redis_server.url, "b@test", SECRET, prefix="t")
    pa = await PubSub.start(name="a", adapter=a)
    pb = await PubSub.start(name="b", adapter=b)
    assert a.link_up and b.link_up
    yield a, b
    for pid in (pa, pb):
        if pid is not None and otp.is_alive(pid):
            await otp.stop(pid)


async def subscriber(pubsub: str, topic: str) -> Pid:
    """A process subscribed to ``topic`` on ``pubsub``, forwarding ``("got", pubsub, msg)``."""
    me = otp.self()

    async def body() -> None:
        PubSub.subscribe(pubsub, topic)
        otp.send(me, ("subscribed", otp.self()))
        while True:
            otp.send(me, ("got", pubsub, await otp.receive()))

    pid = otp.spawn(body)
    assert await expect(lambda m: m == ("subscribed", pid))
    return pid


def got(pubsub: str, message: Any) -> Any:
    return lambda m: m == ("got", pubsub, message)


async def test_a_broadcast_reaches_the_other_nodes_subscribers(
        nodes: tuple[RedisAdapter, RedisAdapter]) -> None:
    await subscriber("b", "room:1")

    PubSub.broadcast("a", "room:1", {"body": "hello", "n": 1})

    assert await expect() == ("got", "b", {"body": "hello", "n": 1})


async def test_local_broadcast_stays_on_its_node(
        nodes: tuple[RedisAdapter, RedisAdapter]) -> None:
    await subscriber("b", "t")

    PubSub.local_broadcast("a", "t", "only here")
    PubSub.broadcast("a", "t", "everywhere")

    assert await expect() == ("got", "b", "everywhere")
    await nothing_before("marker")


async def test_broadcast_from_skips_the_sender_everywhere_and_reaches_the_rest(
        nodes: tuple[RedisAdapter, RedisAdapter]) -> None:
    sender = await subscriber("a", "t")
    await subscriber("b", "t")

    PubSub.broadcast_from("a", sender, "t", "from the sender")

    assert await expect() == ("got", "b", "from the sender")
    await nothing_before("marker")


async def test_one_publishers_order_is_kept_across_nodes(
        nodes: tuple[RedisAdapter, RedisAdapter]) -> None:
    await subscriber("b", "seq")

    for i in range(2000):
        PubSub.broadcast("a", "seq", i)

    received = [(await expect())[2] for _ in range(2000)]
    assert received == list(range(2000))


async def test_a_nodes_own_broadcasts_are_not_delivered_twice(
        nodes: tuple[RedisAdapter, RedisAdapter]) -> None:
    await subscriber("a", "t")
    await subscriber("b", "t")

    PubSub.broadcast("a", "t", "m1")
    # Once b has it, Redis has sent m1 to a's subscription too; m2 from b comes after it.
    assert await expect(got("b", "m1"))
    PubSub.broadcast("b", "t", "m2")

    assert await expect(got("a", "m1"))
    assert await expect(lambda m: m[0] == "got" and m[1] == "a") == ("got", "a", "m2")


async def test_a_frame_not_signed_with_the_secret_is_dropped(
        nodes: tuple[RedisAdapter, RedisAdapter], redis_server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    await subscriber("b", "t")
    forger = RedisAdapter(redis_server.url, "forger", b"not-the-secret", prefix="t")
    forger._origin = b"forger#1"
    forger._head = bytes((len(forger._origin),)) + forger._origin
    forger.link_up = True
    forger.broadcast("t", "forged", None)
    client = aioredis.Redis.from_url(redis_server.url)

    with caplog.at_level(logging.WARNING, logger="otp.cluster"):
        await client.publish("t:pubsub", forger._queue.popleft())
        PubSub.broadcast("a", "t", "genuine")
        assert await expect() == ("got", "b", "genuine")

    await client.aclose()
    assert "bad signature" in caplog.text


async def test_redis_lost_the_node_serves_alone_then_resubscribes(
        nodes: tuple[RedisAdapter, RedisAdapter], redis_server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    a, b = nodes
    PubSub.subscribe("a", LINK_TOPIC)
    await subscriber("a", "t")
    await subscriber("b", "t")

    with caplog.at_level(logging.INFO, logger="otp.cluster"):
        redis_server.kill()
        assert await expect(lambda m: m == LinkChanged(False))
        assert not a.link_up

        PubSub.broadcast("a", "t", "while down")
        assert await expect(got("a", "while down"))  # local clients are still served

        redis_server.start()
        assert await expect(lambda m: m == LinkChanged(True))
        await nothing_before("marker")  # once each: no repeated link messages

    downs = [r for r in caplog.records if "cluster link of a@test down" in r.getMessage()]
    assert len(downs) == 1
    # b may resubscribe after a did: it says so itself, on its own node.
    PubSub.subscribe("b", LINK_TOPIC)
    if not b.link_up:
        assert await expect(lambda m: m == LinkChanged(True))
    PubSub.broadcast("a", "t", "after")
    assert await expect(got("b", "after"))
    assert a.dropped >= 1


def test_the_url_stays_out_of_the_repr() -> None:
    adapter = RedisAdapter("redis://:hunter2@127.0.0.1:1/0", "n", SECRET)

    assert "hunter2" not in repr(adapter)


async def test_a_node_starts_without_redis_and_joins_when_it_is_there(
        redis_server: RedisServer, tmp_path: Path) -> None:
    redis_server.stop()
    adapter = RedisAdapter(redis_server.url, "late@test", SECRET, prefix="t")
    pid = await PubSub.start(name="late", adapter=adapter)
    assert not adapter.link_up
    PubSub.subscribe("late", LINK_TOPIC)

    redis_server.start()

    assert await expect(lambda m: m == LinkChanged(True))
    assert pid is not None
    await otp.stop(pid)
