"""Every API route, with who may call it, in :data:`ROUTES`; and how they are mounted.

Each route is mounted three times: under ``/api/v1`` and ``/api/v2`` for clients that name
their version in the path, and under plain ``/api`` for those that name it in ``Accept``
(``web.api.versions``). Handlers are the same for every version; what they return is shaped
for the request's version by ``web.api.views``. A path naming a version this server does not
have (``/api/v9/...``) answers 406.

The table is the one place that says who may call what: :func:`add_routes` wraps each
handler in the guard its ``role`` names (``web.api.guards.require_role``), and the tests walk
the same table as an anonymous caller and as each role. Every resource route needs a caller
(an API key or an access token: 401 without one); only logging in, refreshing and the
OpenAPI document are open (``role=None``). A route's role is the least it takes; a handler
may ask more of the caller about the thing it acts on (a post changes only for its author or
a moderator: ``contexts.posts.can_modify``), and answers 403 ``forbidden`` when that check
fails. ``doc`` is the route's summary in the OpenAPI document (``web.api.openapi``); a
route whose answer is the same for every caller names the ``stamp`` its rendered answers
are kept by (``web.api.cache``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from contexts import posts as posts_context

from . import admin, api_keys, me, moderation, posts, rooms, tokens
from .cache import CONTENT_TYPE, cached
from .guards import require_role
from .versions import VERSION, VERSIONS, Negotiated, negotiate, not_acceptable
from .views import Collection, Resource, render

__all__ = ["OPENAPI_PATH", "ROUTES", "Route", "add_routes", "versioned_paths"]

OPENAPI_PATH = "/api/openapi.json"

ApiHandler = Callable[[web.Request], Awaitable[Any]]
"""A route's handler: it may return a :class:`Resource` or :class:`Collection`."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One API route: ``path`` is under each version's prefix (``/posts/{id}``); ``role`` is
    the least role that may call it, ``None`` for anyone."""

    method: str
    path: str
    handler: ApiHandler
    role: str | None
    doc: str
    stamp: Callable[[], int] | None = None


ROUTES: tuple[Route, ...] = (
    Route("POST", "/auth/token", tokens.issue, None, "Log in: a token pair"),
    Route("POST", "/auth/refresh", tokens.refresh, None, "A new token pair for a refresh token"),
    Route("DELETE", "/auth/token", tokens.revoke, "user", "Log out this token's login"),
    Route("GET", "/me", me.show, "user", "The caller's account"),
    Route("GET", "/api_keys", api_keys.index, "user", "The caller's API keys"),
    Route("POST", "/api_keys", api_keys.create, "user", "Make an API key (shown once)"),
    Route("DELETE", "/api_keys/{id}", api_keys.revoke, "user", "Revoke an API key"),
    Route("GET", "/posts", posts.index, "user", "Published posts, newest first",
          stamp=posts_context.generation),
    Route("POST", "/posts", posts.create, "user", "Write a post"),
    Route("GET", "/posts/{id}", posts.show, "user", "One post"),
    # A user changes only their own posts; the handler asks contexts.posts.can_modify.
    Route("PATCH", "/posts/{id}", posts.update, "user", "Change a post"),
    Route("DELETE", "/posts/{id}", posts.delete, "user", "Delete a post"),
    Route("POST", "/posts/{id}/like", posts.like, "user", "Like a post"),
    Route("DELETE", "/posts/{id}/like", posts.unlike, "user", "Take a like back"),
    Route("GET", "/rooms", rooms.index, "user", "Chat rooms, newest first"),
    Route("POST", "/rooms", rooms.create, "moderator", "Create a chat room"),
    Route("GET", "/rooms/{slug}", rooms.show, "user", "One chat room"),
    Route("GET", "/rooms/{slug}/messages", rooms.messages, "user",
          "A room's messages, newest first"),
    Route("POST", "/rooms/{slug}/messages", rooms.post_message, "user",
          "Post a message in a room"),
    Route("GET", "/moderation/queue", moderation.queue, "moderator",
          "Content waiting for a moderator"),
    Route("GET", "/admin/users", admin.users, "admin", "Every account"),
)


def versioned_paths(route: Route) -> list[str]:
    """The paths ``route`` is served at: one per version, and the unversioned one."""
    return [f"/api/v{version}{route.path}" for version in VERSIONS] + [f"/api{route.path}"]


def add_routes(router: web.UrlDispatcher) -> None:
    """Every route, each behind the guard of its role, under each version's prefix and the
    unversioned one; then the OpenAPI document and the refusal of unknown versions."""
    from . import openapi

    for route in ROUTES:
        handler = _rendering(route.handler)
        if route.stamp is not None:
            handler = cached(route.stamp)(handler)
        if route.role is not None:
            handler = require_role(route.role)(handler)
        for version in VERSIONS:
            _add(router, route.method, f"/api/v{version}{route.path}",
                 _endpoint(handler, version))
        _add(router, route.method, f"/api{route.path}", _endpoint(handler, None))
    router.add_get(OPENAPI_PATH, openapi.serve)
    known = "|".join(str(v) for v in VERSIONS)
    router.add_route(hdrs.METH_ANY, rf"/api/{{version:v(?!(?:{known})(?:/|$))\d+}}{{rest:(/.*)?}}",
                     _unknown_version)


def _add(router: web.UrlDispatcher, method: str, path: str, handler: ApiHandler) -> None:
    if method == hdrs.METH_GET:
        router.add_get(path, handler)  # and HEAD
    else:
        router.add_route(method, path, handler)


def _endpoint(handler: Handler, version: int | None) -> Handler:
    """``handler`` answering in ``version``, or, for ``None``, the one ``Accept`` asks for."""
    fixed = None if version is None else Negotiated(version, "application/json")

    async def endpoint(request: web.Request) -> web.StreamResponse:
        chosen = fixed or negotiate(request.headers.get(hdrs.ACCEPT))
        request[VERSION] = chosen.version
        request[CONTENT_TYPE] = chosen.content_type
        response = await handler(request)
        if fixed is None:
            response.headers[hdrs.VARY] = hdrs.ACCEPT
        return response

    return endpoint


def _rendering(handler: ApiHandler) -> Handler:
    """``handler``, its :class:`Resource` or :class:`Collection` rendered for the request's
    version."""

    async def rendering(request: web.Request) -> web.StreamResponse:
        result = await handler(request)
        if isinstance(result, (Resource, Collection)):
            return render(request, result, request[CONTENT_TYPE])
        response: web.StreamResponse = result
        response.headers["API-Version"] = str(request[VERSION])
        return response

    return rendering


async def _unknown_version(request: web.Request) -> web.StreamResponse:
    raise not_acceptable(f"API version {request.match_info['version'][1:]} does not exist")

