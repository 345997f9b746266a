"""``/api/v1/posts``: anyone reads, a caller writes, and only the author, a moderator or an
admin changes or deletes; anyone else gets 403 and the post stays as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contexts import posts

from ._api import Node, api_node


async def write(node: Node, token: str, title: str = "Hello", body: str = "First!") -> Any:
    """The ``data`` of a post the caller of ``token`` wrote."""
    answer = await node.request("POST", "/api/v1/posts", token=token,
                                json={"title": title, "body": body})
    assert answer.status == 201, answer
    return answer.body["data"]


async def read(node: Node, post_id: int) -> Any:
    answer = await node.request("GET", f"/api/v1/posts/{post_id}")
    assert answer.status == 200, answer
    return answer.body["data"]


# -- reading ---------------------------------------------------------------------------------


async def test_anyone_lists_posts_newest_first_with_their_authors(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        first = await write(node, alice, "One")
        second = await write(node, alice, "Two")

        answer = await node.request("GET", "/api/v1/posts")

        assert answer.status == 200
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.body == {"data": [second, first]}
        assert second["author"]["display_name"] == "alice"
        assert set(second) == {"id", "author", "title", "body", "created_at", "updated_at"}


async def test_limit_and_offset_choose_a_slice(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        for n in range(5):
            await write(node, alice, f"Post {n}")

        answer = await node.request("GET", "/api/v1/posts?limit=2&offset=1")

        assert [p["title"] for p in answer.body["data"]] == ["Post 3", "Post 2"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=+5", "offset=-1",
              "offset=1e3", "offset=100001", "offset=" + "9" * 30],
)
async def test_a_limit_or_offset_out_of_bounds_is_refused(tmp_path: Path, query: str) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("GET", f"/api/v1/posts?{query}")

        assert answer.status == 400
        assert answer.code == "invalid_request"
        assert query.split("=")[0] in answer.body["error"]["message"]


async def test_anyone_reads_a_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"))

        answer = await node.request("GET", f"/api/v1/posts/{post['id']}")

        assert (answer.status, answer.body) == (200, {"data": post})


@pytest.mark.parametrize("post_id", ["999999", "abc", "1.0", "-1", "%201", "9" * 19])
async def test_a_post_nobody_has_or_no_id_at_all_is_not_found(
    tmp_path: Path, post_id: str
) -> None:
    async with api_node(tmp_path) as node:
        moderator = await node.token("mod@example.com", "moderator")
        for method in ("GET", "PATCH", "DELETE"):
            answer = await node.request(method, f"/api/v1/posts/{post_id}", token=moderator,
                                        json={"title": "T"})

            assert answer.status == 404, (method, answer)
            assert answer.code == "not_found"


# -- writing ---------------------------------------------------------------------------------


async def test_a_caller_writes_a_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")

        answer = await node.request("POST", "/api/v1/posts", token=alice,
                                    json={"title": " Hello ", "body": "First!"})

        assert answer.status == 201
        data = answer.body["data"]
        assert (data["title"], data["body"]) == ("Hello", "First!")
        user = await node.accounts.get_user_by_email("alice@example.com")
        assert user is not None and data["author"]["id"] == user.id
        assert await read(node, data["id"]) == data


async def test_blank_fields_answer_422_with_each_fields_errors(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")

        answer = await node.request("POST", "/api/v1/posts", token=alice,
                                    json={"title": "  "})

        assert answer.status == 422
        assert answer.code == "validation_failed"
        assert answer.body["error"]["fields"] == {
            "title": ["can't be blank"],
            "body": ["can't be blank"],
        }
        assert await posts.list_posts() == []


async def test_a_field_that_is_not_a_string_is_a_bad_request(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")

        answer = await node.request("POST", "/api/v1/posts", token=alice,
                                    json={"title": ["Hi"], "body": "There"})

        assert answer.status == 400
        assert answer.code == "invalid_request"
        assert "title" in answer.body["error"]["message"]


# -- changing --------------------------------------------------------------------------------


async def test_the_author_changes_one_field_and_keeps_the_other(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        post = await write(node, alice, "Old", "Body stays")

        answer = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=alice,
                                    json={"title": "New"})

        assert answer.status == 200
        assert (answer.body["data"]["title"], answer.body["data"]["body"]) == ("New",
                                                                               "Body stays")
        assert await read(node, post["id"]) == answer.body["data"]


async def test_an_invalid_change_answers_422_and_changes_nothing(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        post = await write(node, alice)

        answer = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=alice,
                                    json={"body": ""})

        assert answer.status == 422
        assert answer.body["error"]["fields"] == {"body": ["can't be blank"]}
        assert await read(node, post["id"]) == post


async def test_another_user_is_forbidden_and_the_post_is_unchanged(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"), "Hers", "Hers.")
        bob = await node.token("bob@example.com")

        patch = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=bob,
                                   json={"title": "Bob's now"})
        # Refused before the body is judged: a bad body tells bob nothing either.
        bad_patch = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=bob,
                                       json={"title": ""})
        delete = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=bob)

        for answer in (patch, bad_patch, delete):
            assert answer.status == 403, answer
            assert answer.code == "forbidden"
        assert await read(node, post["id"]) == post


@pytest.mark.parametrize("role", ["moderator", "admin"])
async def test_a_moderator_or_admin_changes_and_deletes_someone_elses_post(
    tmp_path: Path, role: str
) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"))
        staff = await node.token(f"{role}@example.com", role)

        patch = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=staff,
                                   json={"title": "Tidied"})
        assert patch.status == 200
        assert patch.body["data"]["title"] == "Tidied"
        assert patch.body["data"]["author"] == post["author"]  # still alice's

        delete = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=staff)

        assert (delete.status, delete.body) == (204, None)
        assert (await node.request("GET", f"/api/v1/posts/{post['id']}")).status == 404


async def test_the_author_deletes_their_post_once(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        post = await write(node, alice)

        first = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=alice)
        again = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=alice)

        assert first.status == 204
        assert (again.status, again.code) == (404, "not_found")
        assert await posts.get_post(post["id"]) is None
