"""Signing in with Google, GitHub or an OpenID provider (seed Example 41), and linking them.

``POST /auth/<provider>`` (a button of the login page, or of the account page to link) starts
a flow and sends the browser to the provider; ``GET /auth/<provider>/callback`` is where the
provider sends it back. Both are ordinary pages of the browser pipeline: the start is a form
with the session's CSRF token (so no other site can start a sign-in in someone's browser),
and the callback is a GET, which the CSRF checks let through; what guards it is the flow's
``state``, single use and bound to this browser session (``contexts.oauth``).

A sign-in that works rotates the session as the password login does (``web.session.login``)
and goes on to the local page the user came from (``next``, through ``forms.local_path``).
One that fails, for any reason, changes nothing, logs one line, and shows the reason on the
login page (on the account page for a link).
"""

from __future__ import annotations

import logging

from aiohttp import web

from contexts import identities
from contexts.identities import IdentityRefused
from contexts.oauth import OAuthError, Provider, browser_binding

from ..keys import OAUTH
from ..session import SESSION, current_user, flash, login
from .forms import local_path, text

__all__ = ["callback", "start", "unlink"]

log = logging.getLogger(__name__)

ACCOUNT_PATH = "/account"
LOGIN_PATH = "/login"


async def start(request: web.Request) -> web.Response:
    """POST /auth/{provider}: off to the provider, signing in (or linking, when signed in)."""
    provider = _provider(request)
    user = current_user(request)
    back = ACCOUNT_PATH if user is not None else LOGIN_PATH
    if provider is None:
        flash(request, "error", "There is no such way to sign in.")
        raise web.HTTPSeeOther(back)
    form = await request.post()
    next_path = local_path(text(form, "next"))
    try:
        url = await request.app[OAUTH].begin(provider.name, _browser(request), next_path,
                                             user.id if user is not None else None,
                                             address=request.remote or "")
    except OAuthError as e:
        _refused(request, provider, e)
        raise web.HTTPSeeOther(back) from None
    raise web.HTTPSeeOther(url)


async def callback(request: web.Request) -> web.Response:
    """GET /auth/{provider}/callback: signed in (or linked) and sent on, or refused."""
    provider = _provider(request)
    user = current_user(request)
    if provider is None:
        flash(request, "error", "There is no such way to sign in.")
        raise web.HTTPSeeOther(LOGIN_PATH)
    try:
        profile, flow = await request.app[OAUTH].finish(provider.name, request.query,
                                                        _browser(request))
        if flow.user_id is not None:
            if user is None or user.id != flow.user_id:
                raise OAuthError("You signed out, or in as someone else, while linking "
                                 f"{provider.label}: nothing was changed.")
            await identities.link(user, profile, provider.label)
            log.info("user %d linked %s", user.id, provider.name)
            flash(request, "info", f"Your {provider.label} account is linked: you can sign in "
                                   "with it.")
            raise web.HTTPSeeOther(ACCOUNT_PATH)
        found, how = await identities.find_or_create_user(profile, provider.label)
    except (OAuthError, IdentityRefused) as e:
        _refused(request, provider, e)
        raise web.HTTPSeeOther(ACCOUNT_PATH if user is not None else LOGIN_PATH) from None
    await login(request, found)
    log.info("user %d signed in with %s (%s)", found.id, provider.name, how)
    greeting = "Welcome" if how == "created" else "Welcome back"
    flash(request, "info", f"Signed in with {provider.label}. {greeting}, "
                           f"{found.display_name}!")
    raise web.HTTPSeeOther(flow.next_path)


async def unlink(request: web.Request) -> web.Response:
    """POST /account/identities/{provider}/delete"""
    user = current_user(request)
    assert user is not None  # the route requires a user
    name = request.match_info["provider"]
    provider = request.app[OAUTH].provider(name)
    label = provider.label if provider is not None else name
    try:
        await identities.unlink(user.id, name, label)
    except IdentityRefused as e:
        flash(request, "error", str(e))
        raise web.HTTPSeeOther(ACCOUNT_PATH) from None
    log.info("user %d unlinked %s", user.id, name)
    flash(request, "info", f"{label} is no longer linked to your account.")
    raise web.HTTPSeeOther(ACCOUNT_PATH)


def _provider(request: web.Request) -> Provider | None:
    return request.app[OAUTH].provider(request.match_info["provider"])


def _browser(request: web.Request) -> str:
    # The start is a POST that passed the CSRF check, so the session has its token; the
    # callback of a browser without one matches no flow.
    return browser_binding(request[SESSION].csrf_token())


def _refused(request: web.Request, provider: Provider, error: Exception) -> None:
    log.warning("sign-in with %s refused: %s: %s", provider.name, type(error).__name__, error)
    flash(request, "error", str(error))
