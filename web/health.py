"""``GET /health``: a liveness probe that also says which node answered and how busy it is."""

from __future__ import annotations

import orjson
from aiohttp import web

import otp

__all__ = ["handler"]


async def handler(request: web.Request) -> web.Response:
    """``{"status": "ok", "node": ..., "uptime_s": ..., "processes": ...}``."""
    info = otp.node_info()
    body = {
        "status": "ok",
        "node": info["node"],
        "uptime_s": info["uptime_s"],
        "processes": info["processes"],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")
