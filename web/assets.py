"""Scripts and the one stylesheet the pages load, served under ``/assets/<name>``: ours
from ``web/static``, and the stock phoenix.js client from ``node_modules`` (``npm ci``, run
by ``make serve`` and ``make test``; third-party code is installed, never committed).

Only the names in :data:`ASSETS` are served: nothing else on the disk is reachable from here.
An asset whose file is missing (``npm ci`` not run) answers 404 and logs what to run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

__all__ = ["ASSETS", "PHOENIX_JS", "PHOENIX_LIVE_VIEW_JS", "STATIC", "serve"]

STATIC = Path(__file__).resolve().parent / "static"
ROOT = Path(__file__).resolve().parent.parent
PHOENIX_JS = ROOT / "node_modules" / "phoenix" / "priv" / "static" / "phoenix.mjs"
"""The ES module build of the npm ``phoenix`` package pinned in ``package.json``."""

PHOENIX_LIVE_VIEW_JS = (ROOT / "node_modules" / "phoenix_live_view" / "priv" / "static"
                        / "phoenix_live_view.esm.js")
"""The ES module build of the npm ``phoenix_live_view`` package pinned in ``package.json``."""

ASSETS: dict[str, Path] = {
    "phoenix.js": PHOENIX_JS,
    "phoenix_live_view.js": PHOENIX_LIVE_VIEW_JS,
    "live.js": STATIC / "live.js",
    "room.js": STATIC / "room.js",
    "app.css": STATIC / "app.css",
}
_TYPES = {".css": "text/css; charset=utf-8"}

log = logging.getLogger(__name__)


async def serve(request: web.Request) -> web.StreamResponse:
    """GET /assets/{name}"""
    path = ASSETS.get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    if not path.is_file():
        log.warning("asset %s is missing: run `npm ci` at %s", path, ROOT)
        raise web.HTTPNotFound()
    # Revalidated on each load (an ETag round trip), so a new version is never stale.
    return web.FileResponse(path, headers={
        "Content-Type": _TYPES.get(path.suffix, "text/javascript; charset=utf-8"),
        "Cache-Control": "no-cache",
    })
