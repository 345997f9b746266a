"""Typed keys of the aiohttp application: what handlers may read from ``request.app``."""

from __future__ import annotations

from aiohttp import web

from contexts.accounts import Accounts
from contexts.tokens import Tokens
from hearth.config import Config

__all__ = ["ACCOUNTS", "CONFIG", "SECRET", "TOKENS"]

ACCOUNTS = web.AppKey("accounts", Accounts)
"""The accounts context (``contexts.accounts``): register, authenticate, reset passwords."""

CONFIG = web.AppKey("config", Config)
"""The node's configuration, as read at start."""

SECRET = web.AppKey("secret", bytes)
"""The node's secret key (``hearth.secrets.load_secret_key``): never log it."""

TOKENS = web.AppKey("tokens", Tokens)
"""The API token signer and verifier (``contexts.tokens``), keys read once at start."""
