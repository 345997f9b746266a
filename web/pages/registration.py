"""Registering: the form, and creating the account (which signs it in)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from contexts.accounts import ValidationError

from ..keys import ACCOUNTS
from ..session import flash, login
from .forms import text

__all__ = ["create", "new"]


async def new(request: web.Request) -> web.Response:
    """GET /register"""
    return _form(request, {"email": "", "display_name": ""}, {})


async def create(request: web.Request) -> web.Response:
    """POST /register: signed in and sent home, or the form again with what to fix."""
    form = await request.post()
    values = {"email": text(form, "email"), "display_name": text(form, "display_name")}
    try:
        user = await request.app[ACCOUNTS].register(
            values["email"], text(form, "password"), values["display_name"]
        )
    except ValidationError as e:
        return _form(request, values, e.errors, status=422)
    await login(request, user)
    flash(request, "info", f"Welcome to Hearth, {user.display_name}!")
    raise web.HTTPSeeOther("/")


def _form(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        "register.html", request, {"values": values, "errors": errors}, status=status
    )
