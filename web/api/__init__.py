"""The JSON API: every route (``routes``), its handlers (``posts``, ``rooms``, ``tokens``,
...), and what they share: errors (``errors``), request bodies (``params``), authentication
(``auth``), guards (``guards``), quotas (``quota``), versions (``versions``) and the shapes
of each (``views``), pagination (``pagination``), ETags and gzip (``conditional``), kept
answers (``cache``) and the OpenAPI document (``openapi``).

:func:`setup` puts on the application what the API needs for its whole life; it runs in
``web.endpoint.build_app``, so a missing signing key stops the start. ``hearth serve`` runs
the same key loader earlier (``contexts.tokens.check_keys``), and exits with status 2 before
the tree starts.
"""

from __future__ import annotations

from aiohttp import web

from contexts.tokens import Tokens

from ..keys import CONFIG, SECRET, TOKENS
from .cache import ANSWERS, Answers

__all__ = ["setup"]


def setup(app: web.Application) -> None:
    """Make the token signer (reading its keys) and the answer cache once; raises
    ``ConfigError`` if a key named in ``[auth]`` is missing or unusable."""
    app[TOKENS] = Tokens(app[CONFIG].auth, app[SECRET])
    app[ANSWERS] = Answers()
