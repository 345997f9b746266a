"""Server-rendered HTML pages (stub: filled in by the accounts work)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_routes", "setup"]


def setup(app: web.Application) -> None:
    """Templates and whatever the pages need on the application."""


def add_routes(router: web.UrlDispatcher) -> None:
    """The HTML routes."""
