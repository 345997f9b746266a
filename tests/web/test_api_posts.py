"""``/api/v1/posts``: callers read, write and like; only the author, a moderator or an
admin changes or deletes, and anyone else gets 403 and the post stays as it was. Drafts are
seen only by those who may change them. (Pagination, versions, ETags and quotas have their
own test modules.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from contexts import posts

from ._api import Node, api_node


async def write(node: Node, token: str, title: str = "Hello", body: str = "First!",
                **more: Any) -> Any:
    """The post the caller of ``token`` wrote."""
    answer = await node.request("POST", "/api/v1/posts", token=token,
                                json={"title": title, "body": body, **more})
    assert answer.status == 201, answer
    return answer.body


async def read(node: Node, post_id: int, token: str | None = None) -> Any:
    """The post as a caller (``token``, or a fresh reader's) reads it."""
    token = token or await node.token(f"reader{post_id}-{id(node)}@example.com")
    answer = await node.request("GET", f"/api/v1/posts/{post_id}", token=token)
    assert answer.status == 200, answer
    return answer.body


# -- reading ---------------------------------------------------------------------------------


async def test_a_caller_lists_published_posts_newest_first_with_their_authors(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        first = await write(node, alice, "One")
        second = await write(node, alice, "Two")
        await write(node, alice, "Draft", published=False)

        answer = await node.request("GET", "/api/v1/posts", token=alice)

        assert answer.status == 200
        assert answer.headers["Cache-Control"] == "private, no-cache"
        assert answer.body["data"] == [second, first]
        assert second["author"]["display_name"] == "alice"
        assert set(second) == {"id", "author", "title", "body", "published", "likes",
                               "created_at", "updated_at"}


async def test_reading_needs_a_caller(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"))

        listing = await node.request("GET", "/api/v1/posts")
        one = await node.request("GET", f"/api/v1/posts/{post['id']}")
        unknown_key = await node.request("GET", "/api/v1/posts", api_key="hk_nope")

        assert (listing.status, listing.code) == (401, "missing_token")
        assert (one.status, one.code) == (401, "missing_token")
        assert (unknown_key.status, unknown_key.code) == (401, "invalid_api_key")


async def test_a_caller_reads_a_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"))

        assert await read(node, post["id"]) == post
        assert post["published"] is True and post["likes"] == 0


async def test_a_draft_is_seen_by_its_author_and_moderators_only(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        draft = await write(node, alice, "Not yet", published=False)
        bob = await node.token("bob@example.com")
        moderator = await node.token("mod@example.com", "moderator")

        as_bob = await node.request("GET", f"/api/v1/posts/{draft['id']}", token=bob)
        like = await node.request("POST", f"/api/v1/posts/{draft['id']}/like", token=bob)

        assert (as_bob.status, as_bob.code) == (404, "not_found")
        assert like.status == 404
        assert await read(node, draft["id"], alice) == draft
        assert await read(node, draft["id"], moderator) == draft

        published = await node.request("PATCH", f"/api/v1/posts/{draft['id']}", token=alice,
                                       json={"published": True})

        assert published.body["published"] is True
        assert await read(node, draft["id"], bob) == published.body


@pytest.mark.parametrize("post_id", ["999999", "abc", "1.0", "-1", "%201", "9" * 19])
async def test_a_post_nobody_has_or_no_id_at_all_is_not_found(
    tmp_path: Path, post_id: str
) -> None:
    async with api_node(tmp_path) as node:
        moderator = await node.token("mod@example.com", "moderator")
        for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/like"),
                               ("DELETE", "/like")]:
            answer = await node.request(method, f"/api/v1/posts/{post_id}{suffix}",
                                        token=moderator, json={"title": "T"})

            assert answer.status == 404, (method, suffix, answer)
            assert answer.code == "not_found"


# -- writing ---------------------------------------------------------------------------------


async def test_a_caller_writes_a_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")

        answer = await node.request("POST", "/api/v1/posts", token=alice,
                                    json={"title": " Hello ", "body": "First!"})

        assert answer.status == 201
        data = answer.body
        assert (data["title"], data["body"]) == ("Hello", "First!")
        user = await node.accounts.get_user_by_email("alice@example.com")
        assert user is not None and data["author"]["id"] == user.id
        assert await read(node, data["id"]) == data
        assert answer.headers["Location"] == f"/api/v1/posts/{data['id']}"


async def test_blank_fields_answer_422_with_each_fields_errors(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")

        answer = await node.request("POST", "/api/v1/posts", token=alice,
                                    json={"title": "  "})

        assert answer.status == 422
        assert answer.code == "validation_failed"
        assert answer.body["errors"] == {
            "title": ["can't be blank"],
            "body": ["can't be blank"],
        }
        assert await posts.list_posts() == []
        assert answer.headers["Content-Type"] == "application/problem+json"


async def test_a_field_that_is_not_a_string_is_a_bad_request(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")

        answer = await node.request("POST", "/api/v1/posts", token=alice,
                                    json={"title": ["Hi"], "body": "There"})

        assert answer.status == 400
        assert answer.code == "invalid_request"
        assert "title" in answer.detail


# -- changing --------------------------------------------------------------------------------


async def test_the_author_changes_one_field_and_keeps_the_other(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        post = await write(node, alice, "Old", "Body stays")

        answer = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=alice,
                                    json={"title": "New"})

        assert answer.status == 200
        assert (answer.body["title"], answer.body["body"]) == ("New", "Body stays")
        assert await read(node, post["id"]) == answer.body


async def test_an_invalid_change_answers_422_and_changes_nothing(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        post = await write(node, alice)

        answer = await node.request("PATCH", f"/api/v1/posts/{post['id']}", token=alice,
                                    json={"body": ""})

        assert answer.status == 422
        assert answer.body["errors"] == {"body": ["can't be blank"]}
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
        assert patch.body["title"] == "Tidied"
        assert patch.body["author"] == post["author"]  # still alice's

        delete = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=staff)

        assert (delete.status, delete.body) == (204, None)
        gone = await node.request("GET", f"/api/v1/posts/{post['id']}", token=staff)
        assert gone.status == 404


async def test_the_author_deletes_their_post_once(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        alice = await node.token("alice@example.com")
        post = await write(node, alice)

        first = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=alice)
        again = await node.request("DELETE", f"/api/v1/posts/{post['id']}", token=alice)

        assert first.status == 204
        assert (again.status, again.code) == (404, "not_found")
        assert await posts.get_post(post["id"]) is None


# -- likes -----------------------------------------------------------------------------------


async def test_a_caller_likes_a_post_once_and_takes_it_back(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"))
        bob = await node.token("bob@example.com")
        carol = await node.token("carol@example.com")

        by_bob = await node.request("POST", f"/api/v1/posts/{post['id']}/like", token=bob)
        by_carol = await node.request("POST", f"/api/v1/posts/{post['id']}/like", token=carol)
        again = await node.request("POST", f"/api/v1/posts/{post['id']}/like", token=bob)

        assert (by_bob.status, by_bob.body["likes"]) == (200, 1)
        assert by_carol.body["likes"] == 2
        assert (again.status, again.code) == (409, "already_liked")
        assert (await read(node, post["id"]))["likes"] == 2

        unlike = await node.request("DELETE", f"/api/v1/posts/{post['id']}/like", token=bob)
        unlike_again = await node.request("DELETE", f"/api/v1/posts/{post['id']}/like",
                                          token=bob)

        assert (unlike.status, unlike.body["likes"]) == (200, 1)
        assert (unlike_again.status, unlike_again.code) == (409, "not_liked")


async def test_likes_sent_at_once_all_count(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        post = await write(node, await node.token("alice@example.com"))
        tokens = [await node.token(f"fan{n}@example.com") for n in range(20)]

        answers = await asyncio.gather(*(
            node.request("POST", f"/api/v1/posts/{post['id']}/like", token=token)
            for token in tokens
        ))

        assert [a.status for a in answers] == [200] * 20
        assert sorted(a.body["likes"] for a in answers) == list(range(1, 21))
        assert (await read(node, post["id"]))["likes"] == 20
