"""The signed-in user's own page."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from actors.user_socket import disconnect_user
from contexts import identities, sessions

from ..keys import OAUTH
from ..session import current_user, flash, login

__all__ = ["log_out_everywhere", "show"]


async def show(request: web.Request) -> web.Response:
    """GET /account: who you are, and the sites you can sign in with (link, unlink)."""
    user = current_user(request)
    assert user is not None  # the route requires a user
    linked = {i.provider: i for i in await identities.list_identities(user.id)}
    has_password = await identities.has_password_for(user.id)
    providers = list(request.app[OAUTH].providers.values())
    # An identity of a provider no longer configured still shows, and can be unlinked.
    gone = [i for name, i in linked.items() if request.app[OAUTH].provider(name) is None]
    return aiohttp_jinja2.render_template("account.html", request, {
        "providers": providers,
        "linked": linked,
        "gone": gone,
        "has_password": has_password,
        "last_way_in": not has_password and len(linked) == 1,
    })


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
