"""Every route of the endpoint, in one place: the table of contents of the web layer."""

from __future__ import annotations

from aiohttp import web

from . import admin, assets, health, pages
from .api import routes as api_routes

__all__ = ["add_routes"]


def add_routes(router: web.UrlDispatcher) -> None:
    """Attach each handler to its method and path."""
    router.add_get("/health", health.handler)
    router.add_get("/assets/{name}", assets.serve)
    pages.add_routes(router)
    api_routes.add_routes(router)
    admin.add_routes(router)
