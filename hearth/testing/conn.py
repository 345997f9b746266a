"""ConnCase: an HTTP client for a node under test, and Phoenix's readers of what it answered.

A :class:`Conn` is one browser (or one API client): its own cookie jar, so a session made by
logging in holds for the requests after it, and its CSRF token, sent with every unsafe
request to a page (as the form's ``_csrf`` field, or the ``X-CSRF-Token`` header without a
form), read from the session cookie the node sealed (not to ``/api/`` or ``/_admin/``, which
take tokens instead). Requests go over real HTTP to the node's real endpoint; redirects are
not followed unless ``follow=True``::

    async def test_creates_post_and_redirects(conn):
        await log_in(conn, await insert("user"))
        resp = await conn.post("/posts", {"title": "Hello", "body": "World"})
        assert redirected_to(resp).startswith("/posts/")
        assert get_flash(resp, "info") == "Post created."

The readers fail with what was answered instead (the status, where it redirects, the start
of the body), so a failing test says what the page did: :func:`html_response`,
:func:`json_response`, :func:`text_response`, :func:`problem_response` (the API's
``application/problem+json``), :func:`redirected_to` and :func:`get_flash`.
"""

from __future__ import annotations

import html as html_module
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol

import aiohttp
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from contexts import api_keys, sessions
from contexts.accounts import User
from hearth.config import Config
from web import csrf
from web import session as web_session
from web.api.errors import PROBLEM_JSON
from web.session import COOKIE

from .node import PASSWORD, TestNode, current_node

__all__ = [
    "Conn",
    "Response",
    "Served",
    "api_conn",
    "get_flash",
    "html_response",
    "json_response",
    "log_in",
    "log_in_with_password",
    "problem_response",
    "redirected_to",
    "text_response",
    "with_api_key",
]

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TOKEN_AUTHED = ("/api/", "/_admin/")
"""Paths whose unsafe requests authenticate with a token: no CSRF token is sent to them."""
_FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)
_USER = re.compile(r'class="current-user">(.*?)</a>', re.S)
_FIELD_ERROR = re.compile(r'<span class="field-error" data-field="(\w+)">(.*?)</span>', re.S)
_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_SHOWN = 300


