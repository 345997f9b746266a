"""A running node and a browser for page tests: real tree, real HTTP, a cookie jar.

``running_node`` starts the whole root tree on a temporary database and a free port (bcrypt
at cost 4, no demo data) and stops it on the way out; a context manager rather than a
fixture, because the tree's parent is the task that starts it. ``Browser`` keeps cookies
like a browser does and, like a person, submits forms from the last page it loaded: each
HTML page's ``<meta name="csrf-token">`` is remembered and posted as ``_csrf``.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

import otp
from contexts.accounts import Accounts
from hearth.config import Config, load_config
from otp import Down
from supervisors.root import root_spec
from web.endpoint import Endpoint
from web.session import COOKIE

PASSWORD = "correct horse battery"
SECRET_KEY = "s" * 40

_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)
_USER = re.compile(r'class="current-user">(.*?)</a>', re.S)
_FIELD_ERROR = re.compile(r'<span class="field-error" data-field="(\w+)">(.*?)</span>', re.S)


@dataclass
class Node:
    """A running node: where it listens and how it was configured."""

    url: str
    config: Config

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.config.auth)


@asynccontextmanager
async def running_node(tmp_path: Path, **overrides: Any) -> AsyncIterator[Node]:
    """The root tree on ``tmp_path``; ``overrides`` are config keys (``"auth.x": v``)."""
    settings: dict[str, Any] = {
        "server.port": 0,
        "server.access_log": "0",
        "database.path": str(tmp_path / "hearth.db"),
        "auth.secret_key": SECRET_KEY,
        "auth.bcrypt_cost": 4,
        "demo.seed": "0",
    }
    settings.update(overrides)
    config = load_config(env={}, overrides=settings)
    otp.trap_exit(True)
    root = await root_spec(config).start()
    assert root is not None
    try:
        host, port = await Endpoint.address()
        yield Node(f"http://{host}:{port}", config)
    finally:
        ref = otp.monitor(root)
        otp.exit(root, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is Down and m.ref == ref)


@dataclass
class Page:
    """One response, as a test looks at it."""

    status: int
    text: str
    headers: CIMultiDictProxy[str]

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @property
    def flashes(self) -> list[tuple[str, str]]:
        return [(kind, html.unescape(text)) for kind, text in _FLASH.findall(self.text)]

    @property
    def user(self) -> str | None:
        """The display name the layout shows as signed in, or ``None``."""
        found = _USER.search(self.text)
        return html.unescape(found.group(1)) if found else None

    @property
    def field_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for name, text in _FIELD_ERROR.findall(self.text):
            errors.setdefault(name, []).append(html.unescape(text))
        return errors

    @property
    def set_cookie(self) -> str | None:
        """The ``Set-Cookie`` header for the session cookie, if any."""
        for value in self.headers.getall("Set-Cookie", []):
            if value.startswith(f"{COOKIE}="):
                return value
        return None


class Browser:
    """One browser: its own cookie jar, its own CSRF token."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.http = aiohttp.ClientSession(
            base_url=node.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.csrf: str | None = None

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    # -- cookies ---------------------------------------------------------------------------

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

    # -- requests ------------------------------------------------------------------------

    async def get(self, path: str, *, follow: bool = False) -> Page:
        return await self._request("GET", path, follow=follow)

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: str | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = False,
    ) -> Page:
        """Submit a form; its ``_csrf`` is the last page's token unless ``csrf`` is given
        (``""``: none at all)."""
        form = dict(data or {})
        token = self.csrf if csrf is None else csrf
        if token:
            form["_csrf"] = token
        return await self._request("POST", path, data=form, headers=headers, follow=follow)

    async def _request(self, method: str, path: str, *, follow: bool, **kw: Any) -> Page:
        async with self.http.request(method, path, allow_redirects=False, **kw) as response:
            page = Page(response.status, await response.text(), response.headers)
        found = _META.search(page.text)
        if found:
            self.csrf = html.unescape(found.group(1))
        if follow and page.location is not None and 300 <= page.status < 400:
            return await self.get(page.location, follow=True)
        return page

    # -- what a person does ----------------------------------------------------------------

    async def register(
        self, email: str, display_name: str = "", password: str = PASSWORD
    ) -> Page:
        """Register ``email`` and log in with it, as a new user does; the page after."""
        await self.get("/register")
        await self.post(
            "/register",
            {"email": email, "display_name": display_name or email.split("@")[0],
             "password": password},
        )
        return await self.log_in(email, password)

    async def log_in(self, email: str, password: str = PASSWORD, *, follow: bool = True) -> Page:
        await self.get("/login")
        return await self.post(
            "/login", {"email": email, "password": password}, follow=follow
        )

    async def log_out(self) -> Page:
        await self.get("/")
        return await self.post("/logout", follow=True)


async def user_with_role(node: Node, email: str, role: str) -> None:
    """Register ``email`` (through the pages) and give it ``role``."""
    async with Browser(node) as browser:
        page = await browser.register(email)
        assert page.user is not None, page.text
    if role != "user":
        await node.accounts.set_role(email, role)
