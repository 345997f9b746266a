"""Typed keys of the aiohttp application: what handlers may read from ``request.app``."""

from __future__ import annotations

from aiohttp import web

from hearth.config import Config

__all__ = ["CONFIG"]

CONFIG = web.AppKey("config", Config)
"""The node's configuration, as read at start."""
