"""``/api/v1/posts``: callers read, write and like; only the author, a moderator or an
admin changes or deletes, and anyone else gets 403 and the post stays as it was. Drafts are
seen only by those who may change them. (Pagination, versions, ETags and quotas have their
own test modules.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from contexts import posts
from hearth.testing import Conn, TestNode, api_conn, insert, json_response, problem_response


@pytest_asyncio.fixture
async def alice(hearth_node: TestNode) -> AsyncIterator[Conn]:
    """An API client logged in as alice@example.com (shown as "alice")."""
    user = await insert("user", email="alice@example.com", display_name="alice")
    async with await api_conn(user) as client:
        yield client


@pytest_asyncio.fixture
async def bob(hearth_node: TestNode) -> AsyncIterator[Conn]:
    """An API client logged in as another user."""
    async with await api_conn(await insert("user")) as client:
        yield client


async def write(author: Conn, title: str = "Hello", body: str = "First!", **more: Any) -> Any:
    """The post ``author`` wrote."""
    answer = await author.post("/api/v1/posts", json={"title": title, "body": body, **more})
    return json_response(answer, 201)


async def read(post_id: int, caller: Conn | None = None) -> Any:
    """The post as ``caller`` (or a fresh reader) reads it."""
    if caller is None:
        async with await api_conn(await insert("user")) as reader:
            return await read(post_id, reader)
    return json_response(await caller.get(f"/api/v1/posts/{post_id}"), 200)


# -- reading ---------------------------------------------------------------------------------


async def test_a_caller_lists_published_posts_newest_first_with_their_authors(
    alice: Conn,
) -> None:
    first = await write(alice, "One")
    second = await write(alice, "Two")
    await write(alice, "Draft", published=False)

    answer = await alice.get("/api/v1/posts")

    assert json_response(answer, 200)["data"] == [second, first]
    assert answer.headers["Cache-Control"] == "private, no-cache"
    assert second["author"]["display_name"] == "alice"
    assert set(second) == {"id", "author", "title", "body", "published", "likes",
                           "created_at", "updated_at"}


async def test_reading_needs_a_caller(alice: Conn, conn: Conn) -> None:
    post = await write(alice)

    listing = await conn.get("/api/v1/posts")
    one = await conn.get(f"/api/v1/posts/{post['id']}")
    unknown_key = await conn.request("GET", "/api/v1/posts", api_key="hk_nope")

    problem_response(listing, 401, "missing_token")
    problem_response(one, 401, "missing_token")
    problem_response(unknown_key, 401, "invalid_api_key")


async def test_a_caller_reads_a_post(alice: Conn) -> None:
    post = await write(alice)

    assert await read(post["id"]) == post
    assert post["published"] is True and post["likes"] == 0


async def test_a_draft_is_seen_by_its_author_and_moderators_only(
    alice: Conn, bob: Conn
) -> None:
    draft = await write(alice, "Not yet", published=False)

    as_bob = await bob.get(f"/api/v1/posts/{draft['id']}")
    like = await bob.post(f"/api/v1/posts/{draft['id']}/like")

    problem_response(as_bob, 404, "not_found")
    assert like.status == 404
    assert await read(draft["id"], alice) == draft
    async with await api_conn(await insert("user", "moderator")) as moderator:
        assert await read(draft["id"], moderator) == draft

    published = await alice.patch(f"/api/v1/posts/{draft['id']}", json={"published": True})

    assert published.body["published"] is True
    assert await read(draft["id"], bob) == published.body


@pytest.mark.parametrize("post_id", ["999999", "abc", "1.0", "-1", "%201", "9" * 19])
async def test_a_post_nobody_has_or_no_id_at_all_is_not_found(
    hearth_node: TestNode, post_id: str
) -> None:
    async with await api_conn(await insert("user", "moderator")) as moderator:
        for method, suffix in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/like"),
                               ("DELETE", "/like")]:
            answer = await moderator.request(method, f"/api/v1/posts/{post_id}{suffix}",
                                             json={"title": "T"})

            assert answer.status == 404, (method, suffix, answer)
            assert answer.code == "not_found"


# -- writing ---------------------------------------------------------------------------------


async def test_a_caller_writes_a_post(hearth_node: TestNode, alice: Conn) -> None:
    answer = await alice.post("/api/v1/posts", json={"title": " Hello ", "body": "First!"})

    data = json_response(answer, 201)
    assert (data["title"], data["body"]) == ("Hello", "First!")
    user = await hearth_node.accounts.get_user_by_email("alice@example.com")
    assert user is not None and data["author"]["id"] == user.id
    assert await read(data["id"]) == data
    assert answer.headers["Location"] == f"/api/v1/posts/{data['id']}"


async def test_blank_fields_answer_422_with_each_fields_errors(alice: Conn) -> None:
    answer = await alice.post("/api/v1/posts", json={"title": "  "})

    assert problem_response(answer, 422, "validation_failed")["errors"] == {
        "title": ["can't be blank"],
        "body": ["can't be blank"],
    }
    assert await posts.list_posts() == []
    assert answer.headers["Content-Type"] == "application/problem+json"


async def test_a_field_that_is_not_a_string_is_a_bad_request(alice: Conn) -> None:
    answer = await alice.post("/api/v1/posts", json={"title": ["Hi"], "body": "There"})

    problem_response(answer, 400, "invalid_request")
    assert "title" in answer.detail


# -- changing --------------------------------------------------------------------------------


async def test_the_author_changes_one_field_and_keeps_the_other(alice: Conn) -> None:
    post = await write(alice, "Old", "Body stays")

    answer = await alice.patch(f"/api/v1/posts/{post['id']}", json={"title": "New"})

    changed = json_response(answer, 200)
    assert (changed["title"], changed["body"]) == ("New", "Body stays")
    assert await read(post["id"]) == changed


async def test_an_invalid_change_answers_422_and_changes_nothing(alice: Conn) -> None:
    post = await write(alice)

    answer = await alice.patch(f"/api/v1/posts/{post['id']}", json={"body": ""})

    assert answer.status == 422
    assert answer.body["errors"] == {"body": ["can't be blank"]}
    assert await read(post["id"]) == post


async def test_another_user_is_forbidden_and_the_post_is_unchanged(
    alice: Conn, bob: Conn
) -> None:
    post = await write(alice, "Hers", "Hers.")

    patch = await bob.patch(f"/api/v1/posts/{post['id']}", json={"title": "Bob's now"})
    # Refused before the body is judged: a bad body tells bob nothing either.
    bad_patch = await bob.patch(f"/api/v1/posts/{post['id']}", json={"title": ""})
    delete = await bob.delete(f"/api/v1/posts/{post['id']}")

    for answer in (patch, bad_patch, delete):
        problem_response(answer, 403, "forbidden")
    assert await read(post["id"]) == post


@pytest.mark.parametrize("role", ["moderator", "admin"])
async def test_a_moderator_or_admin_changes_and_deletes_someone_elses_post(
    alice: Conn, role: str
) -> None:
    post = await write(alice)
    async with await api_conn(await insert("user", role)) as staff:
        patch = await staff.patch(f"/api/v1/posts/{post['id']}", json={"title": "Tidied"})
        assert json_response(patch, 200)["title"] == "Tidied"
        assert patch.body["author"] == post["author"]  # still alice's

        delete = await staff.delete(f"/api/v1/posts/{post['id']}")

        assert (delete.status, delete.raw) == (204, b"")
        gone = await staff.get(f"/api/v1/posts/{post['id']}")
        assert gone.status == 404


async def test_the_author_deletes_their_post_once(alice: Conn) -> None:
    post = await write(alice)

    first = await alice.delete(f"/api/v1/posts/{post['id']}")
    again = await alice.delete(f"/api/v1/posts/{post['id']}")

    assert first.status == 204
    problem_response(again, 404, "not_found")
    assert await posts.get_post(post["id"]) is None


# -- likes -----------------------------------------------------------------------------------


async def test_a_caller_likes_a_post_once_and_takes_it_back(alice: Conn, bob: Conn) -> None:
    post = await write(alice)
    like = f"/api/v1/posts/{post['id']}/like"
    async with await api_conn(await insert("user")) as carol:
        by_bob = await bob.post(like)
        by_carol = await carol.post(like)
    again = await bob.post(like)

    assert json_response(by_bob, 200)["likes"] == 1
    assert by_carol.body["likes"] == 2
    problem_response(again, 409, "already_liked")
    assert (await read(post["id"]))["likes"] == 2

    unlike = await bob.delete(like)
    unlike_again = await bob.delete(like)

    assert json_response(unlike, 200)["likes"] == 1
    problem_response(unlike_again, 409, "not_liked")


async def test_likes_sent_at_once_all_count(hearth_node: TestNode, alice: Conn,
                                            conn: Conn) -> None:
    post = await write(alice)
    fans = [await hearth_node.tokens.issue(await insert("user")) for _ in range(20)]

    answers = await asyncio.gather(*(
        conn.request("POST", f"/api/v1/posts/{post['id']}/like", token=fan.access_token)
        for fan in fans
    ))

    assert [a.status for a in answers] == [200] * 20
    assert sorted(a.body["likes"] for a in answers) == list(range(1, 21))
    assert (await read(post["id"]))["likes"] == 20
