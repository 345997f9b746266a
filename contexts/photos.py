"""Profile photos: stored by ``hearth.storage``, listed here; the first one a user saved is
their avatar."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from store import NAME as REPO
from store import Connection, Repo

__all__ = ["Photo", "add_photos", "avatar_url", "list_photos"]


@dataclass(frozen=True)
class Photo:
    id: int
    user_id: int
    key: str
    url: str


async def add_photos(user_id: int, stored: list[tuple[str, str]], repo: Any = REPO
                     ) -> list[Photo]:
    """Record ``(key, url)`` of photos just stored for ``user_id``; the first photo the user
    ever saved becomes their avatar."""
    now = time.time()

    async def insert(conn: Connection) -> list[Photo]:
        photos = []
        for key, url in stored:
            row = await conn.fetch_one(
                "INSERT INTO photos (user_id, key, url, created_at) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (user_id, key, url, now),
            )
            assert row is not None
            photos.append(Photo(row["id"], user_id, key, url))
        if photos:
            await conn.execute(
                "UPDATE users SET avatar_url = ? WHERE id = ? AND avatar_url IS NULL",
                (photos[0].url, user_id))
        return photos

    result: list[Photo] = await Repo.transaction(insert, repo=repo)
    return result


async def list_photos(user_id: int, repo: Any = REPO) -> list[Photo]:
    rows = await Repo.fetch_all(
        "SELECT id, user_id, key, url FROM photos WHERE user_id = ? ORDER BY id", (user_id,),
        repo=repo)
    return [Photo(r["id"], r["user_id"], r["key"], r["url"]) for r in rows]


async def avatar_url(user_id: int, repo: Any = REPO) -> str | None:
    row = await Repo.fetch_one("SELECT avatar_url FROM users WHERE id = ?", (user_id,),
                               repo=repo)
    return None if row is None else row["avatar_url"]
