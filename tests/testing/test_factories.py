"""Factories (Example 44): sequences, associations, overrides, traits, build and insert."""

from __future__ import annotations

from typing import Any

import pytest

import otp
from actors.repo import Repo
from channels.serializer import Broadcast
from contexts import posts as posts_context
from contexts.posts import Post
from contexts.validation import ValidationError
from hearth import names
from hearth.testing import (
    PASSWORD,
    Built,
    Conn,
    Factory,
    FactoryError,
    TestNode,
    association,
    build,
    build_list,
    html_response,
    insert,
    insert_list,
    lazy,
    params_for,
    sequence,
)
from otp import PubSub


async def test_shows_post(conn: Conn) -> None:
    user = await insert("user")
    post = await insert("post", author=user)

    response = html_response(await conn.get(f"/posts/{post.id}"), 200)

    assert post.title in response and user.display_name in response


async def test_creates_multiple_posts(hearth_node: TestNode) -> None:
    await insert_list(5, "post")

    posts = await posts_context.list_posts(limit=100)

    assert len(posts) == 5
    assert len({p.author_id for p in posts}) == 5  # each built its own author


async def test_sequences_number_each_record() -> None:
    first, second = build("user"), build("user")

    n = int(first.email.removeprefix("user").removesuffix("@example.com"))
    assert second.email == f"user{n + 1}@example.com"
    assert second.display_name != first.display_name


def test_build_makes_an_unsaved_record_with_its_associations_built() -> None:
    post = build("post", title="Hello")

    assert isinstance(post, Built) and post.factory == "post"
    assert post.title == "Hello" and post.body == "Test body" and post.published is True
    assert isinstance(post.author, Built) and post.author.factory == "user"
    with pytest.raises(AttributeError, match="a built post has no field 'id'"):
        _ = post.id


async def test_insert_goes_through_the_context_so_validation_is_real(
    hearth_node: TestNode,
) -> None:
    with pytest.raises(ValidationError) as invalid:
        await insert("post", title="")

    assert invalid.value.errors == {"title": ["can't be blank"]}


async def test_insert_publishes_as_a_real_save_does(hearth_node: TestNode) -> None:
    PubSub.subscribe(names.PUBSUB, posts_context.TOPIC)

    post = await insert("post")

    message = await otp.receive(timeout=5, match=lambda m: isinstance(m, Broadcast))
    assert message.event == "post_created" and message.payload["id"] == post.id


async def test_users_share_one_bcrypt_hash_and_log_in_with_it(
    hearth_node: TestNode, conn: Conn
) -> None:
    users = await insert_list(3, "user")

    hashes = {row["password_hash"] for row in await Repo.fetch_all(
        "SELECT password_hash FROM users")}
    resp = await conn.post("/login", {"email": users[2].email, "password": PASSWORD})

    assert len(hashes) == 1 and next(iter(hashes)).startswith("$2b$04$")
    assert resp.status == 303 and (await conn.get("/")).user == users[2].display_name


async def test_traits_and_overrides(hearth_node: TestNode) -> None:
    moderator = await insert("user", "moderator")
    admin = await insert("user", "admin", display_name="Root")
    draft = await insert("post", "draft", author=moderator)
    published = await insert("post", "draft", "published")  # the later trait wins

    assert (moderator.role, admin.role, admin.display_name) == ("moderator", "admin", "Root")
    assert isinstance(draft, Post) and draft.published is False
    assert draft.author_id == moderator.id
    assert published.published is True


async def test_an_association_given_built_is_inserted_first(hearth_node: TestNode) -> None:
    author = build("user", display_name="Built Author")

    post = await insert("post", author=author)

    assert post.author_name == "Built Author"


async def test_rooms_messages_keys_and_likes(hearth_node: TestNode) -> None:
    room = await insert("room", name="Lobby")
    message = await insert("message", room=room, body="Hello room")
    key = await insert("api_key")
    post = await insert("post")
    liked = await insert("like", post=post)

    assert room.name == "Lobby" and room.slug.startswith("room-")
    assert message.room_id == room.id and message.body == "Hello room"
    assert key.secret.startswith("hk_") and key.key.name.startswith("key ")
    assert liked is not None and liked.likes == 1


def test_params_for_gives_what_a_form_sends() -> None:
    params = params_for("post", title="Hello")

    assert params["title"] == "Hello" and params["body"] == "Test body"
    assert "author" not in params


# -- bad input -----------------------------------------------------------------------------------


def test_an_unknown_field_fails_naming_it() -> None:
    with pytest.raises(FactoryError) as failed:
        build("post", titel="Hello")

    assert str(failed.value) == (
        "the post factory has no field 'titel'; its fields: author, body, published, title"
    )


def test_an_unknown_trait_or_factory_fails_naming_it() -> None:
    with pytest.raises(FactoryError, match="the user factory has no trait 'owner'; its "
                                           "traits: admin, moderator, user"):
        build("user", "owner")
    with pytest.raises(FactoryError, match="no factory 'comment'; there are: "):
        build("comment")


# -- a factory of one's own ---------------------------------------------------------------------


class AnnouncementFactory(Factory, model="announcement"):
    """What an application adds for its own model: here a post with a fixed shape."""

    headline = sequence(lambda n: f"Announcement {n}")
    body = lazy(lambda fields: f"Read all about {fields['headline']}.")
    author = association("user", "moderator")

    @classmethod
    async def create(cls, fields: dict[str, Any]) -> Post:
        return await posts_context.create_post(fields["author"].id, fields["headline"],
                                               fields["body"])


async def test_an_application_factory_is_found_by_name(hearth_node: TestNode) -> None:
    built = build_list(2, "announcement")
    post = await insert("announcement")

    assert built[0].body == f"Read all about {built[0].headline}."
    assert built[0].author.role == "moderator"
    assert post.title.startswith("Announcement ") and post.body.endswith(".")
