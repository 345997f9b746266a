"""``posts``: every post created, updated or deleted, wherever it was, reaches the sockets
on the channel (seed Example 33)."""

from __future__ import annotations

from pathlib import Path

import otp
from channels.serializer import Broadcast
from channels.testing import ChannelCase
from contexts import posts
from hearth import names
from otp import PubSub

from ._chat import chat_store


async def test_the_channel_relays_each_post_event(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        reader = await channel_case.connect(store.handler)
        reply, _ = await channel_case.join(reader, "posts")

        post = await posts.create_post(ann.id, "Hello", "First post.")
        created = await channel_case.assert_push("post_created", to=reader)
        updated_post = await posts.update_post(post.id, "Hello again", "Edited.")
        updated = await channel_case.assert_push("post_updated", to=reader)
        assert await posts.delete_post(post.id)
        deleted = await channel_case.assert_push("post_deleted", to=reader)

        assert reply == {}
        assert created == post.to_json()
        assert created["author"] == {"id": ann.id, "display_name": "Ann"}
        assert updated_post is not None and updated == updated_post.to_json()
        assert updated["title"] == "Hello again"
        assert deleted == {"id": post.id}


async def test_what_the_context_publishes_is_a_broadcast_on_the_posts_topic(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        PubSub.subscribe(names.PUBSUB, "posts")

        post = await posts.create_post(ann.id, "Hello", "Body.")
        assert not await posts.delete_post(post.id + 1)  # nothing deleted, nothing published
        await posts.delete_post(post.id)

        first = await otp.receive(timeout=5)
        second = await otp.receive(timeout=5)
        assert type(first) is type(second) is Broadcast
        assert (first.topic, first.event, first.payload) == ("posts", "post_created",
                                                             post.to_json())
        assert (second.event, second.payload) == ("post_deleted", {"id": post.id})


async def test_a_failed_change_publishes_nothing(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        reader = await channel_case.connect(store.handler)
        await channel_case.join(reader, "posts")
        ann = await store.user("Ann")

        assert await posts.update_post(12345, "No", "Such post.") is None
        post = await posts.create_post(ann.id, "Real", "One.")

        assert await channel_case.assert_push("post_created", to=reader) == post.to_json()
        channel_case.refute_push("post_updated")
