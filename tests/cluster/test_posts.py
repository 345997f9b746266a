"""Post lists in a cluster: a post stored through one node shows in another node's lists,
which that node keeps cached between changes."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from hearth.testing import PASSWORD
from hearth.testing.redis_server import RedisServer

from ._cluster import cluster, sign_up


async def test_a_post_made_on_a_shows_in_the_list_b_had_cached(
        tmp_path: Path, redis: RedisServer) -> None:
    async with cluster(tmp_path, redis, "a", "b") as nodes:
        await sign_up(nodes["a"], "ann")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{nodes['b'].url}/api/v1/auth/token",
                                 json={"email": "ann@example.com", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()
                auth = {"Authorization": f"Bearer {(await r.json())['access_token']}"}

            async def titles(node: str) -> list[str]:
                async with http.get(f"{nodes[node].url}/api/v1/posts?page=1",
                                    headers=auth) as r:
                    assert r.status == 200, await r.text()
                    return [p["title"] for p in (await r.json())["data"]]

            async def listed_on_b() -> list[str] | None:
                got = await titles("b")
                return got if "Made on a" in got else None

            before = await titles("b")
            assert before == await titles("b")  # the second answer is b's kept one
            async with http.post(f"{nodes['a'].url}/api/v1/posts", headers=auth,
                                 json={"title": "Made on a", "body": "Seen on b"}) as r:
                assert r.status == 201, await r.text()

            after = await nodes.until("b lists the post made on a", listed_on_b)

        assert "Made on a" not in before
        assert after[0] == "Made on a"
