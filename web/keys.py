"""Typed keys: what handlers may read from ``request.app`` and from the request itself."""

from __future__ import annotations

from aiohttp import web

from contexts.accounts import Accounts, User
from contexts.oauth import OAuth
from contexts.tokens import Tokens
from hearth.config import Config

__all__ = ["ACCOUNTS", "CONFIG", "OAUTH", "SECRET", "TOKENS", "USER"]

ACCOUNTS = web.AppKey("accounts", Accounts)
"""The accounts context (``contexts.accounts``): register, authenticate, reset passwords."""

CONFIG = web.AppKey("config", Config)
"""The node's configuration, as read at start."""

OAUTH = web.AppKey("oauth", OAuth)
"""The social login providers (``contexts.oauth``) of ``[oauth.providers]``."""

SECRET = web.AppKey("secret", bytes)
"""The node's secret key (``hearth.secrets.load_secret_key``): never log it."""

TOKENS = web.AppKey("tokens", Tokens)
"""The API token signer and verifier (``contexts.tokens``), keys read once at start."""

USER: web.RequestKey[User | None] = web.RequestKey("user")
"""The signed-in user of this request (``None``: anonymous), set once per request by the
session middleware (pages) or the API auth middleware (``/api/``)."""
