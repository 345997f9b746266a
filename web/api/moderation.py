"""``/api/v1/moderation/...``: what moderators (and admins) work on."""

from __future__ import annotations

from aiohttp import web

from .errors import json_response

__all__ = ["queue"]


async def queue(request: web.Request) -> web.Response:
    """``{"items": [...]}``: content waiting for a moderator. Nothing can be reported yet,
    so the queue is always empty; the route exists so its guard does."""
    return json_response({"items": []})
