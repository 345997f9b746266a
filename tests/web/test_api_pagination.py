"""Pagination: ``page``/``page_size`` with metadata and ``Link`` headers, and ``cursor``/
``limit`` pages that stay put while new posts arrive."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contexts import chat, posts

from ._api import Node, api_node


async def seed_posts(node: Node, count: int) -> tuple[str, int]:
    """``count`` published posts (``Post 0`` first) and a reader's token."""
    author = await node.user("author@example.com")
    for n in range(count):
        await posts.create_post(author.id, f"Post {n}", "Body")
    return await node.token("reader@example.com"), author.id


def link_rels(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


async def test_pages_of_the_default_size_with_metadata_and_links(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token, _ = await seed_posts(node, 45)

        first = await node.request("GET", "/api/v1/posts", token=token)
        second = await node.request("GET", "/api/v1/posts?page=2", token=token)
        last = await node.request("GET", "/api/v1/posts?page=3", token=token)
        past = await node.request("GET", "/api/v1/posts?page=9", token=token)

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
        assert past.status == 200 and past.body["data"] == []
        assert past.body["metadata"]["page_number"] == 9


async def test_page_size_is_chosen_and_bounded(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token, _ = await seed_posts(node, 5)

        small = await node.request("GET", "/api/v1/posts?page_size=2&page=2", token=token)

        assert [p["title"] for p in small.body["data"]] == ["Post 2", "Post 1"]
        assert small.body["metadata"] == {"page_number": 2, "page_size": 2,
                                          "total_entries": 5, "total_pages": 3}


@pytest.mark.parametrize(
    "query", ["page_size=0", "page_size=101", "page_size=abc", "page=0", "page=-1",
              "page=+5", "page=1e3", "limit=0", "limit=101", "page=" + "9" * 30,
              "page=1&cursor=abc", "page_size=5&limit=5", "cursor=not-a-cursor",
              "cursor=eyJhZnRlciI6LTF9", "cursor=" + "A" * 300],
)
async def test_bad_paging_parameters_are_refused(tmp_path: Path, query: str) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("reader@example.com")

        answer = await node.request("GET", f"/api/v1/posts?{query}", token=token)

        assert answer.status == 400, answer
        assert answer.code == "invalid_request"


async def test_cursor_pages_stay_put_while_new_posts_arrive(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token, author = await seed_posts(node, 7)

        first = await node.request("GET", "/api/v1/posts?limit=3", token=token)
        for n in range(5):  # newer posts, in front of everything
            await posts.create_post(author, f"New {n}", "Body")
        cursor = first.body["metadata"]["next_cursor"]
        second = await node.request("GET", f"/api/v1/posts?limit=3&cursor={cursor}",
                                    token=token)
        cursor = second.body["metadata"]["next_cursor"]
        third = await node.request("GET", f"/api/v1/posts?limit=3&cursor={cursor}",
                                   token=token)

        titles = [[p["title"] for p in page.body["data"]] for page in (first, second, third)]
        assert titles == [["Post 6", "Post 5", "Post 4"], ["Post 3", "Post 2", "Post 1"],
                          ["Post 0"]]
        assert third.body["metadata"] == {"limit": 3, "next_cursor": None}
        assert link_rels(second.headers["Link"])["next"] == (
            f"/api/v1/posts?limit=3&cursor={cursor}")
        assert "next" not in link_rels(third.headers["Link"])


async def test_room_messages_come_newest_first_a_page_at_a_time(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("reader@example.com")
        user = await node.user("talker@example.com")
        lobby = await chat.get_room(chat.LOBBY)
        assert lobby is not None
        for n in range(5):
            await chat.post_message(lobby.id, user.id, f"Message {n}")

        page = await node.request("GET", "/api/v1/rooms/lobby/messages?page_size=2",
                                  token=token)
        first = await node.request("GET", "/api/v1/rooms/lobby/messages?limit=2", token=token)
        cursor = first.body["metadata"]["next_cursor"]
        second = await node.request("GET", f"/api/v1/rooms/lobby/messages?limit=2&cursor={cursor}",
                                    token=token)

        assert [m["body"] for m in page.body["data"]] == ["Message 4", "Message 3"]
        assert page.body["metadata"]["total_entries"] == 5
        assert [m["body"] for m in first.body["data"]] == ["Message 4", "Message 3"]
        assert [m["body"] for m in second.body["data"]] == ["Message 2", "Message 1"]
