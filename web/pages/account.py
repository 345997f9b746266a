"""The signed-in user's own page."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from actors.user_socket import disconnect_user
from contexts import sessions

from ..session import current_user, flash, login

__all__ = ["log_out_everywhere", "show"]


async def show(request: web.Request) -> web.Response:
    """GET /account"""
    return aiohttp_jinja2.render_template("account.html", request, {})


async def log_out_everywhere(request: web.Request) -> web.Response:
    """POST /account/sessions/end: every other browser is signed out; this one stays, with
    a new session. Every socket of the user closes: the other browsers' reconnects are
    refused, and this one's pages hand out tokens of its new session."""
    user = current_user(request)
    assert user is not None  # the route requires a user
    await sessions.delete_all_for_user(user.id)
    disconnect_user(user.id)
    await login(request, user)
    flash(request, "info", "You are now logged out everywhere else.")
    raise web.HTTPSeeOther("/account")
