"""ETags (304 for an unchanged GET, 412 for a stale If-Match) and gzip for answers of 1 KB
or more, as a client sees them."""

from __future__ import annotations

import gzip
from pathlib import Path

import aiohttp
from multidict import CIMultiDict

from contexts import posts

from ._api import Node, api_node


async def seed(node: Node, count: int = 3, body: str = "Body") -> str:
    author = await node.user("author@example.com")
    for n in range(count):
        await posts.create_post(author.id, f"Post {n}", body)
    return await node.token("reader@example.com")


async def raw_get(node: Node, path: str, headers: dict[str, str]
                  ) -> tuple[int, CIMultiDict[str], bytes]:
    """GET without the client's own decompression: the bytes as sent."""
    async with aiohttp.ClientSession(auto_decompress=False) as http, http.get(
        node.url + path, headers=headers
    ) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def test_an_unchanged_list_answers_304_with_no_body(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await seed(node)

        first = await node.request("GET", "/api/v1/posts", token=token)
        tag = first.headers["ETag"]
        again = await node.request("GET", "/api/v1/posts", token=token,
                                   headers={"If-None-Match": tag})
        other = await node.request("GET", "/api/v1/posts", token=token,
                                   headers={"If-None-Match": '"something-else"'})

        assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
        assert (again.status, again.body) == (304, None)
        assert again.headers["ETag"] == tag
        assert "X-RateLimit-Remaining" in again.headers
        assert other.status == 200 and other.body == first.body


async def test_a_change_gives_a_new_etag(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await seed(node)
        first = await node.request("GET", "/api/v1/posts/1", token=token)

        await posts.update_post(1, "Edited", "Body")
        after = await node.request("GET", "/api/v1/posts/1", token=token,
                                   headers={"If-None-Match": first.headers["ETag"]})

        assert after.status == 200
        assert after.body["title"] == "Edited"
        assert after.headers["ETag"] != first.headers["ETag"]


async def test_each_version_has_its_own_etag(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await seed(node)

        v1 = await node.request("GET", "/api/v1/posts/1", token=token)
        v2 = await node.request("GET", "/api/v2/posts/1", token=token,
                                headers={"If-None-Match": v1.headers["ETag"]})

        assert v2.status == 200
        assert v2.headers["ETag"] != v1.headers["ETag"]


async def test_if_match_guards_a_change_against_a_stale_read(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        made = await node.request("POST", "/api/v1/posts", token=alice,
                                  json={"title": "T", "body": "B"})
        path = f"/api/v1/posts/{made.body['id']}"
        read = await node.request("GET", path, token=alice)
        tag = read.headers["ETag"]

        first = await node.request("PATCH", path, token=alice, json={"title": "Mine"},
                                   headers={"If-Match": tag})
        stale = await node.request("PATCH", path, token=alice, json={"title": "Theirs"},
                                   headers={"If-Match": tag})
        stale_delete = await node.request("DELETE", path, token=alice,
                                          headers={"If-Match": tag})

        assert first.status == 200
        assert (stale.status, stale.code) == (412, "precondition_failed")
        assert stale_delete.status == 412
        assert (await node.request("GET", path, token=alice)).body["title"] == "Mine"


async def test_large_answers_are_gzipped_for_clients_that_accept_it(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await seed(node, 20, "x" * 200)
        auth = {"Authorization": f"Bearer {token}"}

        status, headers, packed = await raw_get(node, "/api/v1/posts",
                                                {**auth, "Accept-Encoding": "gzip, br"})
        _, plain_headers, plain = await raw_get(node, "/api/v1/posts",
                                                {**auth, "Accept-Encoding": "identity"})
        _, refused_headers, _ = await raw_get(node, "/api/v1/posts",
                                              {**auth, "Accept-Encoding": "gzip;q=0"})
        _, small_headers, small = await raw_get(node, "/api/v1/me",
                                                {**auth, "Accept-Encoding": "gzip"})

        assert status == 200
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed) == plain
        assert len(packed) < len(plain) / 3
        assert "Accept-Encoding" in headers["Vary"]
        assert "Content-Encoding" not in plain_headers
        assert "Content-Encoding" not in refused_headers
        assert len(small) < 1024 and "Content-Encoding" not in small_headers
        # Another representation, another strong ETag, and either one revalidates.
        assert headers["ETag"] == plain_headers["ETag"][:-1] + '-gzip"'
        for tag in (headers["ETag"], plain_headers["ETag"]):
            status, _, body = await raw_get(node, "/api/v1/posts",
                                            {**auth, "Accept-Encoding": "gzip",
                                             "If-None-Match": tag})
            assert (status, body) == (304, b"")
