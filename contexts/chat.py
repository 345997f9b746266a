"""Chat: rooms, and the messages people post in them.

A room has a slug (its address: ``/rooms/<slug>``, topic ``room:<slug>``) of 1 to 40
lowercase letters, digits and dashes, and a name of 1 to 80 characters. The ``lobby``
(:data:`LOBBY`) always exists: migration 4 creates it. Moderators create the others; the
route table (``web.pages.ROUTES``) says so, not this module.

A message's body has 1 to 2000 characters once leading and trailing spaces are trimmed (the
trimmed body is what is stored), and no control characters but newlines and tabs.
:func:`post_message` returns only once the message is committed, with the id and the time
the database gave it: the room channel broadcasts and acknowledges nothing before that.

Bad input raises :class:`~contexts.validation.ValidationError` naming each bad field
(``slug``, ``name``, ``body``, ``room``, ``user``).
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from store import NAME as REPO
from store import Connection, IntegrityError, Repo, Row

from .validation import ValidationError

__all__ = [
    "HISTORY",
    "LOBBY",
    "MAX_BODY",
    "MAX_NAME",
    "MAX_SLUG",
    "ChatMessage",
    "Room",
    "count_messages",
    "count_rooms",
    "create_room",
    "get_room",
    "last_messages",
    "list_messages",
    "list_rooms",
    "page_rooms",
    "post_message",
]

LOBBY = "lobby"
MAX_SLUG = 40
MAX_NAME = 80
MAX_BODY = 2000
HISTORY = 50
"""Messages a room shows to someone who joins it."""

TAKEN = "has already been taken"
_SLUG = re.compile(r"[a-z0-9-]+")
_ALLOWED_CONTROLS = frozenset("\n\t")


@dataclass(frozen=True)
class Room:
    """A chat room."""

    id: int
    slug: str
    name: str
    created_at: float

    @property
    def topic(self) -> str:
        """The channel topic of the room."""
        return f"room:{self.slug}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "name": self.name,
                "created_at": self.created_at}


@dataclass(frozen=True)
class ChatMessage:
    """A stored message. ``user_id`` and ``author_name`` are ``None`` once its author's
    account is deleted."""

    id: int
    room_id: int
    user_id: int | None
    author_name: str | None
    body: str
    created_at: float
    client_id: str | None = None
    # Found stored already under its client_id, by a retry (see post_message).
    replay: bool = field(default=False, compare=False)
    author_avatar: str | None = None
    """The author's avatar (contexts.photos), if they have one."""

    @property
    def inserted_at(self) -> str:
        """``created_at`` as ISO 8601 in UTC, to the millisecond (``2024-05-01T12:00:00.000Z``),
        which ``new Date()`` reads in every browser."""
        moment = datetime.fromtimestamp(self.created_at, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_json(self) -> dict[str, Any]:
        """The message as channels send it: ``author`` is ``None`` for a deleted account."""
        author: dict[str, Any] | None = (
            None if self.user_id is None
            else {"id": self.user_id, "display_name": self.author_name}
        )
        if author is not None and self.author_avatar is not None:
            author["avatar_url"] = self.author_avatar
        shaped = {"id": self.id, "body": self.body, "author": author,
                  "inserted_at": self.inserted_at}
        if self.client_id is not None:
            shaped["client_id"] = self.client_id
        return shaped


# -- rooms -------------------------------------------------------------------------------------


def _room(row: Row) -> Room:
    return Room(row["id"], row["slug"], row["name"], row["created_at"])


async def get_room(slug: str, repo: Any = REPO) -> Room | None:
    """The room with this slug, or ``None``."""
    row = await Repo.fetch_one(
        "SELECT id, slug, name, created_at FROM rooms WHERE slug = ?", (slug,), repo=repo
    )
    return _room(row) if row is not None else None


async def list_rooms(repo: Any = REPO) -> list[Room]:
    """Every room: the lobby first, then by name."""
    rows = await Repo.fetch_all(
        "SELECT id, slug, name, created_at FROM rooms ORDER BY slug != ?, name, id",
        (LOBBY,), repo=repo,
    )
    return [_room(row) for row in rows]


async def page_rooms(
    limit: int, offset: int = 0, before: int | None = None, repo: Any = REPO
) -> list[Room]:
    """Rooms, newest first: ``limit`` from ``offset``, only ids below ``before`` if given."""
    where = "WHERE id < ?" if before is not None else ""
    params = (*(() if before is None else (before,)), limit, offset)
    rows = await Repo.fetch_all(
        f"SELECT id, slug, name, created_at FROM rooms {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        params, repo=repo,
    )
    return [_room(row) for row in rows]


async def count_rooms(repo: Any = REPO) -> int:
    """How many rooms there are."""
    row = await Repo.fetch_one("SELECT COUNT(*) FROM rooms", repo=repo)
    return int(row[0]) if row is not None else 0


async def create_room(slug: Any, name: Any, repo: Any = REPO) -> Room:
    """Store a new room (the caller checked the user is a moderator); raises
    :class:`ValidationError`, with ``slug: has already been taken`` for a slug in use."""
    errors: dict[str, list[str]] = {}
    slug = slug.strip() if isinstance(slug, str) else ""
    name = name.strip() if isinstance(name, str) else ""
    _add(errors, "slug", _slug_errors(slug))
    _add(errors, "name", _name_errors(name))
    if errors:
        raise ValidationError(errors)
    now = time.time()
    try:
        result = await Repo.execute(
            "INSERT INTO rooms (slug, name, created_at) VALUES (?, ?, ?) RETURNING id",
            (slug, name, now), repo=repo,
        )
    except IntegrityError:
        raise ValidationError({"slug": [TAKEN]}) from None
    return Room(result.rows[0]["id"], slug, name, now)


def _slug_errors(slug: str) -> list[str]:
    if not slug:
        return ["can't be blank"]
    if len(slug) > MAX_SLUG:
        return [f"should be at most {MAX_SLUG} characters"]
    if not _SLUG.fullmatch(slug):
        return ["should have only lowercase letters, digits and dashes"]
    return []


def _name_errors(name: str) -> list[str]:
    if not name:
        return ["can't be blank"]
    errors = []
    if len(name) > MAX_NAME:
        errors.append(f"should be at most {MAX_NAME} characters")
    if any(unicodedata.category(c) == "Cc" for c in name):
        errors.append("can't contain control characters")
    return errors


# -- messages ----------------------------------------------------------------------------------

_MESSAGE = (
    "SELECT m.id, m.room_id, m.user_id, u.display_name AS author_name, m.body, m.created_at,"
    " m.client_id, u.avatar_url AS author_avatar FROM messages m"
    " LEFT JOIN users u ON u.id = m.user_id"
)


def _message(row: Row) -> ChatMessage:
    return ChatMessage(row["id"], row["room_id"], row["user_id"], row["author_name"],
                       row["body"], row["created_at"], row["client_id"],
                       author_avatar=row["author_avatar"])


async def last_messages(room_id: int, limit: int = HISTORY, repo: Any = REPO) -> list[ChatMessage]:
    """The room's ``limit`` most recent messages, oldest first."""
    rows = await Repo.fetch_all(
        f"{_MESSAGE} WHERE m.room_id = ? ORDER BY m.id DESC LIMIT ?", (room_id, limit),
        repo=repo,
    )
    return [_message(row) for row in reversed(rows)]


async def list_messages(
    room_id: int, limit: int, offset: int = 0, before: int | None = None, repo: Any = REPO
) -> list[ChatMessage]:
    """The room's messages, newest first: ``limit`` from ``offset``, only ids below
    ``before`` if given."""
    where = "WHERE m.room_id = ?" + (" AND m.id < ?" if before is not None else "")
    params = (room_id, *(() if before is None else (before,)), limit, offset)
    rows = await Repo.fetch_all(
        f"{_MESSAGE} {where} ORDER BY m.id DESC LIMIT ? OFFSET ?", params, repo=repo
    )
    return [_message(row) for row in rows]


async def count_messages(room_id: int, repo: Any = REPO) -> int:
    """How many messages the room has."""
    row = await Repo.fetch_one("SELECT COUNT(*) FROM messages WHERE room_id = ?", (room_id,),
                               repo=repo)
    return int(row[0]) if row is not None else 0


async def post_message(
    room_id: int, user_id: int, body: Any, client_id: Any = None, repo: Any = REPO
) -> ChatMessage:
    """Store a message by ``user_id`` in the room; returns it once committed. Raises
    :class:`ValidationError` for a bad body or ``client_id``, a room or a user that does not
    exist.

    ``client_id`` (optional, 1 to 64 letters, digits, ``-`` or ``_``) is the sender's own
    name for the message: posting again with the same one, in the same room, stores nothing
    and returns the message stored the first time, with ``replay`` set (it was broadcast
    then), so a client whose reply was lost can retry without the message appearing twice."""
    text = body.strip() if isinstance(body, str) else ""
    errors = {}
    if body_errors := _body_errors(text):
        errors["body"] = body_errors
    if client_id is not None and not _valid_client_id(client_id):
        errors["client_id"] = ["must be 1 to 64 letters, digits, - or _"]
    if errors:
        raise ValidationError(errors)
    now = time.time()

    async def insert(conn: Connection) -> ChatMessage:
        # The author's name is read in the same transaction: one trip to the Repo. A retry
        # that comes while the first is still being stored (by another node of one
        # PostgreSQL database) waits on the unique index, then finds it and stores nothing.
        inserted = await conn.fetch_one(
            "INSERT INTO messages (room_id, user_id, body, created_at, client_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (room_id, user_id, text, now, client_id),
        )
        if inserted is None:  # only a client_id can conflict
            stored = await conn.fetch_one(
                f"{_MESSAGE} WHERE m.room_id = ? AND m.user_id = ? AND m.client_id = ?",
                (room_id, user_id, client_id),
            )
            assert stored is not None
            return replace(_message(stored), replay=True)
        row = await conn.fetch_one(f"{_MESSAGE} WHERE m.id = ?", (inserted["id"],))
        assert row is not None
        return _message(row)

    try:
        # An exception in insert rolls the transaction back and reaches us here.
        return await Repo.transaction(insert, repo=repo)
    except IntegrityError:
        # A room or user that does not exist: asked after the rollback (on PostgreSQL, a
        # failed statement ends its transaction).
        raise await _missing(room_id, user_id, repo) from None


def _valid_client_id(value: Any) -> bool:
    return (isinstance(value, str) and 1 <= len(value) <= 64
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in value))


