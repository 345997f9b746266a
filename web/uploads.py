"""``GET /uploads/<key>``: the objects of local storage (``hearth.storage.LocalStorage``),
served with the type their extension names; keys are checked as the storage checks them."""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable

from aiohttp import web

from hearth.storage import InvalidKey, LocalStorage

__all__ = ["serve_local"]

_SAFE = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def serve_local(storage: LocalStorage) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        try:
            path = storage.path(request.match_info["key"])
        except InvalidKey:
            raise web.HTTPNotFound() from None
        if not path.is_file():
            raise web.HTTPNotFound()
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # Only images are shown inline; anything else is a download, never a page.
        content_type = guessed if guessed in _SAFE else "application/octet-stream"
        return web.FileResponse(path, headers={
            "Content-Type": content_type, "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600"})

    return serve
