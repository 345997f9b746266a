"""Browser sessions: an encrypted cookie, a server-side row per signed-in session, and the
current user, loaded once per page request.

The cookie ``hearth_session`` holds a version byte, a 12-byte nonce and the AES-256-GCM
encryption of a small JSON payload, base64url-encoded::

    {"s": session token or null, "c": CSRF token, "f": [[kind, text], ...], "i": issued at}

GCM's tag is the signature: a cookie that was altered, cut short, sealed with another key or
older than ``auth.session_max_age`` does not open, and the request is simply anonymous. The
key is derived from the node's secret (HKDF-SHA256, with a label of its own), so no other
use of the secret can produce a valid cookie.

The session token names a row of ``sessions`` (``contexts.sessions``) by its sha256; the row
says whose session it is and until when, so a session can be ended wherever its cookie is:
logout deletes the row, a password reset deletes all of the user's. :func:`login` always
starts a new row and a new CSRF token (no session fixation).

:func:`middleware` (outside ``/api/``) puts the :class:`Session` in ``request[SESSION]``
and the signed-in ``User`` or ``None`` in ``request["user"]``, runs the CSRF checks
(``web.csrf``) for unsafe methods, and writes the cookie back only if the session changed.
A response that sets (or clears) the cookie, and an HTML page rendered for a signed-in user,
are sent with ``Cache-Control: no-store``.
Templates get ``current_user``, ``csrf_input()``, ``csrf_token()`` and
``get_flashed_messages()``; flashes (:func:`flash`) are shown by the next page rendered.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import math
import os
import time
import warnings
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contexts import sessions
from hearth.config import AuthConfig
from live.flash import FLASH_COOKIE, open_flash

from . import csrf
from .api.errors import is_api
from .keys import CONFIG, SECRET, USER

if TYPE_CHECKING:
    from contexts.accounts import User

__all__ = [
    "COOKIE",
    "SESSION",
    "Session",
    "current_user",
    "decode",
    "encode",
    "flash",
    "login",
    "logout",
    "middleware",
]

COOKIE = "hearth_session"
VERSION = 1
_LABEL = b"hearth session cookie v1"
_NONCE = 12
_MAX_FLASHES = 5

log = logging.getLogger(__name__)


class Session:
    """What the cookie carries. Handlers change it through :func:`flash`, :func:`login`
    and :func:`logout`, never by hand."""

    __slots__ = ("changed", "csrf", "flashes", "issued_at", "token")

    def __init__(
        self,
        token: str | None = None,
        csrf_token: str | None = None,
        flashes: list[tuple[str, str]] | None = None,
        issued_at: float | None = None,
    ) -> None:
        self.token = token
        self.csrf = csrf_token
        self.flashes = flashes or []
        self.issued_at = time.time() if issued_at is None else issued_at
        self.changed = False

    @property
    def empty(self) -> bool:
        """Nothing worth a cookie."""
        return self.token is None and self.csrf is None and not self.flashes

    def csrf_token(self) -> str:
        """The CSRF token, made on first use."""
        if self.csrf is None:
            self.csrf = csrf.new_token()
            self.changed = True
        return self.csrf


SESSION = web.RequestKey("session", Session)
"""Where :func:`middleware` leaves the request's :class:`Session`."""


# -- the cookie ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cipher(secret: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret)
    return AESGCM(key)


def _aad() -> bytes:
    # Binds the ciphertext to this cookie and version, beyond the key's own label.
    return bytes([VERSION]) + COOKIE.encode()


