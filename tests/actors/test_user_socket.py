"""Who a socket is: a page's socket token, an API access token, or nobody; anything that
does not verify is refused (seed Example 35)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actors.repo import Repo
from actors.user_socket import MAX_AGE, SALT, socket_id
from channels import token
from channels.client import ConnectError
from channels.handler import ConnectInfo
from channels.testing import ChannelCase

from ._chat import SECRET, chat_store


async def test_a_socket_token_signs_the_socket_in_as_its_user(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann", role="moderator")

        assigns = await store.handler.connect(store.token(ann), _info())

        assert assigns == {"user_id": ann.id, "role": "moderator", "display_name": "Ann"}
        assert store.handler.id(assigns) == socket_id(ann.id) == f"users_socket:{ann.id}"


async def test_an_api_access_token_signs_the_socket_in_too(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        pair = await store.tokens.issue(ann)

        by_param = await store.handler.connect({"token": pair.access_token}, _info())
        # phoenix.js >= 1.8 may send it as authToken, in the WebSocket subprotocol header.
        by_header = await store.handler.connect({}, _info(auth_token=pair.access_token))

        assert by_param == by_header == {"user_id": ann.id, "role": "user",
                                         "display_name": "Ann"}


async def test_no_token_is_an_anonymous_socket(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        assigns = await store.handler.connect({}, _info())
        empty = await store.handler.connect({"token": ""}, _info())

        assert assigns == empty == {"user_id": None, "role": None, "display_name": None}
        assert store.handler.id(assigns) is None


async def test_a_token_that_does_not_verify_is_refused(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        pair = await store.tokens.issue(ann)
        family = store.tokens.decode(pair.access_token).family_id
        long_ago = time.time() - MAX_AGE - 60
        refused = {
            "garbage": "not a token",
            "expired socket token": token.sign(SECRET, SALT, ann.id, signed_at=long_ago,
                                               max_age=MAX_AGE),
            "another salt": token.sign(SECRET, "something else", ann.id),
            "another secret": token.sign(b"another secret of twenty bytes+", SALT, ann.id),
            "not a user id": token.sign(SECRET, SALT, "ann"),
            "expired access token": store.tokens.sign_access(ann, family, now=long_ago),
            "tampered access token": pair.access_token[:-2] + "xx",
        }

        for what, raw in refused.items():
            assert await store.handler.connect({"token": raw}, _info()) is None, what
            with pytest.raises(ConnectError) as e:
                await channel_case.connect(store.handler, {"token": raw})
            assert e.value.status == 403, what


async def test_a_revoked_access_token_or_a_deleted_account_is_refused(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob = await store.user("Ann"), await store.user("Bob")
        pair = await store.tokens.issue(ann)
        await store.tokens.revoke_family(store.tokens.decode(pair.access_token).family_id)
        bobs = store.token(bob)
        await Repo.execute("DELETE FROM users WHERE id = ?", (bob.id,))

        assert await store.handler.connect({"token": pair.access_token}, _info()) is None
        assert await store.handler.connect(bobs, _info()) is None


async def test_the_role_and_name_are_read_when_the_socket_connects(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        params = store.token(ann)
        await store.accounts.set_role("ann@example.com", "admin")

        assigns = await store.handler.connect(params, _info())

        assert assigns is not None and assigns["role"] == "admin"


def _info(auth_token: str | None = None) -> ConnectInfo:
    return ConnectInfo(peer=None, origin=None, user_agent=None, auth_token=auth_token)
