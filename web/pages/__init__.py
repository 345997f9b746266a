"""Server-rendered HTML pages: one module per part of the site, one table of routes.

:data:`ROUTES` is every page route with the least role it needs (``None``: open to all).
``add_routes`` guards each handler with ``web.guards.require_role`` from that column, and
the role walk test (``tests/web/test_pages_roles.py``) reads the same table, so a role is
declared in exactly one place: here, not on the handler. A route's role is the least it
takes; a handler may ask more about the thing it acts on (only a post's author or a moderator
changes it), and sends anyone else back with a flash.

Handlers render with ``aiohttp_jinja2.render_template``; templates live in ``web/templates``
and extend ``base.html``, which shows the current user and the flash messages. The session
middleware supplies ``current_user``, ``csrf_input()``, ``csrf_token()`` and
``get_flashed_messages()`` to every template; every form that posts carries
``{{ csrf_input() }}``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from contexts.roles import at_least

from ..guards import require_role
from . import account, home, login, oauth, passwords, posts, registration, rooms, staff

__all__ = ["ROUTES", "TEMPLATES", "Page", "add_routes", "setup"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Page(NamedTuple):
    """One page route: ``role`` is the least role that may use it, ``None`` for anyone."""

    method: str
    path: str
    handler: Handler
    role: str | None = None


ROUTES: list[Page] = [
    Page("GET", "/", home.show),
    Page("GET", "/register", registration.new),
    Page("POST", "/register", registration.create),
    Page("GET", "/login", login.new),
    Page("POST", "/login", login.create),
    Page("POST", "/logout", login.delete),
    # Social login (web.pages.oauth): signed in, the start links the provider instead.
    Page("POST", "/auth/{provider}", oauth.start),
    Page("GET", "/auth/{provider}/callback", oauth.callback),
    Page("GET", "/password/forgot", passwords.forgot_form),
    Page("POST", "/password/forgot", passwords.forgot),
    Page("GET", "/password/reset/{token}", passwords.reset_form),
    Page("POST", "/password/reset/{token}", passwords.reset),
    Page("GET", "/account", account.show, role="user"),
    Page("POST", "/account/sessions/end", account.log_out_everywhere, role="user"),
    Page("POST", "/account/identities/{provider}/delete", oauth.unlink, role="user"),
    # GET /posts, /posts/new, /posts/{id} and /posts/{id}/edit are live pages (web.live);
    # these answer the same forms posted without the live client.
    Page("POST", "/posts", posts.create, role="user"),
    # A user changes only their own posts: the handlers ask contexts.posts.can_modify.
    Page("POST", "/posts/{id}/edit", posts.update, role="user"),
    Page("POST", "/posts/{id}/delete", posts.delete, role="user"),
    Page("GET", "/rooms", rooms.index),
    Page("POST", "/rooms", rooms.create, role="moderator"),
    Page("GET", "/rooms/{slug}", rooms.show),
    Page("GET", "/moderation", staff.moderation, role="moderator"),
    Page("GET", "/admin", staff.admin, role="admin"),
]


def setup(app: web.Application) -> None:
    """The template environment, on ``app``."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
    )
    env.globals["at_least"] = at_least
    env.filters["isotime"] = _isotime


def _isotime(timestamp: float) -> str:
    """A stored time (seconds since the epoch) as ``2024-05-01T12:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(timestamp))


def add_routes(router: web.UrlDispatcher) -> None:
    """The HTML routes of :data:`ROUTES`, each behind its role guard."""
    for page in ROUTES:
        handler = page.handler if page.role is None else require_role(page.role)(page.handler)
        if page.method == "GET":
            router.add_get(page.path, handler)  # and HEAD
        else:
            router.add_route(page.method, page.path, handler)
