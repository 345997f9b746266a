"""Role guards for HTML pages: who may open a page, and where everyone else is sent.

A page's role is declared once, in the route table ``web.pages.ROUTES``; ``add_routes``
wraps the handler in :func:`require_role`, and the role walk test reads the same table.
A visitor who is not signed in goes to ``/login?next=<the page>``; one whose role is too
low goes to ``/``; both with a flash saying why. (API routes answer 401/403 JSON instead:
``web.api``.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from contexts.roles import at_least, is_role

from .session import current_user, flash

__all__ = ["LOGIN_PATH", "require_role"]

LOGIN_PATH = "/login"


def require_role(role: str) -> Callable[[Handler], Handler]:
    """Let ``handler`` run only for a signed-in user with at least ``role`` (``"user"``,
    ``"moderator"`` or ``"admin"``)."""
    if not is_role(role):
        raise ValueError(f"unknown role {role!r}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = current_user(request)
            if user is None:
                flash(request, "error", "Please log in to continue.")
                target = URL(LOGIN_PATH)
                if request.method == "GET":
                    target = target.with_query(next=str(request.rel_url))
                raise web.HTTPFound(str(target))
            if not at_least(user.role, role):
                what = "see that page" if request.method == "GET" else "do that"
                flash(request, "error", f"You are not allowed to {what}.")
                raise web.HTTPFound("/")
            return await handler(request)

        return guarded

    return decorate
