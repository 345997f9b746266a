"""Phoenix.LiveViewTest's functions (see :mod:`live.testing`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from yarl import URL

import otp
from live.channel import AWAIT_ASYNC, LiveChannel
from live.flash import FLASH_COOKIE

from ._elements import Element
from ._page import DEFAULT_TIMEOUT, Browser, LiveRedirect, Redirect, TextFilter, get_page
from ._view import LiveClient, View

# -- Phoenix.LiveViewTest's functions -----------------------------------------------------------


async def live(conn: Browser, path: str, *, client: LiveClient | None = None,
               timeout: float = DEFAULT_TIMEOUT) -> tuple[View, str]:
    """``view, html = await live(conn, "/counter")``: the page's view, joined and mounted, and
    its HTML. :class:`LiveRedirect` when the page or the mount redirects."""
    page = await get_page(conn, path)
    if client is not None:
        return await client.join(page)
    client = LiveClient(conn, page.csrf_token, timeout=timeout)
    client.owned = True
    await client.connect()
    try:
        return await client.join(page)
    except BaseException:
        await client.close()
        raise


async def follow_redirect(redirected: LiveRedirect | Redirect,
                          conn: Browser) -> tuple[View, str]:
    """Go where ``redirected`` says, as the client would, and join the view there."""
    redirect = redirected.redirect if isinstance(redirected, LiveRedirect) else redirected
    origin = redirect.origin
    if redirect.kind == "live_redirect" and origin is not None and origin.client.connected:
        navigated = await origin.client._navigate(origin, redirect)
        if navigated is not None:
            return navigated
    if redirect.flash_token is not None:
        conn.http.cookie_jar.update_cookies({FLASH_COOKIE: redirect.flash_token},
                                            URL(conn.node.url))
    to = redirect.to
    if urlsplit(to).netloc:
        to = urlsplit(to)._replace(scheme="", netloc="").geturl()
    return await live(conn, to)


def render(target: View | Element) -> str:
    """The HTML of a view, or of one element of it."""
    return target.render()


def has_element(view: View, selector: str, text: TextFilter = None) -> bool:
    return view.has_element(selector, text)


async def render_patch(view: View, path: str) -> str:
    return await view.render_patch(path)


def page_title(view: View) -> str:
    return view.title


async def assert_patch(view: View, path: str | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> str:
    """The next path the view patched to (``push_patch``), which must be ``path`` if given."""
    await view._until(lambda: bool(view._patches), timeout, f"a patch to {path or 'a path'}")
    patched = view._patches.popleft()
    assert path is None or patched == path, f"expected a patch to {path!r}, got {patched!r}"
    return patched


async def assert_redirect(view: View, path: str | None = None,
                          timeout: float = DEFAULT_TIMEOUT) -> dict[str, str]:
    """The flash of the view's redirect (or live navigation), which must go to ``path``."""
    await view._until(lambda: view.redirect is not None, timeout,
                      f"a redirect to {path or 'a path'}")
    assert view.redirect is not None
    assert path is None or view.redirect.to == path, (
        f"expected a redirect to {path!r}, got {view.redirect.to!r}")
    return view.redirect.flash


async def render_async(view: View, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Wait until the view's async work (``assign_async``, ``start_async``) is done and the
    diffs it led to are applied; the view's HTML. The view's process answers once its tasks
    are all settled (it runs in this test's node), and one more round trip over the socket
    brings what it pushed before it answered."""
    proc = _process_of(view)
    await otp.call(proc.pid, AWAIT_ASYNC, timeout=timeout)
    await view.push("cids_will_destroy", {"cids": []})
    return view.render()


def _process_of(view: View) -> LiveChannel:
    for pid in otp.processes():
        proc = pid._proc
        if isinstance(proc, LiveChannel):
            live_state = getattr(proc, "live", None)
            if live_state is not None and live_state.socket.id == view.id:
                return proc
    raise AssertionError(f"no process of the view {view.id} runs in this node")


async def assert_push_event(view: View, event: str, payload: Any,
                            timeout: float = DEFAULT_TIMEOUT) -> None:
    """The view pushed ``event`` (``push_event``) with ``payload``; each push is seen once."""
    def pushed() -> bool:
        return any(e.name == event for e in view._events)

    await view._until(pushed, timeout, f"a push_event {event!r}")
    found = next(e for e in view._events if e.name == event)
    view._events.remove(found)
    assert found.payload == payload, (
        f"push_event {event!r} carried {found.payload!r}, not {payload!r}")


async def assert_reply(view: View, payload: Any, timeout: float = DEFAULT_TIMEOUT) -> None:
    """The view replied ``payload`` to a hook's event (``Reply(payload, socket)``)."""
    await view._until(lambda: bool(view._replies), timeout, "a hook reply")
    replied = view._replies.popleft()
    assert replied == payload, f"the view replied {replied!r}, not {payload!r}"


