"""``/api/v1/me``: the caller's own account."""

from __future__ import annotations

from aiohttp import web

from ..errors import json_response
from ..guards import caller

__all__ = ["show"]


async def show(request: web.Request) -> web.Response:
    """The caller: id, email, role, display name, created and updated times."""
    return json_response(caller(request).to_json())
