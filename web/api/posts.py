"""``/api/.../posts``: callers read published posts, write their own, and like them; only a
post's author or a moderator (and so an admin) changes or deletes it.

A draft (``"published": false``) is seen only by those who may change it; to anyone else
it answers 404, as a post nobody has does. Someone else's post answers 403 ``forbidden`` to
a change and is left as it was. Bad fields answer 422 ``validation_failed`` with each
field's messages; liking twice, or taking back a like never given, 409.

A ``PATCH`` or ``DELETE`` may carry ``If-Match`` with the ETag of the post as the caller
last read it: if the post changed since, nothing happens and the answer is 412
``precondition_failed`` (``web.api.conditional``), so two editors cannot overwrite each
other unseen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from contexts import posts
from contexts.posts import Post

from ..keys import USER
from .conditional import check_if_match
from .errors import ApiError
from .guards import caller
from .pagination import page_request, paginate
from .params import path_id, read_json
from .views import Collection, Resource

__all__ = ["create", "delete", "index", "like", "show", "unlike", "update"]

KIND = "post"
_TEXT_FIELDS = ("title", "body")


async def index(request: web.Request) -> Collection:
    """Published posts, newest first, a page at a time (``web.api.pagination``)."""
    page = await paginate(
        page_request(request),
        lambda limit, offset, before: posts.list_posts(limit, offset, before),
        posts.count_posts,
    )
    return Collection(KIND, page.with_items([post.to_json() for post in page.items]))


async def show(request: web.Request) -> Resource:
    """One post."""
    return Resource(KIND, (await _visible(request)).to_json())


async def create(request: web.Request) -> Resource:
    """``{title, body, published?}`` → 201 with the post, written by the caller."""
    user = caller(request)
    body = _checked(await read_json(request))
    post = await posts.create_post(user.id, body.get("title"), body.get("body"),
                                   body.get("published", True))
    return Resource(KIND, post.to_json(), 201, {"Location": _location(request, post)})


async def update(request: web.Request) -> Resource:
    """``{title?, body?, published?}`` → the post; a field left out keeps its value."""
    post = await _modifiable(request)
    body = _checked(await read_json(request))
    updated = await posts.update_post(post.id, body.get("title", post.title),
                                      body.get("body", post.body), body.get("published"))
    if updated is None:  # deleted between the check and the update
        raise _not_found()
    return Resource(KIND, updated.to_json())


async def delete(request: web.Request) -> web.Response:
    """Delete the post. 204."""
    post = await _modifiable(request)
    if not await posts.delete_post(post.id):
        raise _not_found()
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


async def like(request: web.Request) -> Resource:
    """The caller likes the post: the post, with one more like. 409 ``already_liked``."""
    return await _liking(request, posts.like_post)


async def unlike(request: web.Request) -> Resource:
    """The caller takes their like back: the post. 409 ``not_liked``."""
    return await _liking(request, posts.unlike_post)


async def _liking(
    request: web.Request, change: Callable[[int, int], Awaitable[Post | None]]
) -> Resource:
    user = caller(request)
    post = await _visible(request)
    changed = await change(post.id, user.id)
    if changed is None:  # deleted meanwhile
        raise _not_found()
    return Resource(KIND, changed.to_json())


async def _visible(request: web.Request) -> Post:
    post_id = path_id(request)
    post = await posts.get_post(post_id) if post_id is not None else None
    if post is None or not posts.can_see(request.get(USER), post):
        raise _not_found()
    return post


async def _modifiable(request: web.Request) -> Post:
    """The post of the path, if the caller may change it and it is as ``If-Match`` says;
    checked before the body is read, so a caller who may not learns nothing from how the
    body would have been judged."""
    user = caller(request)
    post = await _visible(request)
    if not posts.can_modify(user, post):
        raise ApiError(403, "forbidden",
                       "only the post's author, a moderator or an admin may change it")
    check_if_match(request, Resource(KIND, post.to_json()))
    return post


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The body, its fields' types checked: a field that is not a string (or, for
    ``published``, a boolean) is the client's bug (400); a blank or missing one is the
    user's (422, from the context)."""
    for name in _TEXT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "invalid_request", f"{name} must be a string")
    if "published" in body and not isinstance(body["published"], bool):
        raise ApiError(400, "invalid_request", "published must be true or false")
    return body


def _location(request: web.Request, post: Post) -> str:
    return f"{request.path.rstrip('/')}/{post.id}"


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no such post")
