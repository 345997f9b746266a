"""Figures about the site for the ``/stats`` page: how much there is, and where people talk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store import NAME as REPO
from store import Repo

__all__ = ["BusyRoom", "busiest_rooms", "site_counts"]


@dataclass(frozen=True)
class BusyRoom:
    slug: str
    name: str
    messages: int


async def site_counts(repo: Any = REPO) -> dict[str, int]:
    """Users, published posts, rooms and messages, counted in one read."""
    row = await Repo.fetch_one(
        "SELECT (SELECT COUNT(*) FROM users) AS users,"
        " (SELECT COUNT(*) FROM posts WHERE published = 1) AS posts,"
        " (SELECT COUNT(*) FROM rooms) AS rooms,"
        " (SELECT COUNT(*) FROM messages) AS messages",
        repo=repo,
    )
    assert row is not None
    return {key: int(row[key]) for key in ("users", "posts", "rooms", "messages")}


async def busiest_rooms(limit: int = 5, repo: Any = REPO) -> list[BusyRoom]:
    """The rooms with the most messages, most first (rooms without any last, by name)."""
    rows = await Repo.fetch_all(
        "SELECT r.slug, r.name, COUNT(m.id) AS n FROM rooms r"
        " LEFT JOIN messages m ON m.room_id = r.id"
        " GROUP BY r.id ORDER BY n DESC, r.name LIMIT ?",
        (limit,), repo=repo,
    )
    return [BusyRoom(r["slug"], r["name"], int(r["n"])) for r in rows]
