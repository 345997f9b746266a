"""Pages for moderators and admins."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..keys import ACCOUNTS

__all__ = ["admin", "moderation"]


async def moderation(request: web.Request) -> web.Response:
    """GET /moderation"""
    return aiohttp_jinja2.render_template("moderation.html", request, {})


async def admin(request: web.Request) -> web.Response:
    """GET /admin: every user and their role."""
    users = await request.app[ACCOUNTS].list_users()
    return aiohttp_jinja2.render_template("admin.html", request, {"users": users})
