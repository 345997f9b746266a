"""Posts, as forms posted without the live client: writing for the signed-in; changing and
deleting for the post's author, a moderator or an admin. The pages themselves (the list, a
post, the forms) are live (``web.live.posts``); a form sent here with errors is answered
with the form again (``post_form.html``).

The route table gives the write routes the ``user`` role; the handlers of one post's edit and
delete routes then ask :func:`contexts.posts.can_modify`. Someone else is sent back to the
post with a flash and nothing changes; an id nobody has is a 404 page.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from contexts import posts
from contexts.posts import Post
from contexts.validation import ValidationError

from ..api.params import path_id
from ..session import current_user, flash
from .forms import text

__all__ = ["create", "delete", "update"]


async def create(request: web.Request) -> web.Response:
    """POST /posts: the new post, or the form again with what to fix."""
    user = current_user(request)
    assert user is not None  # the route requires a user
    values = await _values(request)
    try:
        post = await posts.create_post(user.id, values["title"], values["body"])
    except ValidationError as e:
        return _form(request, None, values, e.errors, status=422)
    flash(request, "info", "Post created.")
    raise web.HTTPSeeOther(f"/posts/{post.id}")


async def update(request: web.Request) -> web.Response:
    """POST /posts/{id}/edit: back to the post, or the form again with what to fix."""
    post = await _modifiable(request, "edit")
    values = await _values(request)
    try:
        updated = await posts.update_post(post.id, values["title"], values["body"])
    except ValidationError as e:
        return _form(request, post, values, e.errors, status=422)
    if updated is None:  # deleted between the check and the update
        raise _not_found(request)
    flash(request, "info", "Post updated.")
    raise web.HTTPSeeOther(f"/posts/{post.id}")


async def delete(request: web.Request) -> web.Response:
    """POST /posts/{id}/delete"""
    post = await _modifiable(request, "delete")
    await posts.delete_post(post.id)
    flash(request, "info", "Post deleted.")
    raise web.HTTPSeeOther("/posts")


async def _find(request: web.Request) -> Post:
    """The post of the path; a draft only for those who may see it (a 404 for the rest)."""
    post_id = path_id(request)
    post = await posts.get_post(post_id) if post_id is not None else None
    if post is None or not posts.can_see(current_user(request), post):
        raise _not_found(request)
    return post


async def _modifiable(request: web.Request, action: str) -> Post:
    """The post of the path, if the signed-in user may ``action`` it; else back to the
    post, told why."""
    post = await _find(request)
    if not posts.can_modify(current_user(request), post):
        flash(request, "error", f"You are not allowed to {action} this post.")
        raise web.HTTPSeeOther(f"/posts/{post.id}")
    return post


async def _values(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {"title": text(form, "title"), "body": text(form, "body")}


def _form(
    request: web.Request,
    post: Post | None,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        "post_form.html",
        request,
        {"post": post, "values": values, "errors": errors},
        status=status,
    )


def _not_found(request: web.Request) -> web.HTTPNotFound:
    page = aiohttp_jinja2.render_string("not_found.html", request, {"what": "post"})
    return web.HTTPNotFound(text=page, content_type="text/html")