def encode(session: Session, secret: bytes) -> str:
    """The cookie value for ``session``, sealed with ``secret``."""
    payload = json.dumps(
        {"s": session.token, "c": session.csrf, "f": session.flashes, "i": session.issued_at},
        separators=(",", ":"),
    ).encode()
    nonce = os.urandom(_NONCE)
    sealed = bytes([VERSION]) + nonce + _cipher(secret).encrypt(nonce, payload, _aad())
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def decode(value: str, secret: bytes, max_age: float) -> Session | None:
    """The session in a cookie value, or ``None`` if it does not open: tampered, truncated,
    another key or version, malformed, or issued more than ``max_age`` seconds ago."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
    if len(raw) < 1 + _NONCE + 16 or raw[0] != VERSION:
        return None
    try:
        payload = _cipher(secret).decrypt(raw[1 : 1 + _NONCE], raw[1 + _NONCE :], _aad())
    except InvalidTag:
        return None
    # The payload is ours (it passed the tag), but stay strict: a shape from another
    # version of this code is no session rather than a crash.
    try:
        data = json.loads(payload)
        token, csrf_token, flashes, issued_at = data["s"], data["c"], data["f"], data["i"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (
        (token is None or isinstance(token, str))
        and (csrf_token is None or isinstance(csrf_token, str))
        and isinstance(issued_at, (int, float))
        and isinstance(flashes, list)
        and all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f)
            for f in flashes
        )
    ):
        return None
    if time.time() - issued_at > max_age:
        return None
    return Session(token, csrf_token, [(kind, text) for kind, text in flashes], issued_at)


def _secure(request: web.Request, auth: AuthConfig) -> bool:
    if auth.cookie_secure == "always":
        return True
    if auth.cookie_secure == "never":
        return False
    # "auto": only what aiohttp itself knows (TLS here, or a trusted proxy's
    # forwarded scheme applied with request.clone); a client's header is not proof.
    return request.secure


def _store(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    if response.prepared:  # streamed (a WebSocket, say): its headers are gone already
        return
    if session.changed:
        _write_cookie(request, response, session)
    if session.changed or (current_user(request) is not None
                           and response.content_type == "text/html"):
        # A page made for one person, or a response carrying their cookie, must not be
        # kept by a shared cache (or the browser's back button after logout) for the next.
        response.headers["Cache-Control"] = "no-store"


def _write_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    if session.empty:
        response.del_cookie(COOKIE, path="/")
        return
    auth = request.app[CONFIG].auth
    response.set_cookie(
        COOKIE,
        encode(session, request.app[SECRET]),
        max_age=math.ceil(auth.session_max_age),
        path="/",
        secure=_secure(request, auth),
        httponly=True,
        samesite="Lax",
    )


# -- what handlers use -----------------------------------------------------------------------


def current_user(request: web.Request) -> User | None:
    """The signed-in user of this page request, or ``None``."""
    user: User | None = request.get(USER)
    return user


def flash(request: web.Request, kind: str, text: str) -> None:
    """Show ``text`` on the next page rendered (this one, if it renders). ``kind``:
    ``"info"`` or ``"error"``."""
    session: Session = request[SESSION]
    session.flashes = [*session.flashes, (kind, text)][-_MAX_FLASHES:]
    session.changed = True


def take_flashes(request: web.Request) -> list[tuple[str, str]]:
    """The flashes waiting for this page, taken (a live page shows them itself)."""
    return _pop_flashes(request[SESSION])


def _pop_flashes(session: Session) -> list[tuple[str, str]]:
    flashes, session.flashes = session.flashes, []
    if flashes:
        session.changed = True
    return flashes


async def login(request: web.Request, user: User) -> None:
    """Sign ``user`` in: end the request's current session, if any, and start a new one
    with a new token and a new CSRF token; flashes carry over."""
    session: Session = request[SESSION]
    if session.token is not None:
        await sessions.delete(session.token)
    auth = request.app[CONFIG].auth
    session.token = await sessions.create(user.id, auth.session_max_age)
    session.csrf = csrf.new_token()
    session.issued_at = time.time()
    session.changed = True
    _set_user(request, user)


async def logout(request: web.Request) -> None:
    """End the request's session: its row is deleted and the cookie keeps only flashes."""
    session: Session = request[SESSION]
    if session.token is not None:
        await sessions.delete(session.token)
    session.token = None
    session.csrf = None
    session.issued_at = time.time()
    session.changed = True
    _set_user(request, None)


def _set_user(request: web.Request, user: User | None) -> None:
    request[USER] = user
    request[aiohttp_jinja2.REQUEST_CONTEXT_KEY]["current_user"] = user


# -- the middleware --------------------------------------------------------------------------


def _template_context(session: Session) -> dict[str, Any]:
    return {
        "current_user": None,
        "csrf_token": session.csrf_token,
        "csrf_input": lambda: csrf.input_tag(session.csrf_token()),
        "get_flashed_messages": lambda: _pop_flashes(session),
    }


def _forbidden(request: web.Request) -> web.Response:
    response: web.Response = aiohttp_jinja2.render_template(
        "forbidden.html", request, {}, status=403
    )
    return response


_NO_SESSION = "__hearth_no_session__"


def without_session(handler: Handler) -> Handler:
    """``handler``, for a route the session middleware leaves alone (the sockets): no
    session is loaded, no cookie written, no CSRF check (the route checks its callers)."""
    setattr(handler, _NO_SESSION, True)
    return handler


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loads the session and the current user once per page request; checks CSRF; writes
    the cookie back when the session changed; keeps private answers out of caches."""
    if is_api(request) or getattr(request.match_info.handler, _NO_SESSION, False):
        return await handler(request)
    auth = request.app[CONFIG].auth
    session: Session | None = None
    cookie = request.cookies.get(COOKIE)
    if cookie is not None:
        session = decode(cookie, request.app[SECRET], auth.session_max_age)
    if session is None:
        session = Session()
        # A cookie that does not open is replaced (or removed), not sent back forever.
        session.changed = cookie is not None
    user = None
    if session.token is not None:
        user = await sessions.lookup(session.token)
        if user is None:  # ended (logout elsewhere, reset) or expired
            session.token = None
            session.changed = True
    carried = request.cookies.get(FLASH_COOKIE)
    if carried is not None:
        # A live view's redirect: its flash rides a cookie the client set for this request.
        for kind, text in open_flash(request.app[SECRET], carried).items():
            session.flashes = [*session.flashes, (kind, text)][-_MAX_FLASHES:]
            session.changed = True
    request[SESSION] = session
    with warnings.catch_warnings():
        # aiohttp_jinja2 reads its context under a plain string key; nothing to fix on our side.
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        request[aiohttp_jinja2.REQUEST_CONTEXT_KEY] = _template_context(session)
    _set_user(request, user)

    if not await csrf.verify(request, session.csrf):
        log.info("refused %s %s: CSRF check failed", request.method, request.path)
        response: web.StreamResponse = _forbidden(request)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Redirects are raised; they carry flashes and new sessions too.
            _store(request, exc, session)
            if carried is not None:
                exc.del_cookie(FLASH_COOKIE)
            raise
    _store(request, response, session)
    if carried is not None:
        response.del_cookie(FLASH_COOKIE)
    return response
