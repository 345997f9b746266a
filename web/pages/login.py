"""Logging in and out, with failed logins limited per account and per address.

The limits (``auth.login_limit_*``) count failures in the RateLimiter: a login over either
limit is refused before the password is looked at, so a guesser spends no bcrypt time; a
success clears the account's count (not the address's: one right password must not buy an
address another round of guesses at other accounts).
"""

from __future__ import annotations

import math

import aiohttp_jinja2
from aiohttp import web

from actors.rate_limiter import RateLimiter
from contexts.accounts import normalize_email

from ..keys import ACCOUNTS, CONFIG
from ..session import flash, login, logout
from .forms import local_path, text

__all__ = ["ACCOUNT_BUCKET", "ADDRESS_BUCKET", "create", "delete", "new"]

ACCOUNT_BUCKET = "login.account"
ADDRESS_BUCKET = "login.address"


async def new(request: web.Request) -> web.Response:
    """GET /login"""
    return _form(request, "", local_path(request.query.get("next", "")))


async def create(request: web.Request) -> web.Response:
    """POST /login: signed in (with a new session) and sent on, or the form again."""
    form = await request.post()
    email, password = text(form, "email"), text(form, "password")
    next_path = local_path(text(form, "next"))
    auth = request.app[CONFIG].auth
    window = auth.login_limit_window
    counters = [
        (ACCOUNT_BUCKET, normalize_email(email), auth.login_limit_per_account),
        (ADDRESS_BUCKET, request.remote or "", auth.login_limit_per_address),
    ]
    refused = [
        decision
        for bucket, key, limit in counters
        if not (decision := RateLimiter.check(bucket, key, limit, window)).allowed
    ]
    if refused:
        wait = max(decision.reset_after for decision in refused)
        minutes = max(1, math.ceil(wait / 60))
        flash(
            request,
            "error",
            f"Too many attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        )
        response = _form(request, email, next_path, status=429)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    user = await request.app[ACCOUNTS].authenticate(email, password)
    if user is None:
        for bucket, key, limit in counters:
            RateLimiter.hit(bucket, key, limit, window)
        flash(request, "error", "Invalid email or password.")
        return _form(request, email, next_path, status=422)
    RateLimiter.reset(ACCOUNT_BUCKET, counters[0][1])
    await login(request, user)
    flash(request, "info", f"Welcome back, {user.display_name}!")
    raise web.HTTPSeeOther(next_path)


async def delete(request: web.Request) -> web.Response:
    """POST /logout"""
    await logout(request)
    flash(request, "info", "Logged out.")
    raise web.HTTPSeeOther("/")


def _form(request: web.Request, email: str, next_path: str, status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(
        "login.html", request, {"email": email, "next": next_path}, status=status
    )
