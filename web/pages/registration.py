"""Registering: the form, and creating the account.

The answer never says whether the address has an account already: a new address and a taken
one both go to the login page with the same flash, and a mail goes to the address, welcoming
the new account or telling the owner of the old one that someone tried
(``Accounts.sign_up``). Nobody is signed in by registering; the new user logs in.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from contexts.accounts import ValidationError

from ..keys import ACCOUNTS, CONFIG
from ..session import flash
from .forms import text

__all__ = ["REGISTERED", "create", "new"]

REGISTERED = ("Thanks for registering! A mail is on its way to {}: log in with your email"
              " and password.")


async def new(request: web.Request) -> web.Response:
    """GET /register"""
    return _form(request, {"email": "", "display_name": ""}, {})


async def create(request: web.Request) -> web.Response:
    """POST /register: sent to log in, or the form again with what to fix."""
    form = await request.post()
    values = {"email": text(form, "email"), "display_name": text(form, "display_name")}
    # Links in the mail come from config, never from the Host header a client chooses.
    base = request.app[CONFIG].server.base_url()
    try:
        await request.app[ACCOUNTS].sign_up(
            values["email"], text(form, "password"), values["display_name"], base
        )
    except ValidationError as e:
        return _form(request, values, e.errors, status=422)
    flash(request, "info", REGISTERED.format(values["email"].strip()))
    raise web.HTTPSeeOther("/login")


def _form(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        "register.html", request, {"values": values, "errors": errors}, status=status
    )
