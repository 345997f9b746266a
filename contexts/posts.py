"""Posts: what a post is, who may change it, and the queries behind it.

Anyone signed in may write a post; only its author or a moderator (and so an admin) may edit
or delete it. The check is :func:`can_modify`, called by every route that changes a post.

Every change, once stored, is published on the node's PubSub as a :class:`PostEvent` on
:data:`TOPIC`, whoever made it (a page, the API): the ``posts`` channel
(``actors/posts_channel.py``) relays each to its sockets, and a live page may subscribe to
the same topic. :data:`TOPIC` is deliberately not a channel topic: sockets subscribed to a
channel topic expect channel broadcasts there, and a ``PostEvent`` is a Python message for
processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from actors.repo import NAME as REPO
from actors.repo import Repo, Row
from hearth.names import PUBSUB
from otp import PubSub

from .roles import at_least
from .validation import ValidationError

__all__ = [
    "MAX_BODY",
    "MAX_TITLE",
    "TOPIC",
    "Post",
    "PostEvent",
    "can_modify",
    "create_post",
    "delete_post",
    "get_post",
    "list_posts",
    "update_post",
]

MAX_TITLE = 200
MAX_BODY = 20_000

TOPIC = "contexts.posts"
"""The PubSub topic every :class:`PostEvent` is published on."""


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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": {"id": self.author_id, "display_name": self.author_name},
            "title": self.title,
            "body": self.body,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class PostEvent(NamedTuple):
    """A post was created, updated or deleted (``kind``); ``post`` is its JSON
    (:meth:`Post.to_json`), or ``{"id": id}`` for a deleted one."""

    kind: str
    post: dict[str, Any]

    @property
    def event(self) -> str:
        """The channel event name: ``post_created``, ``post_updated`` or ``post_deleted``."""
        return f"post_{self.kind}"


def _publish(kind: str, post: dict[str, Any], pubsub: Any) -> None:
    PubSub.broadcast(pubsub, TOPIC, PostEvent(kind, post))


def can_modify(user: Any, post: Post) -> bool:
    """Whether ``user`` (anything with ``id`` and ``role``, or ``None``) may edit or delete
    ``post``: its author, or a moderator or admin."""
    if user is None:
        return False
    return bool(user.id == post.author_id or at_least(user.role, "moderator"))


def _validate(title: Any, body: Any) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
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
    " p.created_at, p.updated_at FROM posts p JOIN users u ON u.id = p.author_id"
)


def _post(row: Row) -> Post:
    return Post(
        row["id"], row["author_id"], row["author_name"], row["title"], row["body"],
        row["created_at"], row["updated_at"],
    )


async def get_post(post_id: int, repo: Any = REPO) -> Post | None:
    """The post, or ``None``."""
    row = await Repo.fetch_one(f"{_SELECT} WHERE p.id = ?", (post_id,), repo=repo)
    return _post(row) if row is not None else None


async def list_posts(limit: int = 50, offset: int = 0, repo: Any = REPO) -> list[Post]:
    """Newest first."""
    rows = await Repo.fetch_all(
        f"{_SELECT} ORDER BY p.id DESC LIMIT ? OFFSET ?", (limit, offset), repo=repo
    )
    return [_post(r) for r in rows]


async def create_post(
    author_id: int, title: Any, body: Any, repo: Any = REPO, pubsub: Any = PUBSUB
) -> Post:
    """Store a new post and publish ``created``; raises :class:`ValidationError`."""
    title, body = _validate(title, body)
    now = time.time()
    result = await Repo.execute(
        "INSERT INTO posts (author_id, title, body, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (author_id, title, body, now, now),
        repo=repo,
    )
    post = await get_post(int(result.lastrowid or 0), repo=repo)
    assert post is not None
    _publish("created", post.to_json(), pubsub)
    return post


async def update_post(
    post_id: int, title: Any, body: Any, repo: Any = REPO, pubsub: Any = PUBSUB
) -> Post | None:
    """Change a post's title and body (the caller checked :func:`can_modify`) and publish
    ``updated``; ``None`` if there is no such post."""
    title, body = _validate(title, body)
    await Repo.execute(
        "UPDATE posts SET title = ?, body = ?, updated_at = ? WHERE id = ?",
        (title, body, time.time(), post_id),
        repo=repo,
    )
    post = await get_post(post_id, repo=repo)
    if post is not None:
        _publish("updated", post.to_json(), pubsub)
    return post


async def delete_post(post_id: int, repo: Any = REPO, pubsub: Any = PUBSUB) -> bool:
    """Delete a post (the caller checked :func:`can_modify`) and publish ``deleted``;
    whether it existed."""
    result = await Repo.execute("DELETE FROM posts WHERE id = ?", (post_id,), repo=repo)
    if result.rowcount > 0:
        _publish("deleted", {"id": post_id}, pubsub)
        return True
    return False
