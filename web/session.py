"""Browser sessions (stub: filled in by the accounts work)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

__all__ = ["middleware"]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loads the session and the current user once per request."""
    return await handler(request)