async def _missing(room_id: int, user_id: int, repo: Any) -> ValidationError:
    errors: dict[str, list[str]] = {}
    if await Repo.fetch_one("SELECT 1 FROM rooms WHERE id = ?", (room_id,), repo=repo) is None:
        errors["room"] = ["does not exist"]
    if await Repo.fetch_one("SELECT 1 FROM users WHERE id = ?", (user_id,), repo=repo) is None:
        errors["user"] = ["does not exist"]
    return ValidationError(errors or {"room": ["does not exist"]})


def _body_errors(text: str) -> list[str]:
    if not text:
        return ["can't be blank"]
    errors = []
    if len(text) > MAX_BODY:
        errors.append(f"should be at most {MAX_BODY} characters")
    if any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in text):
        errors.append("can't contain control characters")
    return errors


def _add(errors: dict[str, list[str]], field: str, messages: list[str]) -> None:
    if messages:
        errors[field] = messages


async def presence_users(topic: str, presences: dict[str, Any]) -> dict[str, Any]:
    """The presence ``fetch`` hook: every key of a ``room:`` topic is a user id; add
    ``"user": {"id", "display_name"}`` to each, in one query for the whole state or diff."""
    if not topic.startswith("room:"):
        return presences
    ids = [int(key) for key in presences if key.isascii() and key.isdigit()]
    if not ids:
        return presences
    marks = ",".join("?" * len(ids))
    rows = await Repo.fetch_all(
        f"SELECT id, display_name FROM users WHERE id IN ({marks})", ids
    )
    names = {str(row["id"]): row["display_name"] for row in rows}
    return {
        key: {**presence, "user": {"id": int(key), "display_name": names[key]}}
        if key in names else presence
        for key, presence in presences.items()
    }
