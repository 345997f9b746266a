"""Fixtures of the social login tests: one real OpenID provider per module, and a node whose
``[oauth]`` names it.

The node's providers (each a client registered in ``provider.mjs``):

- ``basic``: OpenID, confidential, ``client_secret_basic``; its token endpoint is reached
  through :class:`TokenProxy`, which passes everything on unless a test tells it to hold
  the answer (a slow provider) or to change the ID token in it (a tampered token);
- ``post``: OpenID, confidential, ``client_secret_post``;
- ``public``: OpenID, a public client (no secret: PKCE alone);
- ``github``: the GitHub preset (plain OAuth 2.0, the user and emails from its API), with
  the provider's endpoints and its GitHub-shaped API;
- ``down``: an OpenID provider on a port where nothing listens.

Settings of ``@pytest.mark.hearth_config`` win over these (``oauth.timeout``, say).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import ClientSession, web

from hearth.testing.node import dotted
from hearth.testing.ports import free_port

from ._provider import SECRETS, RunningProvider, start_provider


@pytest.fixture(scope="module")
def hearth_port() -> int:
    """The port the module's nodes serve on: the provider knows their redirect URIs."""
    return free_port()


@pytest.fixture(scope="module")
def oidc(hearth_port: int, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RunningProvider]:
    """The module's OpenID provider (``node tests/oauth/provider.mjs``)."""
    log = tmp_path_factory.mktemp("oidc-provider") / "stderr.log"
    with start_provider(f"http://127.0.0.1:{hearth_port}", log) as provider:
        yield provider


class TokenProxy:
    """An HTTP proxy in front of the provider's token endpoint. ``mode``: ``"pass"`` (as it
    is), ``"hold"`` (never answers: a provider too slow) or ``"tamper"`` (the ID token's
    payload changed, its signature kept)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.url = ""
        self.released = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.mode == "hold":
            await self.released.wait()
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "content-type", "accept")}
        async with ClientSession() as http, http.post(self.upstream, data=body,
                                                      headers=headers) as answer:
            status, raw = answer.status, await answer.read()
            content_type = answer.headers.get("Content-Type", "application/json")
        if self.mode == "tamper" and status == 200:
            token = orjson.loads(raw)
            token["id_token"] = tamper(token["id_token"], email="victim@example.com")
            raw = orjson.dumps(token)
        return web.Response(status=status, body=raw, headers={"Content-Type": content_type})


def tamper(id_token: str, **claims: Any) -> str:
    """``id_token`` with ``claims`` changed in its payload, and its signature left as it was."""
    header, payload, signature = id_token.split(".")
    data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    changed = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
    return f"{header}.{changed}.{signature}"


@pytest_asyncio.fixture
async def token_proxy(oidc: RunningProvider) -> AsyncIterator[TokenProxy]:
    proxy = TokenProxy(f"{oidc.issuer}/token")
    app = web.Application()
    app.router.add_post("/token", proxy.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    proxy.url = f"http://127.0.0.1:{port}/token"
    try:
        yield proxy
    finally:
        proxy.released.set()
        await runner.cleanup()


@pytest.fixture
def hearth_overrides(request: pytest.FixtureRequest, oidc: RunningProvider, hearth_port: int,
                     token_proxy: TokenProxy) -> dict[str, Any]:
    discovery = oidc.discovery_url
    settings: dict[str, Any] = {
        "server.port": hearth_port,
        "oauth.basic_label": "Local ID",
        "oauth.basic_discovery_url": discovery,
        "oauth.basic_client_id": "hearth-basic",
        "oauth.basic_client_secret": SECRETS["hearth-basic"],
        "oauth.basic_token_auth_method": "client_secret_basic",
        "oauth.basic_token_url": token_proxy.url,
        "oauth.post_label": "Local ID (post)",
        "oauth.post_discovery_url": discovery,
        "oauth.post_client_id": "hearth-post",
        "oauth.post_client_secret": SECRETS["hearth-post"],
        "oauth.post_token_auth_method": "client_secret_post",
        "oauth.public_label": "Local ID (public)",
        "oauth.public_discovery_url": discovery,
        "oauth.public_client_id": "hearth-public",
        "oauth.github_client_id": "hearth-github",
        "oauth.github_client_secret": SECRETS["hearth-github"],
        "oauth.github_authorize_url": f"{oidc.issuer}/auth",
        "oauth.github_token_url": f"{oidc.issuer}/token",
        "oauth.github_api_url": f"{oidc.issuer}/_github",
        "oauth.down_label": "Down ID",
        "oauth.down_discovery_url":
            f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
        "oauth.down_client_id": "hearth-basic",
    }
    # The markers again, over these (the kit lets this fixture win over them).
    for marker in reversed(list(request.node.iter_markers("hearth_config"))):
        for given in marker.args:
            settings.update(given)
        settings.update(dotted(marker.kwargs))
    return settings
