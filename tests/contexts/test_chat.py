"""The chat context: rooms (the lobby always there), and messages stored as they were sent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from actors.repo import Repo
from contexts import chat
from contexts.accounts import Accounts
from contexts.validation import ValidationError
from hearth.config import AuthConfig

from ..actors._tree import rows, store_tree


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.errors


async def a_user(name: str = "Ann") -> int:
    user = await Accounts(AuthConfig(bcrypt_cost=4)).register(
        f"{name.lower()}@example.com", "correct horse battery", name
    )
    return user.id


async def test_the_lobby_exists_in_a_fresh_database(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        lobby = await chat.get_room(chat.LOBBY)

        assert lobby is not None
        assert (lobby.slug, lobby.name, lobby.topic) == ("lobby", "Lobby", "room:lobby")
        assert [room.slug for room in await chat.list_rooms()] == ["lobby"]


async def test_the_lobby_survives_a_restart_once(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        pass
    async with store_tree(tmp_path / "hearth.db"):
        assert await rows("SELECT slug FROM rooms") == [{"slug": "lobby"}]


async def test_moderators_rooms_are_listed_after_the_lobby_by_name(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        zoo = await chat.create_room("zoo", "Zoo")
        await chat.create_room("  python-3  ", "  Another room ")

        assert [r.slug for r in await chat.list_rooms()] == ["lobby", "python-3", "zoo"]
        assert await chat.get_room("zoo") == zoo
        other = await chat.get_room("python-3")
        assert other is not None and other.name == "Another room"
        assert await chat.get_room("nope") is None


@pytest.mark.parametrize(
    ("slug", "name", "errors"),
    [
        ("", "A room", {"slug": ["can't be blank"]}),
        ("Upper", "A room", {"slug": ["should have only lowercase letters, digits and dashes"]}),
        ("with space", "A room",
         {"slug": ["should have only lowercase letters, digits and dashes"]}),
        ("x" * 41, "A room", {"slug": ["should be at most 40 characters"]}),
        ("ok", "", {"name": ["can't be blank"]}),
        ("ok", "n" * 81, {"name": ["should be at most 80 characters"]}),
        ("ok", "bell\x07", {"name": ["can't contain control characters"]}),
        (None, None, {"slug": ["can't be blank"], "name": ["can't be blank"]}),
        ("lobby", "Another lobby", {"slug": ["has already been taken"]}),
    ],
)
async def test_a_room_breaking_the_rules_is_refused(
    tmp_path: Path, slug: object, name: object, errors: dict[str, list[str]]
) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        with pytest.raises(ValidationError) as refused:
            await chat.create_room(slug, name)

        assert errors_of(refused) == errors
        assert len(await chat.list_rooms()) == 1


async def test_a_slug_of_forty_characters_is_fine(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        room = await chat.create_room("a-" * 19 + "z9", "Long")

        assert len(room.slug) == 40


async def test_a_message_is_stored_trimmed_with_its_author(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await a_user("Ann")
        lobby = await chat.get_room("lobby")
        assert lobby is not None

        message = await chat.post_message(lobby.id, ann, "  hello\nworld  ")

        assert await rows("SELECT id, room_id, user_id, body FROM messages") == [
            {"id": message.id, "room_id": lobby.id, "user_id": ann, "body": "hello\nworld"}
        ]
        assert message.to_json() == {
            "id": message.id,
            "body": "hello\nworld",
            "author": {"id": ann, "display_name": "Ann"},
            "inserted_at": message.inserted_at,
        }
        parsed = datetime.fromisoformat(message.inserted_at)
        assert parsed.timestamp() == pytest.approx(message.created_at, abs=0.001)
        assert message.inserted_at.endswith("Z")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ("", ["can't be blank"]),
        ("   \n\t ", ["can't be blank"]),
        (None, ["can't be blank"]),
        (42, ["can't be blank"]),
        ("x" * 2001, ["should be at most 2000 characters"]),
        ("nul\x00", ["can't contain control characters"]),
    ],
)
async def test_a_message_breaking_the_rules_is_not_stored(
    tmp_path: Path, body: object, errors: list[str]
) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await a_user()
        lobby = await chat.get_room("lobby")
        assert lobby is not None

        with pytest.raises(ValidationError) as refused:
            await chat.post_message(lobby.id, ann, body)

        assert errors_of(refused) == {"body": errors}
        assert await rows("SELECT id FROM messages") == []


async def test_two_thousand_characters_after_trimming_are_fine(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await a_user()
        lobby = await chat.get_room("lobby")
        assert lobby is not None

        message = await chat.post_message(lobby.id, ann, "  " + "x" * 2000 + "  ")

        assert len(message.body) == 2000


async def test_a_message_to_a_room_or_from_a_user_that_does_not_exist(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await a_user()
        lobby = await chat.get_room("lobby")
        assert lobby is not None

        with pytest.raises(ValidationError) as no_room:
            await chat.post_message(999, ann, "hi")
        with pytest.raises(ValidationError) as no_user:
            await chat.post_message(lobby.id, 999, "hi")

        assert errors_of(no_room) == {"room": ["does not exist"]}
        assert errors_of(no_user) == {"user": ["does not exist"]}
        assert await rows("SELECT id FROM messages") == []


async def test_the_last_messages_of_a_room_oldest_first(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await a_user()
        lobby = await chat.get_room("lobby")
        other = await chat.create_room("other", "Other")
        assert lobby is not None
        sent = [await chat.post_message(lobby.id, ann, f"m{i}") for i in range(55)]
        await chat.post_message(other.id, ann, "elsewhere")

        last = await chat.last_messages(lobby.id, 50)

        assert [m.body for m in last] == [f"m{i}" for i in range(5, 55)]
        assert [m.id for m in last] == [m.id for m in sent[5:]]
        assert [m.body for m in await chat.last_messages(other.id)] == ["elsewhere"]


async def test_a_deleted_authors_messages_stay_without_an_author(tmp_path: Path) -> None:
    async with store_tree(tmp_path / "hearth.db"):
        ann = await a_user()
        lobby = await chat.get_room("lobby")
        assert lobby is not None
        await chat.post_message(lobby.id, ann, "still here")

        await Repo.execute("DELETE FROM users WHERE id = ?", (ann,))

        [message] = await chat.last_messages(lobby.id)
        assert message.to_json()["author"] is None
        assert message.body == "still here"