@dataclass(frozen=True)
class Response:
    """One answer, read: its status, headers and body (parsed when it is JSON)."""

    status: int
    headers: CIMultiDictProxy[str]
    raw: bytes
    session: web_session.Session | None
    """The session the answer's ``Set-Cookie`` carries, opened with the node's key."""

    @property
    def text(self) -> str:
        return self.raw.decode(errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    @property
    def body(self) -> Any:
        """The parsed JSON for a JSON answer (``None`` when empty), else the text."""
        if self.content_type.endswith("json"):
            return orjson.loads(self.raw) if self.raw else None
        return self.text

    def json(self) -> Any:
        return orjson.loads(self.raw)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @property
    def code(self) -> str | None:
        """The API error code, if this is a problem document."""
        if self.content_type == PROBLEM_JSON:
            code: str = self.json()["code"]
            return code
        return None

    @property
    def detail(self) -> str:
        """The problem document's message for people."""
        assert self.code is not None, describe(self)
        detail: str = self.json()["detail"]
        return detail

    # -- what a page shows -----------------------------------------------------------------

    @property
    def flashes(self) -> list[tuple[str, str]]:
        """The flashes this answer carries: put in its session for the next page (a redirect),
        or shown on the page it rendered."""
        if self.session is not None and self.session.flashes:
            return list(self.session.flashes)
        return [(kind, html_module.unescape(text)) for kind, text in _FLASH.findall(self.text)]

    @property
    def user(self) -> str | None:
        """The display name the layout shows as signed in, or ``None``."""
        found = _USER.search(self.text)
        return html_module.unescape(found.group(1)) if found else None

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """A form's errors by field, as the page shows them."""
        errors: dict[str, list[str]] = {}
        for name, text in _FIELD_ERROR.findall(self.text):
            errors.setdefault(name, []).append(html_module.unescape(text))
        return errors

    @property
    def csrf_meta(self) -> str | None:
        """The page's ``<meta name="csrf-token">``, what its scripts send."""
        found = _META.search(self.text)
        return html_module.unescape(found.group(1)) if found else None

    @property
    def set_cookie(self) -> str | None:
        """The ``Set-Cookie`` header for the session cookie, if any."""
        for value in self.headers.getall("Set-Cookie", []):
            if value.startswith(f"{COOKIE}="):
                return value
        return None

    def __repr__(self) -> str:
        return f"<Response {describe(self)}>"


def describe(resp: Response) -> str:
    """The status, where it redirects, and the start of the body: what a failure shows."""
    said = f"status {resp.status}"
    if resp.location:
        said += f" (Location: {resp.location})"
    if resp.content_type:
        said += f", {resp.content_type}"
    body = resp.text.strip()
    if body:
        said += f", body starts: {body[:_SHOWN]!r}"
    return said


class Served(Protocol):
    """What a client needs of a node: where it listens and its configuration (its secret
    key opens and seals the session cookie). A :class:`TestNode`, or a node served in
    another process whose configuration the test wrote."""

    @property
    def url(self) -> str: ...

    @property
    def config(self) -> Config: ...


class Conn:
    """A client of ``node`` with its own cookies (and ``headers`` sent on every request).
    ``auto_decompress=False`` keeps each answer's body as sent (gzip and all)."""

    def __init__(self, node: Served, headers: Mapping[str, str] | None = None, *,
                 auto_decompress: bool = True) -> None:
        self.node = node
        self.secret = node.config.auth.secret_key.encode()
        self.headers = dict(headers or {})
        self.http = aiohttp.ClientSession(
            base_url=node.url, cookie_jar=aiohttp.CookieJar(unsafe=True),
            auto_decompress=auto_decompress,
        )

    async def __aenter__(self) -> Conn:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()

    def put_req_header(self, name: str, value: str) -> Conn:
        """Send ``name: value`` with every request from now on; returns this conn."""
        self.headers[name] = value
        return self

    # -- the session -----------------------------------------------------------------------

    @property
    def cookie(self) -> str | None:
        """The session cookie's value, as the jar holds it."""
        for morsel in self.http.cookie_jar:
            if morsel.key == COOKIE:
                return morsel.value
        return None

    @cookie.setter
    def cookie(self, value: str | None) -> None:
        self.http.cookie_jar.clear(lambda m: m.key == COOKIE)
        if value is not None:
            self.http.cookie_jar.update_cookies({COOKIE: value}, URL(self.node.url))

    @property
    def session(self) -> web_session.Session | None:
        """The session in the jar's cookie, opened with the node's key."""
        return self._open(self.cookie)

    async def csrf_token(self) -> str:
        """The session's CSRF token. A session without one gets one as the node's first
        page would give it, sealed into the cookie here: no request is made, so no flash
        waiting in the session is shown (and spent) on the way."""
        session = self.session
        if session is None:
            session = web_session.Session(None, None, [], time.time())
        if session.csrf is None:
            session.csrf = csrf.new_token()
            self.cookie = web_session.encode(session, self.secret)
        return session.csrf

    # -- requests --------------------------------------------------------------------------

    async def get(self, path: str, *, params: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None, follow: bool = False) -> Response:
        return await self.request("GET", path, params=params, headers=headers, follow=follow)

    async def head(self, path: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return await self.request("HEAD", path, headers=headers)

    async def post(self, path: str, form: Mapping[str, str] | None = None,
                   **kw: Any) -> Response:
        """POST a form (``form``), or ``json=``/``data=``."""
        return await self.request("POST", path, form=form, **kw)

    async def put(self, path: str, form: Mapping[str, str] | None = None,
                  **kw: Any) -> Response:
        return await self.request("PUT", path, form=form, **kw)

    async def patch(self, path: str, form: Mapping[str, str] | None = None,
                    **kw: Any) -> Response:
        return await self.request("PATCH", path, form=form, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        api_key: str | None = None,
        csrf: str | None = None,
        follow: bool = False,
    ) -> Response:
        """One request. An unsafe one to a page (not under ``/api/`` or ``/_admin/``) carries
        the session's CSRF token unless ``csrf`` is given (``""``: none at all, as a forged
        form sends). ``token`` and ``api_key`` authenticate a request for this call only."""
        sent = {**self.headers, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if api_key is not None:
            sent["X-API-Key"] = api_key
        body: Any = data
        if form is not None:
            body = dict(form)
        if method.upper() in _UNSAFE and not path.startswith(_TOKEN_AUTHED):
            chosen = await self.csrf_token() if csrf is None else csrf
            if chosen and isinstance(body, dict):
                body.setdefault("_csrf", chosen)
            elif chosen:
                sent.setdefault("X-CSRF-Token", chosen)
        async with self.http.request(method, path, data=body, json=json, params=params,
                                     headers=sent, allow_redirects=False) as answer:
            raw = await answer.read()
            resp = Response(answer.status, answer.headers, raw,
                            self._open(answer.cookies[COOKIE].value
                                       if COOKIE in answer.cookies else None))
        if follow and resp.location is not None and 300 <= resp.status < 400:
            return await self.get(resp.location, follow=True)
        return resp

    def _open(self, value: str | None) -> web_session.Session | None:
        if not value:
            return None
        return web_session.decode(value, self.secret, self.node.config.auth.session_max_age)


# -- signing in ----------------------------------------------------------------------------------


async def log_in(conn: Conn, user: User) -> Conn:
    """Sign ``user`` in on ``conn`` with a real session, as the login page makes one: a
    session row and the sealed cookie (no password, no login throttle); returns ``conn``."""
    auth = conn.node.config.auth
    token = await sessions.create(user.id, auth.session_max_age)
    session = web_session.Session(token, csrf.new_token(), [], time.time())
    conn.cookie = web_session.encode(session, conn.secret)
    return conn


async def log_in_with_password(conn: Conn, email: str, password: str = PASSWORD) -> Response:
    """Post the login form, as a person does (throttles and all); the answer, unfollowed."""
    return await conn.post("/login", {"email": email, "password": password})


async def api_conn(user: User, node: TestNode | None = None) -> Conn:
    """A new client for the API with an access token of ``user`` (a real token family,
    as ``POST /api/v1/auth/token`` issues)."""
    node = node or current_node()
    pair = await node.tokens.issue(user)
    return Conn(node, {"Authorization": f"Bearer {pair.access_token}"})


async def with_api_key(user: User, node: TestNode | None = None, name: str = "test") -> Conn:
    """A new client for the API with a new API key of ``user`` (in ``X-API-Key``)."""
    node = node or current_node()
    _key, secret = await api_keys.create_key(user.id, name)
    return Conn(node, {"X-API-Key": secret})


# -- reading answers ---------------------------------------------------------------------------


def _expect(resp: Response, status: int, kind: str, types: tuple[str, ...]) -> None:
    """Fails unless ``resp`` is ``status`` and of one of ``types``; ``*`` in a type matches
    any run of characters (``application/*+json``)."""
    if resp.status != status or not any(fnmatchcase(resp.content_type, t) for t in types):
        raise AssertionError(f"expected {kind} with status {status}, got {describe(resp)}")


def html_response(resp: Response, status: int) -> str:
    """The page's HTML, once its status is ``status`` and it is ``text/html``."""
    _expect(resp, status, "an HTML response", ("text/html",))
    return resp.text


def text_response(resp: Response, status: int) -> str:
    """The body as text, once the status is ``status`` and it is ``text/plain``."""
    _expect(resp, status, "a text response", ("text/plain",))
    return resp.text


def json_response(resp: Response, status: int) -> Any:
    """The parsed JSON, once the status is ``status`` and the body is JSON: ``application/json``
    or any ``application/...+json`` (a problem document, a versioned type of the API)."""
    _expect(resp, status, "a JSON response", ("application/json", "application/*+json"))
    return resp.json()


def problem_response(resp: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The API's problem document (RFC 9457), once the status is ``status`` (and its
    ``code`` is ``code``, when given): what Phoenix's ``assert_error_sent`` checks."""
    _expect(resp, status, "a problem document", (PROBLEM_JSON,))
    problem: dict[str, Any] = resp.json()
    if code is not None and problem.get("code") != code:
        raise AssertionError(f"expected the problem {code!r}, got {describe(resp)}")
    return problem


def redirected_to(resp: Response, status: int | None = None) -> str:
    """Where the answer redirects (its ``Location``), once it is a redirect (with
    ``status``, when given)."""
    redirect = resp.location is not None and 300 <= resp.status < 400
    if not redirect or (status is not None and resp.status != status):
        wanted = f"a redirect with status {status}" if status else "a redirect"
        raise AssertionError(f"expected {wanted}, got {describe(resp)}")
    assert resp.location is not None
    return resp.location


def get_flash(resp: Response, kind: str) -> str | None:
    """The flash of ``kind`` (``"info"``, ``"error"``) the answer carries, or ``None``."""
    texts = [text for flash_kind, text in resp.flashes if flash_kind == kind]
    return texts[-1] if texts else None
