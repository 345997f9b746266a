"""Cross-site request forgery: a state-changing page request must prove it came from our page.

Two checks, both required for ``POST``/``PUT``/``PATCH``/``DELETE`` outside ``/api/``
(:func:`web.session.middleware` runs them before the handler; a failure is a 403 page and
the handler never runs):

- the request carries the session's CSRF token, in the form field ``_csrf`` (templates
  write it with ``{{ csrf_input() }}``) or the header ``X-CSRF-Token`` (for scripts, which
  read it from ``<meta name="csrf-token">``);
- its ``Origin`` header, or failing that its ``Referer``, when present, names this host.

API requests authenticate with bearer tokens and keys, which a browser never attaches on
its own, so they need neither. A page handler that must accept cross-site posts (a
transport with its own origin check) is marked :func:`exempt`.
"""

from __future__ import annotations

import functools
import hmac
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler
from markupsafe import Markup, escape
from yarl import URL

__all__ = ["FIELD", "HEADER", "SAFE_METHODS", "exempt", "input_tag", "new_token", "verify"]

FIELD = "_csrf"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_EXEMPT_ATTR = "__hearth_csrf_exempt__"


def new_token() -> str:
    """A fresh random token, for a new session."""
    return secrets.token_urlsafe(32)


def input_tag(token: str) -> Markup:
    """The hidden form field that carries ``token``."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(token))


def exempt(handler: Handler) -> Handler:
    """``handler``, for a route whose unsafe requests skip the CSRF checks; it must check
    the origin itself."""

    @functools.wraps(handler)
    async def unchecked(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    setattr(unchecked, _EXEMPT_ATTR, True)
    return unchecked


async def verify(request: web.Request, expected: str | None) -> bool:
    """Whether ``request`` may change state: safe methods and exempt handlers always may;
    others need ``expected`` (the session's token) and a same-host origin."""
    if request.method in SAFE_METHODS:
        return True
    if getattr(request.match_info.handler, _EXEMPT_ATTR, False):
        return True
    if not _same_origin(request):
        return False
    if not expected:
        return False
    sent = request.headers.get(HEADER)
    if sent is None and request.content_type in _FORM_TYPES:
        # aiohttp keeps the parsed form, so the handler's own ``await request.post()``
        # reads it again without touching the body.
        value = (await request.post()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        origin = request.headers.get("Referer")
        if origin is None:
            # Browsers send at least one of them on a cross-site post; a request with
            # neither is not a browser acting for another site, and still needs the token.
            return True
    try:
        source = URL(origin)
        # The Host header has no scheme: a port it leaves out is the origin's default.
        here = URL.build(scheme=source.scheme, authority=request.host) if source.scheme else None
    except ValueError:
        return False
    # "null" (a sandboxed or file page) has no host and so matches nothing.
    return (
        here is not None
        and source.host is not None
        and (source.host, source.port) == (here.host, here.port)
    )
