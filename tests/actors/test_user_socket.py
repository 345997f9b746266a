"""Who a socket is: a page's socket token (while its session lives), an API access token, or
nobody; anything that does not verify is refused (seed Example 35)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from actors.repo import Repo
from actors.user_socket import MAX_AGE, SALT, family_socket_id, socket_id, socket_token
from channels import token
from channels.client import ConnectError
from channels.handler import ConnectInfo
from channels.testing import ChannelCase
from contexts import sessions

from ._chat import SECRET, chat_store


async def test_a_socket_token_signs_the_socket_in_as_its_user(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann", role="moderator")

        assigns = await store.handler.connect(store.token(ann), _info())

        assert assigns is not None
        assert _who(assigns) == {"user_id": ann.id, "role": "moderator", "display_name": "Ann"}
        assert store.handler.id(assigns) == socket_id(ann.id) == f"users_socket:{ann.id}"
        assert store.handler.ids(assigns) == ()


async def test_an_api_access_token_signs_the_socket_in_too(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        pair = await store.tokens.issue(ann)

        by_param = await store.handler.connect({"token": pair.access_token}, _info())
        # phoenix.js >= 1.8 may send it as authToken, in the WebSocket subprotocol header.
        by_header = await store.handler.connect({}, _info(auth_token=pair.access_token))

        assert by_param is not None and by_param == by_header
        assert _who(by_param) == {"user_id": ann.id, "role": "user", "display_name": "Ann"}
        # Named after its login too, so revoking that login can close it.
        family = store.tokens.decode(pair.access_token).family_id
        assert store.handler.ids(by_param) == (family_socket_id(family),)


async def test_no_token_is_an_anonymous_socket(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        assigns = await store.handler.connect({}, _info())
        empty = await store.handler.connect({"token": ""}, _info())

        assert assigns == empty == {"user_id": None, "role": None, "display_name": None}
        assert store.handler.ids(assigns) == ()
        assert store.handler.id(assigns) is None


async def test_a_token_that_does_not_verify_is_refused(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        pair = await store.tokens.issue(ann)
        family = store.tokens.decode(pair.access_token).family_id
        long_ago = time.time() - MAX_AGE - 60
        data = token.decrypt(SECRET, SALT, store.token(ann)["token"])
        refused = {
            "garbage": "not a token",
            "expired socket token": token.encrypt(SECRET, SALT, data, signed_at=long_ago,
                                                  max_age=MAX_AGE),
            "another salt": token.encrypt(SECRET, "something else", data),
            "another secret": token.encrypt(b"another secret of twenty bytes+", SALT, data),
            "signed, not encrypted": token.sign(SECRET, SALT, data),
            "the user id alone": token.encrypt(SECRET, SALT, ann.id),
            "another user's": token.encrypt(SECRET, SALT, {**data, "u": ann.id + 1}),
            "not a user id": token.encrypt(SECRET, SALT, {**data, "u": "ann"}),
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


async def test_a_socket_token_works_while_its_session_lives_and_its_role_holds(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann, bob = await store.user("Ann"), await store.user("Bob")
        anns, bobs = store.token(ann), store.token(bob)
        laptop = await sessions.create(ann.id, 3600.0)
        laptops = {"token": socket_token(SECRET, ann, laptop)}
        await sessions.delete(store.sessions[ann.id])  # Ann logs out in one browser
        await store.accounts.set_role("bob@example.com", "moderator")

        assert await store.handler.connect(anns, _info()) is None
        assert await store.handler.connect(laptops, _info()) is not None
        assert await store.handler.connect(bobs, _info()) is None


async def test_the_role_and_name_are_read_when_the_socket_connects(
    tmp_path: Path, channel_case: ChannelCase
) -> None:
    async with chat_store(tmp_path) as store:
        ann = await store.user("Ann")
        pair = await store.tokens.issue(ann)  # its role claim says "user"
        await store.accounts.set_role("ann@example.com", "admin")

        assigns = await store.handler.connect({"token": pair.access_token}, _info())

        assert assigns is not None and assigns["role"] == "admin"


def _who(assigns: dict[str, Any]) -> dict[str, Any]:
    return {k: assigns[k] for k in ("user_id", "role", "display_name")}


def _info(auth_token: str | None = None) -> ConnectInfo:
    return ConnectInfo(peer=None, origin=None, user_agent=None, auth_token=auth_token)
