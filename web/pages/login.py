"""Logging in and out, with failed logins limited per account and per address.

The limits (``auth.login_limit_*``) are kept by ``Accounts.login`` in the RateLimiter: each
attempt takes its slot before its password is checked, so a burst checks no more than the
limit and the rest are refused (429) without any bcrypt time; a success clears the account's
count and gives back its own slot of the address's (only failures stay counted there: one
right password must not buy an address another round of guesses at other accounts).

Logging out also closes the user's sockets (``actors.user_socket.disconnect_user``), in every
tab: each reconnects, and its ``connect`` decides afresh.
"""

from __future__ import annotations

import math

import aiohttp_jinja2
from aiohttp import web

from actors.user_socket import disconnect_user
from contexts.accounts import TooManyAttempts

from ..keys import ACCOUNTS, OAUTH
from ..session import current_user, flash, login, logout
from .forms import local_path, text

__all__ = ["create", "delete", "new"]


async def new(request: web.Request) -> web.Response:
    """GET /login"""
    return _form(request, "", local_path(request.query.get("next", "")))


async def create(request: web.Request) -> web.Response:
    """POST /login: signed in (with a new session) and sent on, or the form again."""
    form = await request.post()
    email, password = text(form, "email"), text(form, "password")
    next_path = local_path(text(form, "next"))
    try:
        user = await request.app[ACCOUNTS].login(email, password, request.remote or "")
    except TooManyAttempts as e:
        minutes = max(1, math.ceil(e.retry_after / 60))
        flash(
            request,
            "error",
            f"Too many attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        )
        response = _form(request, email, next_path, status=429)
        response.headers["Retry-After"] = str(math.ceil(e.retry_after))
        return response
    if user is None:
        flash(request, "error", "Invalid email or password.")
        return _form(request, email, next_path, status=422)
    await login(request, user)
    flash(request, "info", f"Welcome back, {user.display_name}!")
    raise web.HTTPSeeOther(next_path)


async def delete(request: web.Request) -> web.Response:
    """POST /logout"""
    user = current_user(request)
    await logout(request)
    if user is not None:
        disconnect_user(user.id)
    flash(request, "info", "Logged out.")
    raise web.HTTPSeeOther("/")


def _form(request: web.Request, email: str, next_path: str, status: int = 200) -> web.Response:
    providers = list(request.app[OAUTH].providers.values())
    return aiohttp_jinja2.render_template(
        "login.html", request, {"email": email, "next": next_path, "providers": providers},
        status=status,
    )
