"""``/api/v1/admin/...``: what only an admin sees."""

from __future__ import annotations

from aiohttp import web

from ..keys import ACCOUNTS
from .errors import json_response

__all__ = ["users"]


async def users(request: web.Request) -> web.Response:
    """``{"users": [...]}``: every account, oldest first."""
    everyone = await request.app[ACCOUNTS].list_users()
    return json_response({"users": [user.to_json() for user in everyone]})
