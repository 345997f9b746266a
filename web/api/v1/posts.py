"""``/api/v1/posts``: anyone reads posts, a signed-in caller writes one, and only its author
or a moderator (and so an admin) changes or deletes it.

Answers carry the post (or the list) under ``"data"``. Someone else's post answers 403
``forbidden`` to a change and is left as it was; an id nobody has answers 404 ``not_found``.
Bad fields answer 422 ``validation_failed`` with each field's messages (``web.api.errors``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contexts import posts
from contexts.posts import Post

from ..errors import ApiError, json_response
from ..guards import caller
from ..params import path_id, query_int, read_json

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_OFFSET", "create", "delete", "index", "show",
           "update"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_OFFSET = 100_000
"""How far ``offset`` may reach; cursors come with pagination, in a later version."""

_FIELDS = ("title", "body")


async def index(request: web.Request) -> web.Response:
    """``{"data": [...]}``: posts, newest first; ``?limit=`` (1 to 100, default 50) and
    ``?offset=`` (default 0) choose the slice."""
    limit = query_int(request, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = query_int(request, "offset", default=0, minimum=0, maximum=MAX_OFFSET)
    found = await posts.list_posts(limit, offset)
    return json_response({"data": [post.to_json() for post in found]})


async def show(request: web.Request) -> web.Response:
    """``{"data": post}``."""
    return json_response({"data": (await _find(request)).to_json()})


async def create(request: web.Request) -> web.Response:
    """``{title, body}`` → 201 ``{"data": post}``, written by the caller."""
    user = caller(request)
    title, body = _fields(await read_json(request))
    post = await posts.create_post(user.id, title, body)
    return json_response({"data": post.to_json()}, status=201)


async def update(request: web.Request) -> web.Response:
    """``{title?, body?}`` → ``{"data": post}``; a field left out keeps its value."""
    post = await _modifiable(request)
    title, body = _fields(await read_json(request), keep=post)
    updated = await posts.update_post(post.id, title, body)
    if updated is None:  # deleted between the check and the update
        raise _not_found()
    return json_response({"data": updated.to_json()})


async def delete(request: web.Request) -> web.Response:
    """Delete the post. 204."""
    post = await _modifiable(request)
    if not await posts.delete_post(post.id):
        raise _not_found()
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def _find(request: web.Request) -> Post:
    post_id = path_id(request)
    post = await posts.get_post(post_id) if post_id is not None else None
    if post is None:
        raise _not_found()
    return post


async def _modifiable(request: web.Request) -> Post:
    """The post of the path, if the caller may change it; checked before the body is read,
    so a caller who may not learns nothing from how the body would have been judged."""
    user = caller(request)
    post = await _find(request)
    if not posts.can_modify(user, post):
        raise ApiError(403, "forbidden",
                       "only the post's author, a moderator or an admin may change it")
    return post


def _fields(body: dict[str, Any], keep: Post | None = None) -> tuple[Any, Any]:
    """``title`` and ``body`` as sent, for the context to judge; a field that is not a
    string is the client's bug (400), a blank or missing one the user's (422)."""
    for name in _FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "invalid_request", f"{name} must be a string")
    if keep is None:
        return body.get("title"), body.get("body")
    return body.get("title", keep.title), body.get("body", keep.body)


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no such post")
