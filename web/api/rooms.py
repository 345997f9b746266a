"""``/api/.../rooms``: every caller lists and reads rooms and their messages and posts in
them; moderators and admins create rooms (the route table says so).

A room is named by its slug (``/api/v1/rooms/lobby``). Messages come newest first, a page at
a time (``web.api.pagination``). A message posted here is stored, then broadcast to the
room's sockets as ``new_message``, exactly as one sent over the room's channel. A slug
already in use answers 409 ``slug_taken``; bad fields 422.
"""

from __future__ import annotations

from aiohttp import web

from actors.room_channel import announce
from contexts import chat
from contexts.chat import Room
from contexts.validation import ValidationError

from .errors import ApiError
from .guards import caller
from .pagination import page_request, paginate
from .params import read_json
from .views import Collection, Resource

__all__ = ["create", "index", "messages", "post_message", "show"]

KIND = "room"
MESSAGE = "message"


async def index(request: web.Request) -> Collection:
    """Rooms, newest first, a page at a time."""
    page = await paginate(page_request(request), chat.page_rooms, chat.count_rooms)
    return Collection(KIND, page.with_items([room.to_json() for room in page.items]))


async def show(request: web.Request) -> Resource:
    """One room."""
    return Resource(KIND, (await _room(request)).to_json())


async def create(request: web.Request) -> Resource:
    """``{slug, name}`` → 201 with the room."""
    body = await read_json(request)
    try:
        room = await chat.create_room(body.get("slug"), body.get("name"))
    except ValidationError as e:
        if e.errors.get("slug") == [chat.TAKEN]:
            raise ApiError(409, "slug_taken", f"a room named {body['slug']!r} exists") from None
        raise
    return Resource(KIND, room.to_json(), 201, {"Location": f"{request.path}/{room.slug}"})


async def messages(request: web.Request) -> Collection:
    """The room's messages, newest first, a page at a time."""
    room = await _room(request)
    page = await paginate(
        page_request(request),
        lambda limit, offset, before: chat.list_messages(room.id, limit, offset, before),
        lambda: chat.count_messages(room.id),
    )
    return Collection(MESSAGE, page.with_items([m.to_json() for m in page.items]))


async def post_message(request: web.Request) -> Resource:
    """``{body}`` → 201 with the stored message, once it is broadcast to the room."""
    user = caller(request)
    room = await _room(request)
    body = await read_json(request)
    message = await chat.post_message(room.id, user.id, body.get("body"))
    announce(room, message)
    return Resource(MESSAGE, message.to_json(), 201)


async def _room(request: web.Request) -> Room:
    slug = request.match_info["slug"]
    room = await chat.get_room(slug) if len(slug) <= chat.MAX_SLUG else None
    if room is None:
        raise ApiError(404, "not_found", "no such room")
    return room
