"""``user:<id>``: a user's own channel, for nobody else (seed Example 35)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.user_channel import notify
from channels.client import JoinError
from channels.testing import ChannelCase

from ._chat import chat_store


async def test_a_user_joins_their_own_channel_and_hears_what_is_sent_to_them(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        phone = await channel_case.connect(store.handler, store.token(ann))
        laptop = await channel_case.connect(store.handler, store.token(ann))
        reply, _ = await channel_case.join(phone, f"user:{ann.id}")
        await channel_case.join(laptop, f"user:{ann.id}")

        notify(ann.id, "mentioned", {"room": "lobby"})

        assert reply == {}
        await channel_case.assert_push("mentioned", {"room": "lobby"}, to=phone)
        await channel_case.assert_push("mentioned", {"room": "lobby"}, to=laptop)


async def test_nobody_else_may_join_it(tmp_path: Path, channel_case: ChannelCase) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob = await store.user("Ann"), await store.user("Bob")
        admin = await store.user("Ada", role="admin")
        bobs = await channel_case.connect(store.handler, store.token(bob))
        admins = await channel_case.connect(store.handler, store.token(admin))
        anonymous = await channel_case.connect(store.handler)

        for socket in (bobs, admins, anonymous):
            with pytest.raises(JoinError) as refused:
                await channel_case.join(socket, f"user:{ann.id}")
            assert refused.value.response == {"reason": "unauthorized"}
        with pytest.raises(JoinError):
            await channel_case.join(anonymous, "user:None")
