"""The application's socket (``/socket``): who connects, and which channel serves each topic.

A client connects with ``params.token`` (or phoenix.js's ``authToken``) holding either

- a *socket token*: :func:`socket_token` encrypts, with the node's secret and the salt
  ``"user socket"``, the user's id and role and the browser session the page was rendered
  for (``contexts.sessions.ref``), valid :data:`MAX_AGE` seconds at most; pages render one
  for the signed-in user in ``<meta name="socket-token">``. It works while that session
  lives and the user's role is the one it was made for: after a logout, a password reset
  (which ends every session) or a role change it is refused, and the page, loaded again,
  hands out a new one. Checking it is the one lookup ``connect`` made anyway (the session's
  row, joined to its user); or
- an API access token (a JWT from ``POST /api/v1/auth/token``), checked by
  ``contexts.tokens.Tokens.verify``, revocation included. Such a socket is also named
  ``token_family:<id>`` after its token's login: :func:`disconnect_token_family` closes it
  when that login is revoked (``DELETE /api/v1/auth/token``, a refresh token used twice).

No token is an anonymous socket: it may read public rooms and posts. A token that does not
verify (bad, expired, revoked, its session ended, or its account deleted since) is refused:
HTTP 403 before the upgrade, and phoenix.js retries on its back-off schedule.

The assigns are ``user_id``, ``role`` and ``display_name``, read from the database when the
socket connects (``None`` each, for an anonymous socket), and ``token_family`` for a socket
opened with an API token. A user's sockets are named ``users_socket:<id>``;
:func:`disconnect_user` closes every one of them (code 1001) and is called when the user
logs out or resets their password.
"""

from __future__ import annotations

import logging
from typing import Any

from channels import token
from channels.handler import ConnectInfo, SocketHandler, disconnect_socket
from contexts import sessions
from contexts.accounts import Accounts, User
from contexts.tokens import TokenError, Tokens
from hearth.names import PUBSUB

from .posts_channel import TOPIC as POSTS
from .posts_channel import PostsChannel
from .room_channel import PREFIX as ROOM
from .room_channel import RoomChannel
from .user_channel import PREFIX as USER
from .user_channel import UserChannel

__all__ = [
    "MAX_AGE",
    "SALT",
    "UserSocket",
    "disconnect_token_family",
    "disconnect_user",
    "family_socket_id",
    "socket_id",
    "socket_token",
]

SALT = "user socket"
MAX_AGE = 14 * 86400.0
"""Seconds a socket token stays valid: as long as a browser session (``auth.session_max_age``
by default)."""

ANONYMOUS: dict[str, Any] = {"user_id": None, "role": None, "display_name": None}

log = logging.getLogger(__name__)


def socket_token(secret: bytes, user: User, session: str) -> str:
    """A socket token for ``user``, signed in with the browser session whose token is
    ``session``, for a page to hand to its phoenix.js ``Socket``."""
    data = {"u": user.id, "r": user.role, "s": sessions.ref(session)}
    return token.encrypt(secret, SALT, data, max_age=MAX_AGE)


def socket_id(user_id: int) -> str:
    """The name of every socket of ``user_id``."""
    return f"users_socket:{user_id}"


def family_socket_id(family: str) -> str:
    """The name of every socket opened with an access token of the login ``family``."""
    return f"token_family:{family}"


def disconnect_user(user_id: int, pubsub: Any = PUBSUB) -> None:
    """Close every socket of ``user_id`` (1001: clients reconnect, and ``connect`` decides
    again)."""
    disconnect_socket(pubsub, socket_id(user_id))


def disconnect_token_family(family: str, pubsub: Any = PUBSUB) -> None:
    """Close every socket opened with an access token of the login ``family`` (call it once
    the family is revoked: their reconnects are refused)."""
    disconnect_socket(pubsub, family_socket_id(family))


class UserSocket(SocketHandler):
    """Made once by the endpoint with the node's secret, token verifier and accounts."""

    channels = [(f"{ROOM}*", RoomChannel), (f"{USER}*", UserChannel), (POSTS, PostsChannel)]

    def __init__(self, secret: bytes, tokens: Tokens, accounts: Accounts,
                 post_quota: tuple[int, float] | None = None) -> None:
        self.secret = secret
        self.tokens = tokens
        self.accounts = accounts
        # (limit, window) of the users' API quota, which posting from a socket spends too.
        self.post_quota = post_quota

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        raw = params.get("token") or info.auth_token
        if not raw:
            return dict(ANONYMOUS)
        try:
            data = token.decrypt(self.secret, SALT, raw, max_age=MAX_AGE)
        except token.TokenError as e:
            if e.reason != "invalid":  # expired: a socket token, too old
                log.info("socket refused: socket token %s", e.reason)
                return None
        else:
            user = await _page_user(data)
            if user is None:
                log.info("socket refused: socket token of an ended session or another role")
                return None
            return {**_assigns(user), "post_quota": self.post_quota}
        # Not a socket token: perhaps an API access token.
        try:
            access = await self.tokens.verify(raw)
        except TokenError as e:
            log.info("socket refused: %s", e.code)
            return None
        user = await self.accounts.get_user(access.user_id)
        if user is None:
            return None
        return {**_assigns(user), "post_quota": self.post_quota,
                "token_family": access.family_id}

    def id(self, assigns: dict[str, Any]) -> str | None:
        user_id = assigns.get("user_id")
        return socket_id(user_id) if user_id is not None else None

    def ids(self, assigns: dict[str, Any]) -> tuple[str, ...]:
        family = assigns.get("token_family")
        return (family_socket_id(family),) if family is not None else ()


async def _page_user(data: Any) -> User | None:
    """The user a socket token's data names, if its session lives and their role is the
    one it was made for."""
    if not isinstance(data, dict):
        return None
    user_id, role, session_ref = data.get("u"), data.get("r"), data.get("s")
    if type(user_id) is not int or not isinstance(role, str) or not isinstance(session_ref, str):
        return None
    user = await sessions.lookup_ref(session_ref)
    if user is None or user.id != user_id or user.role != role:
        return None
    return user


def _assigns(user: User) -> dict[str, Any]:
    return {"user_id": user.id, "role": user.role, "display_name": user.display_name}
