"""ETags (304 for an unchanged GET, 412 for a stale If-Match) and gzip for answers of 1 KB
or more, as a client sees them."""

from __future__ import annotations

import gzip

from contexts import posts
from contexts.accounts import User
from hearth.testing import (
    Conn,
    TestNode,
    api_conn,
    insert,
    insert_list,
    json_response,
    problem_response,
)


async def seed(count: int = 3, body: str = "Body") -> User:
    """``count`` posts by an author, and a reader of them."""
    await insert_list(count, "post", author=await insert("user"), body=body)
    reader: User = await insert("user")
    return reader


async def test_an_unchanged_list_answers_304_with_no_body(hearth_node: TestNode) -> None:
    async with await api_conn(await seed()) as reader:
        first = await reader.get("/api/v1/posts")
        tag = first.headers["ETag"]
        again = await reader.get("/api/v1/posts", headers={"If-None-Match": tag})
        other = await reader.get("/api/v1/posts", headers={"If-None-Match": '"something-else"'})

    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert (again.status, again.raw) == (304, b"")
    assert again.headers["ETag"] == tag
    assert "X-RateLimit-Remaining" in again.headers
    assert other.status == 200 and other.body == first.body


async def test_a_change_gives_a_new_etag(hearth_node: TestNode) -> None:
    async with await api_conn(await seed()) as reader:
        first = await reader.get("/api/v1/posts/1")

        await posts.update_post(1, "Edited", "Body")
        after = await reader.get("/api/v1/posts/1",
                                 headers={"If-None-Match": first.headers["ETag"]})

    assert json_response(after, 200)["title"] == "Edited"
    assert after.headers["ETag"] != first.headers["ETag"]


async def test_each_version_has_its_own_etag(hearth_node: TestNode) -> None:
    async with await api_conn(await seed()) as reader:
        v1 = await reader.get("/api/v1/posts/1")
        v2 = await reader.get("/api/v2/posts/1", headers={"If-None-Match": v1.headers["ETag"]})

    assert v2.status == 200
    assert v2.headers["ETag"] != v1.headers["ETag"]


async def test_if_match_guards_a_change_against_a_stale_read(hearth_node: TestNode) -> None:
    async with await api_conn(await insert("user")) as alice:
        made = await alice.post("/api/v1/posts", json={"title": "T", "body": "B"})
        path = f"/api/v1/posts/{made.body['id']}"
        read = await alice.get(path)
        tag = read.headers["ETag"]

        first = await alice.patch(path, json={"title": "Mine"}, headers={"If-Match": tag})
        stale = await alice.patch(path, json={"title": "Theirs"}, headers={"If-Match": tag})
        stale_delete = await alice.delete(path, headers={"If-Match": tag})

        assert first.status == 200
        problem_response(stale, 412, "precondition_failed")
        assert stale_delete.status == 412
        assert json_response(await alice.get(path), 200)["title"] == "Mine"


async def test_large_answers_are_gzipped_for_clients_that_accept_it(
    hearth_node: TestNode,
) -> None:
    tokens = await hearth_node.tokens.issue(await seed(20, "x" * 200))
    auth = {"Authorization": f"Bearer {tokens.access_token}"}
    # Without the client's own decompression: the bytes as sent.
    async with Conn(hearth_node, auth, auto_decompress=False) as reader:
        packed = await reader.get("/api/v1/posts", headers={"Accept-Encoding": "gzip, br"})
        plain = await reader.get("/api/v1/posts", headers={"Accept-Encoding": "identity"})
        refused = await reader.get("/api/v1/posts", headers={"Accept-Encoding": "gzip;q=0"})
        small = await reader.get("/api/v1/me", headers={"Accept-Encoding": "gzip"})

        assert packed.status == 200
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.raw) == plain.raw
        assert len(packed.raw) < len(plain.raw) / 3
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert "Content-Encoding" not in plain.headers
        assert "Content-Encoding" not in refused.headers
        assert len(small.raw) < 1024 and "Content-Encoding" not in small.headers
        # Another representation, another strong ETag, and either one revalidates.
        assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + '-gzip"'
        for tag in (packed.headers["ETag"], plain.headers["ETag"]):
            again = await reader.get("/api/v1/posts",
                                     headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
            assert (again.status, again.raw) == (304, b"")
