"""Posts: what a post is, who may change it, and the queries behind it.

Anyone signed in may write a post; only its author or a moderator (and so an admin) may edit
or delete it. The check is :func:`can_modify`, called by every route that changes a post.
A post is ``published`` (the default) or a draft: drafts are left out of lists, and only
those who may modify a draft may see it (:func:`can_see`). Signed-in users like a post
once each (:func:`like_post`; again is a :class:`~contexts.validation.Conflict`) and may
take the like back; ``likes`` counts them.

Every change to what the public sees, once stored, is broadcast on the node's PubSub topic
:data:`TOPIC` (``posts``), whoever made it (a page, the API), as Phoenix's
``Endpoint.broadcast`` would: a ``channels.serializer.Broadcast`` with the event
``post_created`` (written published, or a draft published), ``post_updated`` (a published
post changed or liked) or ``post_deleted`` (deleted, or taken back to draft), and the post's
JSON (``{"id": id}`` for ``post_deleted``) as its payload. Drafts make no events. Sockets
joined to the ``posts`` channel (``actors/posts_channel.py``) get each one on the fast lane,
encoded once for all of them; a process (a live page) subscribes to the same topic and gets
the ``Broadcast``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from channels.serializer import Broadcast
from hearth.names import PUBSUB
from otp import PubSub
from store import NAME as REPO
from store import Connection, Repo, Row

from .roles import at_least
from .validation import Conflict, ValidationError

__all__ = [
    "MAX_BODY",
    "MAX_QUERY",
    "MAX_TITLE",
    "TOPIC",
    "Post",
    "can_modify",
    "can_see",
    "changed_elsewhere",
    "count_posts",
    "create_post",
    "delete_post",
    "generation",
    "get_post",
    "like_post",
    "list_posts",
    "search_posts",
    "unlike_post",
    "update_post",
    "validate_post",
]

MAX_TITLE = 200
MAX_BODY = 20_000

TOPIC = "posts"
"""The PubSub topic post events are broadcast on; also the channel topic clients join."""


@dataclass(frozen=True)
class Post:
    """A post as callers see it."""

    id: int
    author_id: int
    author_name: str
    title: str
    body: str
    created_at: float
    updated_at: float
    published: bool = True
    likes: int = 0
    author_avatar: str | None = None
    """The author's avatar (contexts.photos), if they have one."""

    def to_json(self) -> dict[str, Any]:
        author: dict[str, Any] = {"id": self.author_id, "display_name": self.author_name}
        if self.author_avatar is not None:
            author["avatar_url"] = self.author_avatar
        return {
            "id": self.id,
            "author": author,
            "title": self.title,
            "body": self.body,
            "published": self.published,
            "likes": self.likes,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


MAX_QUERY = 100
"""The longest search query, in characters."""

_generation = 0


def generation() -> int:
    """A number that changes, before the change is broadcast, whenever what anyone may see
    of the published posts changes: a cache of public lists keyed by it is never stale.
    Every such change goes through this module, in this node; in a cluster, another node's
    changes move it on when their events arrive (:func:`changed_elsewhere`)."""
    return _generation


def changed_elsewhere() -> None:
    """Another node stored a change to the published posts (its event came through the
    cluster's PubSub): lists kept here are no longer fresh (``actors.posts_freshness``)."""
    global _generation
    _generation += 1


def _publish(kind: str, post: dict[str, Any], pubsub: Any) -> None:
    global _generation
    _generation += 1
    PubSub.broadcast(pubsub, TOPIC, Broadcast(TOPIC, f"post_{kind}", post))


def can_modify(user: Any, post: Post) -> bool:
    """Whether ``user`` (anything with ``id`` and ``role``, or ``None``) may edit or delete
    ``post``: its author, or a moderator or admin."""
    if user is None:
        return False
    return bool(user.id == post.author_id or at_least(user.role, "moderator"))


def can_see(user: Any, post: Post) -> bool:
    """Whether ``user`` (or ``None``) may see ``post``: anyone a published one, a draft only
    those who may modify it."""
    return post.published or can_modify(user, post)


def validate_post(title: Any, body: Any) -> dict[str, list[str]]:
    """What is wrong with a post of ``title`` and ``body``, by field (empty: nothing); what
    a form shows while it is being filled in."""
    try:
        _validate(title, body)
    except ValidationError as e:
        return e.errors
    return {}


def _validate(title: Any, body: Any, published: Any = True) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    if not isinstance(published, bool):
        errors.setdefault("published", []).append("must be true or false")
    if not isinstance(title, str) or not title.strip():
        errors.setdefault("title", []).append("can't be blank")
    elif len(title) > MAX_TITLE:
        errors.setdefault("title", []).append(f"must be at most {MAX_TITLE} characters")
    if not isinstance(body, str) or not body.strip():
        errors.setdefault("body", []).append("can't be blank")
    elif len(body) > MAX_BODY:
        errors.setdefault("body", []).append(f"must be at most {MAX_BODY} characters")
    if errors:
        raise ValidationError(errors)
    assert isinstance(title, str) and isinstance(body, str)
    return title.strip(), body


_SELECT = (
    "SELECT p.id, p.author_id, u.display_name AS author_name, p.title, p.body,"
    " p.created_at, p.updated_at, p.published, p.likes, u.avatar_url AS author_avatar"
    " FROM posts p JOIN users u ON u.id = p.author_id"
)


def _post(row: Row) -> Post:
    return Post(
        row["id"], row["author_id"], row["author_name"], row["title"], row["body"],
        row["created_at"], row["updated_at"], bool(row["published"]), row["likes"],
        row["author_avatar"],
    )


async def get_post(post_id: int, repo: Any = REPO) -> Post | None:
    """The post, or ``None``."""
    row = await Repo.fetch_one(f"{_SELECT} WHERE p.id = ?", (post_id,), repo=repo)
    return _post(row) if row is not None else None


async def list_posts(
    limit: int = 50, offset: int = 0, before: int | None = None, repo: Any = REPO
) -> list[Post]:
    """Published posts, newest first: ``limit`` of them from ``offset``, and only those
    with an id below ``before`` if given (a cursor)."""
    where = "WHERE p.published = 1" + (" AND p.id < ?" if before is not None else "")
    params = (*(() if before is None else (before,)), limit, offset)
    rows = await Repo.fetch_all(
        f"{_SELECT} {where} ORDER BY p.id DESC LIMIT ? OFFSET ?", params, repo=repo
    )
    return [_post(r) for r in rows]


async def search_posts(query: str, limit: int = 20, repo: Any = REPO) -> list[Post]:
    """Published posts whose title or body holds ``query`` (case-insensitive), newest
    first; raises ``ValueError`` for an empty or overlong query."""
    text = query.strip()
    if not text:
        raise ValueError("type something to search for")
    if len(text) > MAX_QUERY:
        raise ValueError(f"a search is at most {MAX_QUERY} characters")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    # LIKE ignores case on SQLite, not on PostgreSQL: both sides lowered, it does on both.
    rows = await Repo.fetch_all(
        f"{_SELECT} WHERE p.published = 1 AND (LOWER(p.title) LIKE LOWER(?) ESCAPE '\\'"
        " OR LOWER(p.body) LIKE LOWER(?) ESCAPE '\\') ORDER BY p.id DESC LIMIT ?",
        (pattern, pattern, limit), repo=repo,
    )
    return [_post(r) for r in rows]


async def count_posts(repo: Any = REPO) -> int:
    """How many posts are published."""
    row = await Repo.fetch_one("SELECT COUNT(*) FROM posts WHERE published = 1", repo=repo)
    return int(row[0]) if row is not None else 0


async def create_post(
    author_id: int,
    title: Any,
    body: Any,
    published: Any = True,
    repo: Any = REPO,
    pubsub: Any = PUBSUB,
) -> Post:
    """Store a new post and publish ``created`` (unless it is a draft); raises
    :class:`ValidationError`."""
    title, body = _validate(title, body, published)
    now = time.time()
    result = await Repo.execute(
        "INSERT INTO posts (author_id, title, body, created_at, updated_at, published)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (author_id, title, body, now, now, published),
        repo=repo,
    )
    post = await get_post(result.rows[0]["id"], repo=repo)
    assert post is not None
    if post.published:
        _publish("created", post.to_json(), pubsub)
    return post


async def update_post(
    post_id: int,
    title: Any,
    body: Any,
    published: Any = None,
    repo: Any = REPO,
    pubsub: Any = PUBSUB,
) -> Post | None:
    """Change a post's title, body and (unless ``None``) ``published`` (the caller checked
    :func:`can_modify`) and publish what the public sees change; ``None`` if there is no
    such post."""
    before = await get_post(post_id, repo=repo)
    if before is None:
        return None
    if published is None:
        published = before.published
    title, body = _validate(title, body, published)
    await Repo.execute(
        "UPDATE posts SET title = ?, body = ?, published = ?, updated_at = ? WHERE id = ?",
        (title, body, published, time.time(), post_id),
        repo=repo,
    )
    post = await get_post(post_id, repo=repo)
    if post is not None:
        if post.published:
            _publish("updated" if before.published else "created", post.to_json(), pubsub)
        elif before.published:
            _publish("deleted", {"id": post_id}, pubsub)
    return post


async def delete_post(post_id: int, repo: Any = REPO, pubsub: Any = PUBSUB) -> bool:
    """Delete a post (the caller checked :func:`can_modify`) and publish ``deleted``;
    whether it existed."""
    post = await get_post(post_id, repo=repo)
    result = await Repo.execute("DELETE FROM posts WHERE id = ?", (post_id,), repo=repo)
    if result.rowcount > 0:
        if post is None or post.published:
            _publish("deleted", {"id": post_id}, pubsub)
        return True
    return False


async def like_post(post_id: int, user_id: int, repo: Any = REPO, pubsub: Any = PUBSUB
                    ) -> Post | None:
    """``user_id`` likes the post (the caller checked :func:`can_see`): ``likes`` goes up
    by one and ``updated`` is published. ``None`` if there is no such post; raises
    :class:`Conflict` ``already_liked`` the second time."""
    return await _change_like(post_id, user_id, +1, repo, pubsub)


async def unlike_post(post_id: int, user_id: int, repo: Any = REPO, pubsub: Any = PUBSUB
                      ) -> Post | None:
    """Take back ``user_id``'s like; raises :class:`Conflict` ``not_liked`` if there was
    none."""
    return await _change_like(post_id, user_id, -1, repo, pubsub)


async def _change_like(post_id: int, user_id: int, step: int, repo: Any, pubsub: Any
                       ) -> Post | None:
    async def change(conn: Connection) -> int | bool | None:
        # Checked, changed and counted in one transaction, the post's row locked from the
        # first read (nodes sharing a PostgreSQL database like at once too), so likes sent
        # at once add up exactly and each caller learns the count its own like made.
        if await conn.fetch_one("SELECT 1 FROM posts WHERE id = ? FOR UPDATE",
                                (post_id,)) is None:
            return None
        if step > 0:
            changed = await conn.execute(
                "INSERT INTO post_likes (post_id, user_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (post_id, user_id, time.time()),
            )
        else:
            changed = await conn.execute(
                "DELETE FROM post_likes WHERE post_id = ? AND user_id = ?", (post_id, user_id)
            )
        if changed.rowcount == 0:
            return False
        row = await conn.fetch_one(
            "UPDATE posts SET likes = likes + ? WHERE id = ? RETURNING likes", (step, post_id)
        )
        assert row is not None  # locked above: it cannot have gone
        return int(row[0])

    likes = await Repo.transaction(change, repo=repo)
    if likes is None:
        return None
    if likes is False:
        if step > 0:
            raise Conflict("already_liked", "you already like this post")
        raise Conflict("not_liked", "you do not like this post")
    post = await get_post(post_id, repo=repo)
    if post is None:  # deleted since
        return None
    post = dataclasses.replace(post, likes=likes)
    if post.published:
        _publish("updated", post.to_json(), pubsub)
    return post
