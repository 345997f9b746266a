"""The HTTP render of a live route (the "dead render"), and the ``/live`` socket.

``GET`` of a live route runs the live session's hooks, ``mount`` (``connected(socket)``
false) and ``handle_params``, and answers the page: the layout (``live.html``, the site's
``base.html`` around it, with the CSRF meta tag the client sends back as ``_csrf_token``)
and the view's container, ``<div id="phx-..." data-phx-main data-phx-session="..."
data-phx-static="">`` holding the first render. The session token binds the view, the
container id, the live session and the browser session (:func:`live.channel.seal_session`).
A redirect asked for during this mount is an HTTP redirect, its flash kept for the next page.
Flashes waiting for this page are the view's ``@flash``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from channels.handler import Limits
from contexts import sessions
from web.session import SESSION, current_user, flash, take_flashes
from web.sockets import SocketMount, mount_socket

from .channel import (
    LiveContext,
    LiveSocketHandler,
    _socket_of,
    browser_ref,
    new_view_id,
    seal_session,
)
from .components import Components, render_view
from .diff import tree_to_html
from .router import LiveRoute, LiveSession, run_hooks
from .view import LiveSocket, NotFound

__all__ = ["LIVE_CONTEXT", "LIVE_PATH", "mount_live"]

LIVE_CONTEXT = web.AppKey("live_context", LiveContext)
LIVE_PATH = "/live"
LAYOUT = "live.html"


def mount_live(app: web.Application, ctx: LiveContext, limits: Limits,
               origins: tuple[str, ...]) -> None:
    """The live routes' pages and the ``/live`` socket, on ``app``."""
    app[LIVE_CONTEXT] = ctx
    for session, route in ctx.router.routes():
        app.router.add_get(route.path, _page(session, route))
    mount_socket(app, LIVE_PATH, SocketMount(LiveSocketHandler(ctx), limits, origins))


async def _call(result: Any) -> Any:
    if isinstance(result, Awaitable):
        return await result
    return result


def _page(live_session: LiveSession, route: LiveRoute
          ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def page(request: web.Request) -> web.StreamResponse:
        ctx = request.app[LIVE_CONTEXT]
        match = ctx.router.match(str(request.rel_url))
        assert match is not None and match.route is route
        user = current_user(request)
        view_id = new_view_id()
        socket = LiveSocket(view_id, False, uri=str(request.url), user=user)
        socket.assigns["live_action"] = route.action
        socket.assigns["current_user"] = user
        socket.assigns["flash"] = dict(take_flashes(request))
        session = {**ctx.services, "current_user": user}
        view = route.view()
        if await run_hooks(live_session.on_mount, match.params, session, socket):
            try:
                socket = _socket_of(await _call(view.mount(match.params, session, socket)),
                                    "mount", view)
            except NotFound as e:
                page = aiohttp_jinja2.render_string("not_found.html", request,
                                                    {"what": e.what})
                return web.Response(status=404, text=page, content_type="text/html")
            if socket.navigation is None:
                socket = _socket_of(await _call(view.handle_params(
                    match.params, socket.uri, socket)), "handle_params", view)
        if socket.navigation is not None:
            for kind, text in socket.assigns["flash"].items():
                flash(request, kind, text)
            raise web.HTTPFound(socket.navigation.to)
        # The render the join would send, made into HTML (components, streams and all).
        tree, _ = await render_view(view.render(socket.assigns), None, None,
                                    Components(view_id, False))
        html = tree_to_html(tree or {"s": [""]})
        browser = request[SESSION]
        session_ref = sessions.ref(browser.token) if browser.token else None
        token = seal_session(ctx, view_id, match, session_ref, socket.assigns["flash"],
                             browser_ref(browser.csrf_token()))
        container = Markup(
            f'<div id="{view_id}" data-phx-main data-phx-session="{escape(token)}" '
            f'data-phx-static="">{html}</div>'
        )
        title = socket.assigns.get("page_title")
        response: web.StreamResponse = aiohttp_jinja2.render_template(
            LAYOUT, request, {"container": container, "page_title": title or ""})
        return response

    return page
