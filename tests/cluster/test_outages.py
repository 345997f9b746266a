"""What a cluster does when Redis goes away and comes back, and how it shares quotas."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from hearth.testing import PASSWORD
from hearth.testing.redis_server import RedisServer
from tests.interop.conftest import Run

from ._cluster import Cluster, cluster, sign_up
from .test_rooms import in_the_lobby


async def _link(nodes: Cluster, name: str, state: str) -> bool:
    stats = await nodes[name].admin("stats")
    return bool(stats["cluster"]["link"] == state)


async def test_redis_stopped_and_restarted_every_node_recovers(
        tmp_path: Path, redis: RedisServer, run_js: Run) -> None:
    async with cluster(tmp_path, redis, "a", "b", "c") as nodes:
        people = await in_the_lobby(nodes, run_js)

        redis.stop()

        for name in "abc":
            await nodes.until(f"{name} sees the link down", lambda n=name: _link(nodes, n, "down"))
        shown = nodes["a"].cli("stats")
        assert "cluster link:     down" in shown.stdout, shown.stdout
        # Each node serves its own clients: ann's message reaches ann, on a.
        await people["ann"].send(cmd="post", body="alone on a")
        assert (await people["ann"].expect("message"))["body"] == "alone on a"
        # The others' presences leave once they are silent for down_after.
        await people["ann"].expect("sync", list={"Ann": ["a"]})
        await people["ben"].expect("sync", list={"Ben": ["b"]})
        # cat leaves while the nodes cannot tell each other.
        await people["cat"].send(cmd="exit")
        await people["cat"].finish()

        redis.start()

        for name in "abc":
            await nodes.until(f"{name} sees the link up", lambda n=name: _link(nodes, n, "up"))
        await nodes.joined()
        # Merged: everyone still here, once, and no ghost of cat.
        await people["ann"].expect("sync", list={"Ann": ["a"], "Ben": ["b"]})
        await people["ben"].expect("sync", list={"Ann": ["a"], "Ben": ["b"]})
        await people["ben"].send(cmd="post", body="after the outage")
        got = await people["ann"].expect("message", body="after the outage")
        assert got["author"] == "Ben"
        await people["ben"].expect("message", body="after the outage")
        # What a said while alone stayed on a (dropped for the others, not replayed).
        assert [e["body"] for e in people["ben"].seen("message")] == ["after the outage"]


async def test_a_quota_of_25_across_two_nodes_lets_exactly_25_through(
        tmp_path: Path, redis: RedisServer) -> None:
    async with cluster(tmp_path, redis, "a", "b", rate_limit=25) as nodes:
        await sign_up(nodes["a"], "ann")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{nodes['b'].url}/api/v1/auth/token",
                                 json={"email": "ann@example.com", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()
                token = (await r.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}

            async def rooms(node: str) -> tuple[int, str | None]:
                async with http.get(f"{nodes[node].url}/api/v1/rooms", headers=headers) as r:
                    return r.status, r.headers.get("X-RateLimit-Remaining")

            answers = await asyncio.gather(*(rooms("ab"[i % 2]) for i in range(40)))

        statuses = [status for status, _ in answers]
        assert statuses.count(200) == 25, answers
        assert statuses.count(429) == 15, answers
        left = sorted(int(n or -1) for status, n in answers if status == 200)
        assert left == list(range(25))


async def test_login_guesses_count_across_the_nodes(tmp_path: Path, redis: RedisServer) -> None:
    # auth.login_limit_per_account is 5 for the whole cluster, not 5 on each node.
    async with cluster(tmp_path, redis, "a", "b") as nodes:
        await sign_up(nodes["a"], "ann")
        async with aiohttp.ClientSession() as http:

            async def log_in(node: str, password: str) -> int:
                async with http.post(f"{nodes[node].url}/api/v1/auth/token",
                                     json={"email": "ann@example.com",
                                           "password": password}) as r:
                    return r.status

            guesses = await asyncio.gather(
                *(log_in("ab"[i % 2], f"guess {i}") for i in range(12)))
            right = await log_in("b", PASSWORD)

        assert guesses.count(401) == 5, guesses  # checked, wrong
        assert guesses.count(429) == 7, guesses  # refused before any check
        assert right == 429  # the account's five checks are spent on every node
