"""Who is in a room (seed Example 34): ``presence_state`` after each join, diffs for the
others, status updates, leaves when a channel ends, and readers who are not listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from channels.presence import Presence
from channels.testing import ChannelCase
from hearth.names import PRESENCE

from ._chat import chat_store


def metas(presence: dict[str, Any]) -> list[dict[str, Any]]:
    return presence["metas"]  # type: ignore[no-any-return]


async def test_joining_users_are_listed_with_their_names_and_the_others_hear_of_it(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob = await store.user("Ann"), await store.user("Bob")
        ann_conn = await channel_case.connect(store.handler, store.token(ann))
        await channel_case.join(ann_conn, "room:lobby")
        state = await channel_case.assert_push("presence_state", to=ann_conn)
        assert list(state) == [str(ann.id)]
        assert state[str(ann.id)]["user"] == {"id": ann.id, "display_name": "Ann"}
        (meta,) = metas(state[str(ann.id)])
        assert meta["status"] == "online" and isinstance(meta["online_at"], int)
        assert meta["phx_ref"]

        bob_conn = await channel_case.connect(store.handler, store.token(bob))
        await channel_case.join(bob_conn, "room:lobby")

        bob_state = await channel_case.assert_push("presence_state", to=bob_conn)
        assert set(bob_state) == {str(ann.id), str(bob.id)}
        diff = await channel_case.assert_push(
            "presence_diff", {"joins": {str(bob.id): {}}}, to=ann_conn
        )
        assert diff["joins"][str(bob.id)]["user"]["display_name"] == "Bob"
        assert diff["leaves"] == {}


async def test_a_status_update_is_a_leave_and_a_join_naming_the_old_ref(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        conn = await channel_case.connect(store.handler, store.token(ann))
        _, room = await channel_case.join(conn, "room:lobby")
        state = await channel_case.assert_push("presence_state", to=conn)
        (old,) = metas(state[str(ann.id)])

        await channel_case.assert_reply(channel_case.push(room, "status", {"status": "away"}),
                                        "ok")

        diff = await channel_case.assert_push(
            "presence_diff", {"leaves": {str(ann.id): {}}}, to=conn
        )
        assert metas(diff["leaves"][str(ann.id)])[0]["phx_ref"] == old["phx_ref"]
        (new,) = metas(diff["joins"][str(ann.id)])
        assert new["status"] == "away" and new["phx_ref_prev"] == old["phx_ref"]
        assert new["online_at"] == old["online_at"]
        bad = channel_case.push(room, "status", {"status": "asleep"})
        await channel_case.assert_reply(bad, "error", {"reason": "invalid"})


async def test_leaving_and_closing_the_connection_both_publish_a_leave(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob, cat = await store.user("Ann"), await store.user("Bob"), await store.user("Cat")
        watcher = await channel_case.connect(store.handler, store.token(ann))
        await channel_case.join(watcher, "room:lobby")
        bob_conn = await channel_case.connect(store.handler, store.token(bob))
        _, bob_room = await channel_case.join(bob_conn, "room:lobby")
        cat_conn = await channel_case.connect(store.handler, store.token(cat))
        await channel_case.join(cat_conn, "room:lobby")
        await channel_case.assert_push("presence_diff", {"joins": {str(cat.id): {}}},
                                       to=watcher)

        await channel_case.assert_reply(channel_case.leave(bob_room), "ok")
        await channel_case.assert_push("presence_diff", {"leaves": {str(bob.id): {}}},
                                       to=watcher)
        await cat_conn.close()
        await channel_case.assert_push("presence_diff", {"leaves": {str(cat.id): {}}},
                                       to=watcher)

        assert list(await Presence.list(PRESENCE, "room:lobby")) == [str(ann.id)]


async def test_an_anonymous_reader_sees_who_is_here_and_is_not_listed(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        member = await channel_case.connect(store.handler, store.token(ann))
        await channel_case.join(member, "room:lobby")
        reader = await channel_case.connect(store.handler)

        await channel_case.join(reader, "room:lobby")

        state = await channel_case.assert_push("presence_state", to=reader)
        assert list(state) == [str(ann.id)]
        assert list(await Presence.list(PRESENCE, "room:lobby")) == [str(ann.id)]
