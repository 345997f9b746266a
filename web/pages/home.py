"""The home page, open to everyone."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

__all__ = ["show"]


async def show(request: web.Request) -> web.Response:
    """GET /"""
    return aiohttp_jinja2.render_template("home.html", request, {})
