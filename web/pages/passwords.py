"""Forgotten passwords: asking for a reset link, and choosing a new password with it.

Asking answers the same whatever the address: whether an email is registered is nobody's
business. A successful reset ends every session of the user (``Accounts.reset_password``),
closes their sockets (``actors.user_socket.disconnect_user``) and signs this browser in with
a fresh session.
"""

from __future__ import annotations

import math

import aiohttp_jinja2
from aiohttp import web

from actors.user_socket import disconnect_user
from contexts.accounts import InvalidToken, TooManyAttempts, ValidationError

from ..keys import ACCOUNTS, CONFIG
from ..session import flash, login
from .forms import text

__all__ = ["RESET_PATH", "forgot", "forgot_form", "reset", "reset_form"]

RESET_PATH = "/password/reset/"
SENT = "If that address belongs to an account, a link to reset its password is on its way."


async def forgot_form(request: web.Request) -> web.Response:
    """GET /password/forgot"""
    return aiohttp_jinja2.render_template("password_forgot.html", request, {})


async def forgot(request: web.Request) -> web.Response:
    """POST /password/forgot: the same redirect and flash for every address."""
    form = await request.post()
    # From config, never from the Host header a client chooses (that would let anyone
    # mail a victim a real token on a link to their own site).
    base = request.app[CONFIG].server.base_url() + RESET_PATH
    try:
        await request.app[ACCOUNTS].request_password_reset(
            text(form, "email"), base, address=request.remote or ""
        )
    except TooManyAttempts as e:
        flash(request, "error", "Too many requests, try again later.")
        response = aiohttp_jinja2.render_template("password_forgot.html", request, {},
                                                  status=429)
        response.headers["Retry-After"] = str(math.ceil(e.retry_after))
        return response
    flash(request, "info", SENT)
    raise web.HTTPSeeOther("/login")


async def reset_form(request: web.Request) -> web.Response:
    """GET /password/reset/{token}"""
    return _reset_page(request, {})


async def reset(request: web.Request) -> web.Response:
    """POST /password/reset/{token}: signed in with the new password, or told why not."""
    form = await request.post()
    try:
        user = await request.app[ACCOUNTS].reset_password(
            request.match_info["token"], text(form, "password")
        )
    except InvalidToken:
        flash(request, "error", "That reset link is invalid or has expired. Ask for a new one.")
        raise web.HTTPSeeOther("/password/forgot") from None
    except ValidationError as e:
        return _reset_page(request, e.errors, status=422)
    disconnect_user(user.id)
    await login(request, user)
    flash(request, "info", "Your password has been changed.")
    raise web.HTTPSeeOther("/")


def _reset_page(
    request: web.Request, errors: dict[str, list[str]], status: int = 200
) -> web.Response:
    response = aiohttp_jinja2.render_template(
        "password_reset.html",
        request,
        {"token": request.match_info["token"], "errors": errors},
        status=status,
    )
    # The token is in this page's address: links on it must not pass it on.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
