"""Nodes: two nodes of one process, on two PubSubs linked by a real redis-server, hear each
other's heartbeats; one that stops is down for the other after ``down_after``."""

from __future__ import annotations

import otp
from hearth.testing.redis_server import RedisServer
from otp import EVENTS_TOPIC, NodeDown, Nodes, NodeUp, PubSub, RedisAdapter

from ._mailbox import expect

SECRET = b"the-cluster-secret-of-these-tests-0123456789"



async def node(redis_server: RedisServer, name: str, connections: int) -> otp.Pid:
    await PubSub.start(name=f"ps.{name}",
                       adapter=RedisAdapter(redis_server.url, name, SECRET, prefix="n"))
    pid = await Nodes.start(f"ps.{name}", name, 0.1, 1.0,
                            lambda: {"connections": connections, "address": f"http://{name}"},
                            name=f"nodes.{name}")
    assert pid is not None
    return pid


async def test_two_nodes_hear_each_other_and_one_that_stops_goes_down(
        redis_server: RedisServer) -> None:
    await PubSub.start(name="ps.a", adapter=RedisAdapter(redis_server.url, "a", SECRET,
                                                          prefix="n"))
    PubSub.subscribe("ps.a", EVENTS_TOPIC)
    await Nodes.start("ps.a", "a", 0.1, 1.0, lambda: {"connections": 3}, name="nodes.a")
    b = await node(redis_server, "b", 7)

    up = await expect(lambda m: type(m) is NodeUp and m.node == "b")
    rows = await Nodes.list("nodes.a")
    assert [(r["name"], r["up"], r["self"]) for r in rows] == [("a", True, True),
                                                              ("b", True, False)]
    assert rows[0]["connections"] == 3
    assert (rows[1]["connections"], rows[1]["address"]) == (7, "http://b")
    assert rows[1]["last_heartbeat_s"] < 1.0

    await otp.stop(b)

    down = await expect(lambda m: type(m) is NodeDown and m.node == "b")
    assert down.boot == up.boot
    assert [(r["name"], r["up"]) for r in await Nodes.list("nodes.a")] == [("a", True),
                                                                           ("b", False)]

    again = await node(redis_server, "b2", 1)
    assert await expect(lambda m: type(m) is NodeUp and m.node == "b2")
    await otp.stop(again)
