"""API authentication (stub: filled in by the API auth work)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

__all__ = ["middleware"]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticates ``/api/`` requests from a Bearer token or an ``X-API-Key``."""
    return await handler(request)
