"""API authentication: who is calling, from a Bearer token or an ``X-API-Key``.

For ``/api/`` paths only, :func:`identify` (called by ``web.api.pipeline``) reads the
credentials and sets:

- ``request["user"]``: the ``contexts.accounts.User`` they belong to, or ``None``;
- ``request[API_AUTH]``: an :class:`ApiAuth` saying how (``"bearer"``, ``"api_key"`` or
  ``None``), the verified access token, and, when credentials were sent but refused, why.

It never answers by itself: a public route (the token endpoint) works even for a client still
sending an expired token. Routes that need a caller are guarded (``web.api.guards``), and the
guard answers 401 with the refusal's code: ``missing_token``, ``malformed_token``,
``expired_token``, ``revoked_token``, ``invalid_token`` or ``invalid_api_key``.

The account is read afresh on every request, so a role taken away, or an account deleted,
counts at once, whatever an access token's ``role`` claim still says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from contexts import api_keys
from contexts.tokens import AccessToken, TokenError

from ..keys import ACCOUNTS, TOKENS, USER

if TYPE_CHECKING:
    from contexts.accounts import User

__all__ = ["API_AUTH", "API_KEY_HEADER", "ApiAuth", "Refusal", "api_auth", "identify"]

API_KEY_HEADER = "X-API-Key"
MAX_CREDENTIAL = 4096
"""Characters a credential header may have; a real one has well under 1000."""

# RFC 6750's b64token.
_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    """Why the credentials sent were refused: ``code`` for programs, ``message`` for
    people."""

    code: str
    message: str


MISSING = Refusal("missing_token",
                  "send Authorization: Bearer <access token> or X-API-Key: <key>")


@dataclass(frozen=True)
class ApiAuth:
    """How an API request authenticated."""

    via: str | None = None
    """``"bearer"``, ``"api_key"``, or ``None`` for no (valid) credentials."""
    token: AccessToken | None = None
    """The verified access token, for ``via == "bearer"``."""
    key_id: int | None = None
    """The API key's id, for ``via == "api_key"``."""
    refusal: Refusal | None = None
    """Why the credentials were refused; ``MISSING`` if none were sent."""


API_AUTH = web.RequestKey("api_auth", ApiAuth)
"""Where :func:`identify` leaves what it found; read it with :func:`api_auth`."""


def api_auth(request: web.Request) -> ApiAuth:
    """What :func:`identify` found out about ``request``."""
    return request.get(API_AUTH) or ApiAuth(refusal=MISSING)


async def identify(request: web.Request) -> None:
    """Read the credentials of an ``/api/`` request into ``request[USER]`` and
    ``request[API_AUTH]``; never refuses by itself."""
    user, auth = await _authenticate(request)
    request[USER] = user
    request[API_AUTH] = auth


async def _authenticate(request: web.Request) -> tuple[User | None, ApiAuth]:
    authorization = request.headers.getall("Authorization", [])
    keys = request.headers.getall(API_KEY_HEADER, [])
    if not authorization and not keys:
        return None, ApiAuth(refusal=MISSING)
    if len(authorization) + len(keys) > 1:
        return None, _refused("malformed_token",
                              "send one credential: a Bearer token or an API key")
    if keys:
        return await _from_api_key(request, keys[0])
    return await _from_bearer(request, authorization[0])


async def _from_bearer(request: web.Request, header: str) -> tuple[User | None, ApiAuth]:
    match = _BEARER.fullmatch(header.strip()) if len(header) <= MAX_CREDENTIAL else None
    if match is None:
        return None, _refused("malformed_token",
                              "the Authorization header must read Bearer <access token>")
    try:
        token = await request.app[TOKENS].verify(match.group(1))
    except TokenError as e:
        return None, _refused(e.code, e.message)
    user = await request.app[ACCOUNTS].get_user(token.user_id)
    if user is None:
        return None, _refused("invalid_token", "the token's account no longer exists")
    return user, ApiAuth("bearer", token)


async def _from_api_key(request: web.Request, header: str) -> tuple[User | None, ApiAuth]:
    if len(header) > MAX_CREDENTIAL:
        return None, _refused("invalid_api_key", "the API key is malformed")
    try:
        key, user = await api_keys.authenticate(header.strip())
    except api_keys.ApiKeyError as e:
        return None, _refused(e.code, e.message)
    return user, ApiAuth("api_key", key_id=key.id)


def _refused(code: str, message: str) -> ApiAuth:
    return ApiAuth(refusal=Refusal(code, message))
