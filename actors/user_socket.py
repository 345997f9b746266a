"""The application's socket (``/socket``): who connects, and which channel serves each topic.

A client connects with ``params.token`` (or phoenix.js's ``authToken``) holding either

- a *socket token*: :func:`socket_token` signs the user's id with the node's secret and the
  salt ``"user socket"``, valid :data:`MAX_AGE` seconds; pages render one for the signed-in
  user in ``<meta name="socket-token">``; or
- an API access token (a JWT from ``POST /api/v1/tokens``), checked by
  ``contexts.tokens.Tokens.verify``, revocation included.

No token is an anonymous socket: it may read public rooms and posts. A token that does not
verify (bad, expired, revoked, or its account deleted since) is refused: HTTP 403 before the
upgrade, and phoenix.js retries on its back-off schedule.

The assigns are ``user_id``, ``role`` and ``display_name``, read from the database when the
socket connects (``None`` each, for an anonymous socket). A user's sockets are named
``users_socket:<id>``; :func:`disconnect_user` closes every one of them (code 1001) and is
called when the user logs out or resets their password.
"""

from __future__ import annotations

import logging
from typing import Any

from channels import token
from channels.handler import ConnectInfo, SocketHandler, disconnect_socket
from contexts.accounts import Accounts, User
from contexts.tokens import TokenError, Tokens
from hearth.names import PUBSUB

from .posts_channel import TOPIC as POSTS
from .posts_channel import PostsChannel
from .room_channel import PREFIX as ROOM
from .room_channel import RoomChannel
from .user_channel import PREFIX as USER
from .user_channel import UserChannel

__all__ = ["MAX_AGE", "SALT", "UserSocket", "disconnect_user", "socket_id", "socket_token"]

SALT = "user socket"
MAX_AGE = 14 * 86400.0
"""Seconds a socket token stays valid: as long as a browser session (``auth.session_max_age``
by default)."""

ANONYMOUS: dict[str, Any] = {"user_id": None, "role": None, "display_name": None}

log = logging.getLogger(__name__)


def socket_token(secret: bytes, user_id: int) -> str:
    """A socket token for ``user_id``, for a page to hand to its phoenix.js ``Socket``."""
    return token.sign(secret, SALT, user_id, max_age=MAX_AGE)


def socket_id(user_id: int) -> str:
    """The name of every socket of ``user_id``."""
    return f"users_socket:{user_id}"


def disconnect_user(user_id: int, pubsub: Any = PUBSUB) -> None:
    """Close every socket of ``user_id`` (1001: clients reconnect, and ``connect`` decides
    again)."""
    disconnect_socket(pubsub, socket_id(user_id))


class UserSocket(SocketHandler):
    """Made once by the endpoint with the node's secret, token verifier and accounts."""

    channels = [(f"{ROOM}*", RoomChannel), (f"{USER}*", UserChannel), (POSTS, PostsChannel)]

    def __init__(self, secret: bytes, tokens: Tokens, accounts: Accounts) -> None:
        self.secret = secret
        self.tokens = tokens
        self.accounts = accounts

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        raw = params.get("token") or info.auth_token
        if not raw:
            return dict(ANONYMOUS)
        user_id = await self._user_id(raw)
        user = await self.accounts.get_user(user_id) if user_id is not None else None
        if user is None:
            return None
        return _assigns(user)

    def id(self, assigns: dict[str, Any]) -> str | None:
        user_id = assigns.get("user_id")
        return socket_id(user_id) if user_id is not None else None

    async def _user_id(self, raw: str) -> int | None:
        """The user a token names, or ``None`` if it names nobody."""
        try:
            data = token.verify(self.secret, SALT, raw, max_age=MAX_AGE)
        except token.TokenError as e:
            if e.reason != "invalid":  # expired: a socket token, too old
                log.info("socket refused: socket token %s", e.reason)
                return None
        else:
            return data if type(data) is int else None
        # Not a socket token: perhaps an API access token.
        try:
            return (await self.tokens.verify(raw)).user_id
        except TokenError as e:
            log.info("socket refused: %s", e.code)
            return None


def _assigns(user: User) -> dict[str, Any]:
    return {"user_id": user.id, "role": user.role, "display_name": user.display_name}
