"""Chat rooms across three nodes, seen by phoenix.js clients: messages, presence, a node
killed and restarted, a logout on one node closing the user's sockets on another."""

from __future__ import annotations

from pathlib import Path

from hearth.testing.redis_server import RedisServer
from tests.interop.conftest import Run, Script

from ._cluster import Cluster, cluster, log_out, sign_in, sign_up

TOPIC = "room:lobby"
PEOPLE = {"ann": "a", "ben": "b", "cat": "c"}
"""Who is on which node."""
EVERYONE = {"Ann": ["a"], "Ben": ["b"], "Cat": ["c"]}


async def in_the_lobby(nodes: Cluster, run_js: Run) -> dict[str, Script]:
    """ann on a, ben on b, cat on c (each registered on a, signed in on their node), each
    with phoenix.js in the lobby; returned once each one's Presence lists all three."""
    scripts = {}
    for name, where in PEOPLE.items():
        await sign_up(nodes["a"], name)
        person = await sign_in(nodes[where], name)
        scripts[name] = await run_js("room.mjs", nodes[where].socket_url, person.token, name,
                                     TOPIC, name=f"{name}@{where}")
    for script in scripts.values():
        await script.expect("sync", list=EVERYONE)
    return scripts


async def test_a_message_posted_on_a_reaches_phoenix_js_clients_on_b_and_c(
        tmp_path: Path, redis: RedisServer, run_js: Run) -> None:
    async with cluster(tmp_path, redis, "a", "b", "c") as nodes:
        people = await in_the_lobby(nodes, run_js)

        await people["ann"].send(cmd="post", body="hello from a")

        for name in ("ann", "ben", "cat"):
            got = await people[name].expect("message")
            assert (got["body"], got["author"]) == ("hello from a", "Ann")
        assert (await people["ann"].expect("posted"))["status"] == "ok"
        await people["cat"].send(cmd="post", body="and from c")
        for name in ("ann", "ben", "cat"):
            assert (await people[name].expect("message"))["body"] == "and from c"
        # Once each: ann's own message came back to her once.
        assert [e["body"] for e in people["ann"].seen("message")] == ["hello from a",
                                                                       "and from c"]


async def test_joins_and_leaves_are_seen_on_every_node(
        tmp_path: Path, redis: RedisServer, run_js: Run) -> None:
    async with cluster(tmp_path, redis, "a", "b", "c") as nodes:
        people = await in_the_lobby(nodes, run_js)
        # A second tab of ben's, on c this time.
        second = await sign_in(nodes["c"], "ben")
        tab = await run_js("room.mjs", nodes["c"].socket_url, second.token, "ben2", TOPIC,
                           name="ben@c")
        for script in people.values():
            await script.expect("sync", list={"Ann": ["a"], "Ben": ["b", "c"], "Cat": ["c"]})

        await people["cat"].send(cmd="exit")
        await people["cat"].finish()

        for name in ("ann", "ben"):
            left = await people[name].expect("presence_leave", who="Cat")
            assert (left["left"], left["remaining"]) == (["c"], [])
            await people[name].expect("sync", list={"Ann": ["a"], "Ben": ["b", "c"]})
        await tab.send(cmd="exit")
        await tab.finish()
        for name in ("ann", "ben"):
            left = await people[name].expect("presence_leave", who="Ben")
            assert (left["left"], left["remaining"]) == (["c"], ["b"])


async def test_a_killed_node_leaves_everywhere_and_rejoins_when_restarted(
        tmp_path: Path, redis: RedisServer, run_js: Run) -> None:
    async with cluster(tmp_path, redis, "a", "b", "c") as nodes:
        people = await in_the_lobby(nodes, run_js)

        await nodes["c"].kill()

        for name in ("ann", "ben"):
            # Within down_after (3 s) and a heartbeat: inside the wait.
            left = await people[name].expect("presence_leave", who="Cat")
            assert left["left"] == ["c"]
            await people[name].expect("sync", list={"Ann": ["a"], "Ben": ["b"]})
        await nodes.until("a sees c down", lambda: _down(nodes, "a", "c"))

        await nodes["c"].start()
        await nodes.joined()

        # cat's phoenix.js reconnects to c by itself and rejoins: everyone sees her again,
        # once, and c's newcomers see everyone.
        for script in people.values():
            await script.expect("sync", list=EVERYONE)
        await people["ben"].send(cmd="post", body="welcome back")
        assert (await people["cat"].expect("message"))["body"] == "welcome back"


async def _down(nodes: Cluster, asker: str, name: str) -> bool:
    rows = (await nodes[asker].admin("nodes"))["nodes"]
    return any(r["name"] == name and not r["up"] for r in rows)


async def test_logout_on_a_closes_the_users_socket_on_b(
        tmp_path: Path, redis: RedisServer, run_js: Run) -> None:
    async with cluster(tmp_path, redis, "a", "b") as nodes:
        await sign_up(nodes["a"], "ann")
        ann = await sign_in(nodes["a"], "ann")
        # The same browser session opens the room page on b: b's socket token for it.
        on_b = await sign_in(nodes["b"], "ann")
        script = await run_js("room.mjs", nodes["b"].socket_url, on_b.token, "ann", TOPIC,
                              name="ann@b")
        await script.expect("join", status="ok")

        await log_out(on_b, nodes["a"])

        closed = await script.expect("close")
        assert closed["code"] == 1001
        # Its reconnects are refused now (the session is gone): no second join.
        await script.expect("transport_error")
        assert len(script.seen("join", status="ok")) == 1
        assert ann.cookie != on_b.cookie
