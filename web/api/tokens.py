"""``/api/v1/auth/token`` and ``/api/v1/auth/refresh``: logging in and staying logged in.

A login is throttled as a browser login is (``auth.login_limit_*``), in the same RateLimiter
buckets (``web.pages.login``), so a guesser gets one allowance across both doors: attempts
count per account and per client address, each before its password is checked (so requests
arriving together cannot all be checked), and once either is full the endpoint answers 429
with ``Retry-After`` until the window ends, without checking the password. A success clears
the account's count, not the address's failures: a client that owns one account must not be
able to wipe its record of guesses at others.
"""

from __future__ import annotations

import math

from aiohttp import web

from actors.user_socket import disconnect_token_family
from contexts.accounts import MAX_EMAIL, TooManyAttempts
from contexts.tokens import TokenError

from ..keys import ACCOUNTS, TOKENS
from .auth import Refusal, api_auth
from .errors import ApiError, json_response
from .guards import unauthorized
from .params import read_json, string

__all__ = ["issue", "refresh", "revoke"]

MAX_PASSWORD = 1024
"""Longer is not a password anyone has; refused before any hashing."""
MAX_REFRESH_TOKEN = 200


async def issue(request: web.Request) -> web.Response:
    """``{email, password}`` → ``{access_token, token_type, expires_in, refresh_token}``."""
    body = await read_json(request)
    email = string(body, "email", max_length=MAX_EMAIL)
    password = string(body, "password", max_length=MAX_PASSWORD)
    try:
        user = await request.app[ACCOUNTS].login(email, password, request.remote or "")
    except TooManyAttempts as e:
        wait = max(1, math.ceil(e.retry_after))
        raise ApiError(429, "rate_limited", f"too many failed logins; try again in {wait} seconds",
                       {"Retry-After": str(wait)}) from None
    if user is None:
        raise ApiError(401, "invalid_credentials", "the email or the password is wrong")
    pair = await request.app[TOKENS].issue(user)
    return json_response(pair.to_json())


async def refresh(request: web.Request) -> web.Response:
    """``{refresh_token}`` → a new pair; the token sent is spent. Sending a spent one
    again revokes its whole login (401 ``revoked_token``)."""
    body = await read_json(request)
    token = string(body, "refresh_token", max_length=MAX_REFRESH_TOKEN)
    try:
        pair = await request.app[TOKENS].refresh(token, request.app[ACCOUNTS].get_user)
    except TokenError as e:
        if e.revoked_family is not None:
            disconnect_token_family(e.revoked_family)
        raise unauthorized(Refusal(e.code, e.message)) from None
    return json_response(pair.to_json())


async def revoke(request: web.Request) -> web.Response:
    """Log out: the caller's access token, and the refresh token of the same login, stop
    working, and the sockets opened with that login's access tokens close. 204."""
    token = api_auth(request).token
    if token is None:
        raise ApiError(403, "forbidden",
                       "only a Bearer token's login can end; revoke an API key instead")
    await request.app[TOKENS].revoke_family(token.family_id)
    disconnect_token_family(token.family_id)
    return web.Response(status=204, headers={"Cache-Control": "no-store"})
