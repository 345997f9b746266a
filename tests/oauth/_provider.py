"""The real OpenID provider of the social login tests (``provider.mjs``, npm ``oidc-provider``)
and a browser that signs in through it.

:func:`start_provider` runs ``node tests/oauth/provider.mjs`` and returns once the provider
has printed the line saying where it serves; :class:`Browser` is one person's browser: the
testing kit's :class:`~hearth.testing.Conn` for Hearth (its cookies, its CSRF token) and a
cookie-keeping aiohttp session for the provider, following the provider's redirects as a
browser does and stopping where it sends the browser back to Hearth.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from hearth.testing import Conn, Response, TestNode

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT = HERE / "provider.mjs"
READY_TIMEOUT = 30.0
SECRETS = {
    "hearth-basic": "basic-client-secret-of-the-tests",
    "hearth-post": "post-client-secret-of-the-tests",
    "hearth-github": "github-client-secret-of-the-tests",
}
"""The confidential clients' secrets, as ``provider.mjs`` registers them."""

_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"')
_ABORT = re.compile(r'<a href="([^"]*/abort)"')


@dataclass(frozen=True)
class RunningProvider:
    issuer: str
    process: subprocess.Popen[bytes]

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@contextmanager
def start_provider(redirect_base: str, log_path: Path) -> Iterator[RunningProvider]:
    """The provider, its clients' redirect URIs under ``redirect_base``; its stderr goes to
    ``log_path``. Stopped when the block ends."""
    node = shutil.which("node")
    assert node, "node is not installed (.ci/run installs it)"
    assert (REPO / "node_modules" / "oidc-provider").is_dir(), "run `npm ci` (make test does)"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, str(SCRIPT)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log, env={**os.environ, "REDIRECT_BASE": redirect_base},
        )
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT)
            line = process.stdout.readline() if ready else b""
            assert line, f"the provider did not start: {log_path.read_text()}"
            yield RunningProvider(json.loads(line)["issuer"], process)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Browser:
    """One person's browser: Hearth's pages through ``conn``, the provider's through a
    session of its own (cookies are per site either way)."""

    def __init__(self, node: TestNode) -> None:
        self.node = node
        self.conn = Conn(node)
        self.provider = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()
        await self.provider.close()

    def sign_out_at_provider(self) -> None:
        """Forget the provider's session, as signing out there does."""
        self.provider.cookie_jar.clear()

    async def start(self, provider: str, next_path: str | None = None,
                    page: str = "/login") -> str:
        """Press "Log in with ..." (or "Link ...") on ``page``: where Hearth sends us."""
        await self.conn.get(page)
        form = {"next": next_path} if next_path is not None else {}
        sent = await self.conn.post(f"/auth/{provider}", form)
        assert sent.status == 303 and sent.location, sent
        return sent.location

    async def at_provider(self, url: str, login: str, *, consent: bool = True) -> str:
        """Follow ``url`` at the provider, sign in as ``login``, then consent (or cancel):
        the URL of Hearth's callback the provider sends the browser to."""
        while True:
            async with self.provider.get(url, allow_redirects=False) as page:
                body = await page.text()
                location = page.headers.get("Location")
            if location is not None:
                url = str(URL(url).join(URL(location)))
                if url.startswith(self.node.url):
                    return url
                continue
            assert page.status == 200, (page.status, body[:500])
            action = _FORM_ACTION.search(body)
            assert action, body[:500]
            submit = str(URL(url).join(URL(action.group(1))))
            if 'name="prompt" value="login"' in body:
                form = {"prompt": "login", "login": login, "password": "any"}
            elif not consent:
                abort = _ABORT.search(body)
                assert abort, body[:500]
                url = str(URL(url).join(URL(abort.group(1))))
                continue
            else:
                form = {"prompt": "consent"}
            async with self.provider.post(submit, data=form, allow_redirects=False) as done:
                location = done.headers.get("Location")
                assert location, (done.status, (await done.text())[:500])
            url = str(URL(submit).join(URL(location)))
            if url.startswith(self.node.url):
                return url

    async def back_at_hearth(self, callback_url: str) -> Response:
        """The browser arriving at Hearth's callback: Hearth's answer, not followed."""
        return await self.conn.get(str(URL(callback_url).relative()))

    async def sign_in(self, provider: str, login: str, next_path: str | None = None,
                      page: str = "/login") -> Response:
        """The whole round: start, sign in and consent at the provider, back at Hearth."""
        url = await self.start(provider, next_path, page)
        return await self.back_at_hearth(await self.at_provider(url, login))
