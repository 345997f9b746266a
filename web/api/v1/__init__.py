"""The JSON API, version 1: every route, with who may call it, in :data:`ROUTES`.

The table is the one place that says who may call what: :func:`add_routes` wraps each
handler in the guard its ``role`` names (``web.api.guards.require_role``), and the tests walk
the same table as an anonymous caller and as each role. A route with ``role=None`` is public
and decides for itself. A route's role is the least it takes; a handler may ask more of the
caller about the thing it acts on (a post changes only for its author or a moderator:
``contexts.posts.can_modify``), and answers 403 ``forbidden`` when that check fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from ..guards import require_role
from . import admin, api_keys, me, moderation, posts, tokens

__all__ = ["ROUTES", "Route", "add_routes"]


@dataclass(frozen=True)
class Route:
    """One API route: ``role`` is the least role that may call it, ``None`` for anyone."""

    method: str
    path: str
    handler: Handler
    role: str | None


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/auth/token", tokens.issue, None),
    Route("POST", "/api/v1/auth/refresh", tokens.refresh, None),
    Route("DELETE", "/api/v1/auth/token", tokens.revoke, "user"),
    Route("GET", "/api/v1/me", me.show, "user"),
    Route("GET", "/api/v1/api_keys", api_keys.index, "user"),
    Route("POST", "/api/v1/api_keys", api_keys.create, "user"),
    Route("DELETE", "/api/v1/api_keys/{id}", api_keys.revoke, "user"),
    Route("GET", "/api/v1/posts", posts.index, None),
    Route("GET", "/api/v1/posts/{id}", posts.show, None),
    Route("POST", "/api/v1/posts", posts.create, "user"),
    # A user changes only their own posts; the handler asks contexts.posts.can_modify.
    Route("PATCH", "/api/v1/posts/{id}", posts.update, "user"),
    Route("DELETE", "/api/v1/posts/{id}", posts.delete, "user"),
    Route("GET", "/api/v1/moderation/queue", moderation.queue, "moderator"),
    Route("GET", "/api/v1/admin/users", admin.users, "admin"),
)


def add_routes(router: web.UrlDispatcher) -> None:
    """The ``/api/v1`` routes, each behind the guard of its role."""
    for route in ROUTES:
        handler = route.handler if route.role is None else require_role(route.role)(route.handler)
        router.add_route(route.method, route.path, handler)
