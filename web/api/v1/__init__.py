"""The JSON API, version 1 (stub: filled in by the API auth work)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_routes"]


def add_routes(router: web.UrlDispatcher) -> None:
    """The ``/api/v1`` routes."""
