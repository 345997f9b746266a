"""Chat rooms: the list for everyone, with a form to make one for moderators; each room's
live page.

A room's page is rendered with its last messages and works on its own from there: the
browser loads the stock phoenix.js (``/assets/phoenix.js``) and ``/assets/room.js``, joins
``room:<slug>`` over ``/socket`` and keeps the list live. A signed-in user's page carries a
socket token (``<meta name="socket-token">``, see ``actors.user_socket``) so the socket is
theirs and may post; without one it is anonymous and reads.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from actors.user_socket import socket_token
from contexts import chat
from contexts.validation import ValidationError

from ..keys import SECRET
from ..session import SESSION, current_user, flash
from .forms import text

__all__ = ["create", "index", "show"]


async def index(request: web.Request) -> web.Response:
    """GET /rooms"""
    rooms = await chat.list_rooms()
    return aiohttp_jinja2.render_template("rooms_index.html", request, {"rooms": rooms})


async def create(request: web.Request) -> web.Response:
    """POST /rooms (moderators): the new room, or the list again with what to fix."""
    form = await request.post()
    try:
        room = await chat.create_room(text(form, "slug"), text(form, "name"))
    except ValidationError as e:
        for field, messages in e.errors.items():
            flash(request, "error", f"{field.capitalize()} {', '.join(messages)}.")
        raise web.HTTPSeeOther("/rooms") from None
    flash(request, "info", f"Room {room.name} created.")
    raise web.HTTPSeeOther(f"/rooms/{room.slug}")


async def show(request: web.Request) -> web.Response:
    """GET /rooms/{slug}"""
    room = await chat.get_room(request.match_info["slug"])
    if room is None:
        return aiohttp_jinja2.render_template(
            "not_found.html", request, {"what": "room"}, status=404
        )
    user = current_user(request)
    messages = await chat.last_messages(room.id, chat.HISTORY)
    session = request[SESSION].token
    token = socket_token(request.app[SECRET], user, session) if user and session else None
    return aiohttp_jinja2.render_template(
        "room_show.html", request,
        {"room": room, "messages": messages, "socket_token": token, "max_body": chat.MAX_BODY},
    )
