"""Pagination: ``page``/``page_size`` with metadata and ``Link`` headers, and ``cursor``/
``limit`` pages that stay put while new posts arrive."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from contexts import chat
from contexts.accounts import User
from hearth.testing import Conn, TestNode, api_conn, insert, json_response, problem_response


@pytest_asyncio.fixture
async def reader(hearth_node: TestNode) -> AsyncIterator[Conn]:
    """An API client logged in as a user who only reads."""
    async with await api_conn(await insert("user")) as client:
        yield client


async def seed_posts(count: int) -> User:
    """``count`` published posts (``Post 0`` first); their author."""
    author: User = await insert("user")
    for n in range(count):
        await insert("post", author=author, title=f"Post {n}", body="Body")
    return author


def link_rels(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


async def test_pages_of_the_default_size_with_metadata_and_links(reader: Conn) -> None:
    await seed_posts(45)

    first = await reader.get("/api/v1/posts")
    second = await reader.get("/api/v1/posts?page=2")
    last = await reader.get("/api/v1/posts?page=3")
    past = await reader.get("/api/v1/posts?page=9")

    assert [p["title"] for p in first.body["data"]] == [f"Post {n}"
                                                       for n in range(44, 24, -1)]
    assert first.body["metadata"] == {"page_number": 1, "page_size": 20,
                                      "total_entries": 45, "total_pages": 3}
    assert link_rels(first.headers["Link"]) == {
        "first": "/api/v1/posts?page=1&page_size=20",
        "next": "/api/v1/posts?page=2&page_size=20",
        "last": "/api/v1/posts?page=3&page_size=20",
    }
    assert second.body["data"][0]["title"] == "Post 24"
    assert set(link_rels(second.headers["Link"])) == {"first", "prev", "next", "last"}
    assert [p["title"] for p in last.body["data"]] == [f"Post {n}" for n in range(4, -1, -1)]
    assert "next" not in link_rels(last.headers["Link"])
    assert json_response(past, 200)["data"] == []
    assert past.body["metadata"]["page_number"] == 9


async def test_page_size_is_chosen_and_bounded(reader: Conn) -> None:
    await seed_posts(5)

    small = json_response(await reader.get("/api/v1/posts?page_size=2&page=2"), 200)

    assert [p["title"] for p in small["data"]] == ["Post 2", "Post 1"]
    assert small["metadata"] == {"page_number": 2, "page_size": 2,
                                 "total_entries": 5, "total_pages": 3}


@pytest.mark.parametrize(
    "query", ["page_size=0", "page_size=101", "page_size=abc", "page=0", "page=-1",
              "page=+5", "page=1e3", "limit=0", "limit=101", "page=" + "9" * 30,
              "page=1&cursor=abc", "page_size=5&limit=5", "cursor=not-a-cursor",
              "cursor=eyJhZnRlciI6LTF9", "cursor=" + "A" * 300],
)
async def test_bad_paging_parameters_are_refused(reader: Conn, query: str) -> None:
    answer = await reader.get(f"/api/v1/posts?{query}")

    problem_response(answer, 400, "invalid_request")


async def test_cursor_pages_stay_put_while_new_posts_arrive(reader: Conn) -> None:
    author = await seed_posts(7)

    first = await reader.get("/api/v1/posts?limit=3")
    for n in range(5):  # newer posts, in front of everything
        await insert("post", author=author, title=f"New {n}")
    cursor = first.body["metadata"]["next_cursor"]
    second = await reader.get(f"/api/v1/posts?limit=3&cursor={cursor}")
    cursor = second.body["metadata"]["next_cursor"]
    third = await reader.get(f"/api/v1/posts?limit=3&cursor={cursor}")

    titles = [[p["title"] for p in page.body["data"]] for page in (first, second, third)]
    assert titles == [["Post 6", "Post 5", "Post 4"], ["Post 3", "Post 2", "Post 1"],
                      ["Post 0"]]
    assert third.body["metadata"] == {"limit": 3, "next_cursor": None}
    assert link_rels(second.headers["Link"])["next"] == (
        f"/api/v1/posts?limit=3&cursor={cursor}")
    assert "next" not in link_rels(third.headers["Link"])


async def test_room_messages_come_newest_first_a_page_at_a_time(reader: Conn) -> None:
    talker = await insert("user")
    lobby = await chat.get_room(chat.LOBBY)
    assert lobby is not None
    for n in range(5):
        await insert("message", room=lobby, author=talker, body=f"Message {n}")

    page = await reader.get("/api/v1/rooms/lobby/messages?page_size=2")
    first = await reader.get("/api/v1/rooms/lobby/messages?limit=2")
    cursor = first.body["metadata"]["next_cursor"]
    second = await reader.get(f"/api/v1/rooms/lobby/messages?limit=2&cursor={cursor}")

    assert [m["body"] for m in page.body["data"]] == ["Message 4", "Message 3"]
    assert page.body["metadata"]["total_entries"] == 5
    assert [m["body"] for m in first.body["data"]] == ["Message 4", "Message 3"]
    assert [m["body"] for m in second.body["data"]] == ["Message 2", "Message 1"]
