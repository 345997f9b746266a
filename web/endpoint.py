"""The Endpoint: the process that owns the HTTP server.

Its ``init`` builds the aiohttp application, binds ``server.host``/``server.port`` (port 0
picks a free port) and logs ``listening on http://host:port`` with the port actually bound;
:meth:`Endpoint.address` answers the same question for code. ``terminate`` stops accepting
connections and gives requests in flight ``server.shutdown_timeout`` seconds to finish; a
linked holder process closes the server when the Endpoint is killed instead, so a restarted
Endpoint finds its port free. The root supervisor starts it last and so stops it first:
nothing is served before the processes behind it are up, and nothing they own disappears
under a request still being answered.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from aiohttp import web

import otp
from actors.user_socket import UserSocket
from contexts.accounts import Accounts
from contexts.oauth import OAuth
from hearth.behaviours import implementation
from hearth.config import Config
from hearth.secrets import load_secret_key
from hearth.storage import LOCAL_URL_PREFIX, LocalStorage, storage_for
from live.channel import LiveContext
from live.http import mount_live
from live.router import LiveRouter
from otp import Exit, From, GenServer, Ok, Pid, Reply, Stop

from . import api, pages, session
from .api import pipeline
from .keys import ACCOUNTS, CONFIG, OAUTH, SECRET, TOKENS
from .router import add_routes
from .sockets import SocketMount, channel_limits, mount_socket
from .uploads import serve_local

__all__ = ["NAME", "SOCKET_PATH", "Endpoint", "build_app"]

NAME = "hearth.endpoint"
"""The name the endpoint is registered under in the tree."""

SOCKET_PATH = "/socket"
"""Where the application's socket (``actors.user_socket``) is mounted: phoenix.js connects
to ``/socket/websocket`` and falls back to ``/socket/longpoll``."""

log = logging.getLogger(__name__)


def build_app(config: Config) -> web.Application:
    """The aiohttp application with every route and the config under :data:`~web.keys.CONFIG`."""
    # API requests authenticate with tokens and keys, pages with the session cookie; each
    # middleware leaves the other kind of request alone. web.api.pipeline says what an API
    # request goes through; its errors, the guards' included, are problem documents.
    app = web.Application(middlewares=[session.middleware, pipeline.middleware])
    app[CONFIG] = config
    app[SECRET] = load_secret_key(config)
    app[ACCOUNTS] = Accounts(config.auth)
    app[OAUTH] = OAuth(config.oauth, config.server.base_url())
    app.on_cleanup.append(_close_oauth)
    pages.setup(app)
    api.setup(app)
    add_routes(app.router)
    limits, origins = channel_limits(config.channels)
    handler = UserSocket(app[SECRET], app[TOKENS], app[ACCOUNTS],
                         (config.api.rate_limit, config.api.rate_limit_window))
    mount_socket(app, SOCKET_PATH, SocketMount(handler, limits, origins))
    router = implementation(config.live.router, "live.router", LiveRouter, None)
    storage = storage_for(config)
    live = LiveContext(app[SECRET], router, config.auth.session_max_age,
                       config.live.max_event_bytes, config.live.max_form_fields,
                       services={"storage": storage})
    if isinstance(storage, LocalStorage):
        app.router.add_get(LOCAL_URL_PREFIX + "{key:.+}", serve_local(storage))
    mount_live(app, live, limits, origins)
    return app


async def _close_oauth(app: web.Application) -> None:
    await app[OAUTH].close()


class _Listening:
    """The running server. Closing it is idempotent, and once begun it runs to the end even
    if whoever asked is cancelled."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self.runner = runner
        self.host = host
        self.port = port
        self.holder: Pid | None = None
        self._closing: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._cleanup())
        await asyncio.shield(self._closing)

    async def _cleanup(self) -> None:
        await self.runner.cleanup()
        log.info("stopped listening on %s", self.url)


async def _hold(listening: _Listening) -> None:
    """Body of the process that ties the socket to the Endpoint's life.

    ``terminate`` does not run when the Endpoint is killed, but this process is linked to it
    and dies with it; its task is then cancelled and closes the server, so the port is free
    again before the supervisor starts the next Endpoint on it.
    """
    try:
        await asyncio.get_running_loop().create_future()  # until cancelled
    finally:
        await listening.close()


class Endpoint(GenServer):
    """Start under a supervisor with ``Endpoint.child_spec(config, name=NAME)``."""

    async def init(self, config: Config) -> Any:
        # Trapping exits turns the supervisor's shutdown into a call to terminate, which
        # lets requests in flight finish.
        otp.trap_exit(True)
        server = config.server
        options: dict[str, Any] = {} if server.access_log else {"access_log": None}
        runner = web.AppRunner(
            build_app(config), shutdown_timeout=server.shutdown_timeout, **options
        )
        await runner.setup()
        try:
            # Outside this process: the server's connection tasks inherit the context they
            # are started in, and a request handled "as" the Endpoint would be the Endpoint
            # to otp (its self(), its links; an admin kill of the Endpoint would unwind the
            # request instead).
            site = web.TCPSite(runner, server.host, server.port)
            outside = contextvars.copy_context()
            outside.run(otp._kernel._current.set, None)
            await asyncio.get_running_loop().create_task(site.start(), context=outside)
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, port = runner.addresses[0][:2]
        state = _Listening(runner, server.host or bound_host, port)
        state.holder = otp.spawn_link(_hold, state)
        log.info("listening on %s", state.url)
        return Ok(state)

    def handle_call(self, request: Any, from_: From, state: _Listening) -> Any:
        if request == "address":
            return Reply((state.host, state.port), state)
        return super().handle_call(request, from_, state)

    def handle_info(self, msg: Any, state: _Listening) -> Any:
        if type(msg) is Exit and msg.pid == state.holder:
            return Stop(msg.reason, state)  # the server is closed: nothing left to serve
        return super().handle_info(msg, state)

    async def terminate(self, reason: Any, state: _Listening) -> None:
        await state.close()

    @staticmethod
    async def address(endpoint: Any = NAME) -> tuple[str, int]:
        """The host and the bound port the endpoint serves on."""
        result: tuple[str, int] = await otp.call(endpoint, "address")
        return result
