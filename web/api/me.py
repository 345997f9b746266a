"""``/api/v1/me``: the caller's own account."""

from __future__ import annotations

from aiohttp import web

from .guards import caller
from .views import Resource

__all__ = ["show"]


async def show(request: web.Request) -> Resource:
    """The caller: id, email, role, display name, created and updated times."""
    return Resource("user", caller(request).to_json())
