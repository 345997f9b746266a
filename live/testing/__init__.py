"""LiveViewTest: drive a live page over the real wire, as the browser's client does (Example 43).

The seed's counter test, with this module (the app's counter shows the number in a span of
its own, so the heading's text is what reads "Count: 0"; with the seed's ``<h1>Count:
{@count}</h1>``, ``"Count: 0" in html`` reads the same)::

    from live.testing import live

    async def test_mount_and_render_counter(conn):
        view, html = await live(conn, "/counter")
        assert view.has_element("h1", "Count: 0")          # html =~ "Count: 0"

    async def test_increment_event(conn):
        view, _html = await live(conn, "/counter")
        await view.element("button", "+").render_click()
        assert view.has_element("h1", "Count: 1")          # render(view) =~ "Count: 1"

:func:`live` GETs the page with the conn's cookies (``conn``: a ``hearth.testing.Conn``, or
anything with its ``get``, ``http``, ``node`` and ``secret``), reads the view's container and
the CSRF meta tag, connects to ``/live/websocket`` with the same cookies and joins
``lv:<id>`` as ``phoenix_live_view`` 1.2.12 does. Every diff is merged and patched into a DOM
by :mod:`live.testing.rendered` the moment it arrives (replies and server pushes alike, in
the order the socket brought them), so :meth:`View.render` is the page as the browser shows
it, and :meth:`View.wait_for` waits for a pushed change (``handle_info``) without sleeping.

Interacting, as Phoenix's LiveViewTest (each ``render_*`` returns the view's HTML once the
reply is applied):

- ``view.element(css, text=None)`` -> :class:`Element` (``text``: a substring or a pattern
  of its text): ``render_click(value=None)`` (the element's ``phx-click``: an event name,
  or JS commands whose ``push``/``patch``/``navigate`` run, the others being the browser's
  alone and not applied here; a link without one is followed), ``render_keyup(value)`` and
  ``render_keydown(value)`` (``phx-key`` filters on ``value["key"]``, as the client does),
  ``render_hook(event, value)``, ``has_element()``, ``render()`` (the element's HTML),
  ``text``. Events carry the element's ``phx-value-*`` and ``value``, as the client's do.
- ``view.form(css, data=None)`` -> :class:`Form`: ``render_change(data=None, target=None)``
  and ``render_submit(data=None)``; the form's fields as the DOM has them, overridden by
  ``data`` (nested dicts: ``{"post": {"title": "Hi"}}``), URL-encoded with Plug's nested
  keys, the ``_target`` meta (the last field given, unless ``target`` names one), and
  ``_unused_`` markers for the fields not filled in yet (all count as used once submitted).
- ``view.has_element(css, text=None)``, ``view.render()``, ``view.document`` (the DOM, to
  ``select`` many elements), ``await view.wait_for(lambda html: ..., timeout=5)``,
  :func:`render_patch`, :func:`page_title`.
- For tests of the protocol itself: :meth:`View.push` (a raw push on the view's topic; the
  :class:`~channels.client.Reply`), :meth:`LiveClient.push` (a raw frame on any topic),
  :func:`get_page` and :meth:`LiveClient.join` (a page's join, its :class:`Page` changed
  first with ``dataclasses.replace``).

Assertions: :func:`assert_patch` (a ``push_patch`` the view made; returns the path),
:func:`assert_redirect` (returns the flash), :func:`assert_push_event`,
:func:`assert_reply` (a hook's reply). Each waits up to its ``timeout`` for what it expects.

Redirects are raised: :func:`live` and every ``render_*`` raise :class:`LiveRedirect` when the
page or the view goes elsewhere (an HTTP redirect of the page, a join refused with a redirect,
a ``redirect`` or ``push_navigate`` in the reply); its :class:`Redirect` has ``to``, ``flash``
(opened with the node's key) and ``kind`` (``"redirect"``: a page load; ``"live_redirect"``:
navigation over the socket). ``await follow_redirect(redirected, conn)`` goes there as the
client does (a live navigation joins the new view on the same socket, falling back to a page
load when refused as ``unauthorized``; a redirect's flash rides the ``__phoenix_flash__``
cookie) and returns ``(view, html)`` as :func:`live` does::

    with pytest.raises(LiveRedirect) as redirected:
        await view.element("#confirm-delete").render_click()
    assert redirected.value.flash == {"info": "Post deleted."}
    posts, html = await follow_redirect(redirected.value, conn)

A redirect pushed by the server (from ``handle_info``) is seen by :func:`assert_redirect`.
Other failures: :class:`ViewCrashed` (the view's process crashed before it replied: the client
got ``phx_error`` and rejoins by itself, with a fresh mount), :class:`PushError` (the view
answered with an error reply), :class:`channels.client.JoinError` (the join was refused:
``stale``, ``unauthorized``, ...). A diff that does not merge or patch fails the next call
on the view with the :class:`~live.testing.rendered.RenderError`.

Lifetime: each :func:`live` opens a socket of its own (one page, one socket); pass
``client=view.client`` to join another view over the same one. Sockets do not reconnect, so
they end when their conn closes (the ``conn`` fixture's end), with ``await view.close()``
(which leaves the view, and closes the socket :func:`live` opened with its last view) or
``await view.client.close()``; a :class:`LiveClient` is also an ``async with`` block.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
from lxml import html as lxml_html  # type: ignore[import-untyped]
from yarl import URL

import otp
from channels.client import JoinError, Push, Reply, Socket
from channels.serializer import Message
from live.channel import AWAIT_ASYNC, LiveChannel
from live.flash import FLASH_COOKIE, open_flash

from .rendered import DiffExtras, Document, PushedEvent, Rendered, element_text

__all__ = [
    "DEFAULT_TIMEOUT",
    "Browser",
    "Element",
    "Form",
    "JoinError",
    "LiveClient",
    "LiveRedirect",
    "Page",
    "PushError",
    "Redirect",
    "View",
    "ViewCrashed",
    "assert_patch",
    "assert_push_event",
    "assert_redirect",
    "assert_reply",
    "follow_redirect",
    "get_page",
    "has_element",
    "live",
    "page_title",
    "render",
    "render_async",
    "render_patch",
]

TextFilter = str | re.Pattern[str] | None
"""What an element's text must contain (a string) or match (a pattern)."""

DEFAULT_TIMEOUT = 5.0
"""Seconds a push waits for its reply, and an assertion or wait for what it expects."""
REJOIN_AFTER = (0.01, 0.05, 0.1, 0.5)
"""The rejoin schedule after a crash, in seconds (the browser waits 1 s, then 2 s, 5 s, ...)."""
LIVE_PATH = "/live"


# -- what a test reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """Where a page or a view sent the browser, and the flash it carried."""

    to: str
    flash: dict[str, str] = field(default_factory=dict)
    kind: str = "redirect"
    """``"redirect"`` (a page load) or ``"live_redirect"`` (navigation over the socket)."""
    flash_token: str | None = field(default=None, repr=False, compare=False)
    """The sealed flash, as the client keeps it for the next page."""
    origin: View | None = field(default=None, repr=False, compare=False)
    """The view that navigated, whose socket a live navigation continues on."""


class LiveRedirect(Exception):
    """The page or the view went elsewhere: follow it with :func:`follow_redirect`."""

    def __init__(self, redirect: Redirect) -> None:
        flash = f" with flash {redirect.flash}" if redirect.flash else ""
        super().__init__(f"{redirect.kind} to {redirect.to}{flash}")
        self.redirect = redirect

    @property
    def to(self) -> str:
        return self.redirect.to

    @property
    def flash(self) -> dict[str, str]:
        return self.redirect.flash

    @property
    def kind(self) -> str:
        return self.redirect.kind


class ViewCrashed(Exception):
    """The view's process crashed before it replied (the client got ``phx_error``); the
    client rejoins by itself, with a fresh mount: wait for it with :meth:`View.wait_for`."""


class PushError(Exception):
    """The view answered a push with an error reply (``response``: what it said)."""

    def __init__(self, event: str, response: Any) -> None:
        super().__init__(f"{event!r} refused: {response!r}")
        self.response = response

    @property
    def reason(self) -> str:
        return str(self.response.get("reason")) if isinstance(self.response, dict) else ""


class _Node(Protocol):
    @property
    def url(self) -> str: ...


class _Answer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def location(self) -> str | None: ...
    @property
    def flashes(self) -> list[tuple[str, str]]: ...


class Browser(Protocol):
    """What the client needs of a conn (``hearth.testing.Conn`` has it): its cookies'
    HTTP session, the node it talks to, and the node's key to open flashes."""

    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def node(self) -> _Node: ...
    @property
    def secret(self) -> bytes: ...
    async def get(self, path: str) -> _Answer: ...


# -- the page -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A live page as its HTTP render served it: what the client reads before it joins."""

    url: str
    view_id: str
    session: str
    static: str | None
    csrf_token: str
    html: str
    """The container's inner HTML."""
    title: str
    title_prefix: str = ""
    title_suffix: str = ""
    title_default: str | None = None

    @property
    def topic(self) -> str:
        return f"lv:{self.view_id}"


async def get_page(conn: Browser, path: str) -> Page:
    """GET ``path`` and read its live container; :class:`LiveRedirect` if it redirects."""
    resp = await conn.get(path)
    if 300 <= resp.status < 400 and resp.location is not None:
        raise LiveRedirect(Redirect(resp.location, dict(resp.flashes)))
    if resp.status != 200:
        raise AssertionError(f"GET {path}: status {resp.status}: {resp.text[:300]!r}")
    doc = lxml_html.document_fromstring(resp.text)
    found = doc.xpath("//*[@data-phx-main]") or doc.xpath("//*[@data-phx-session]")
    if not found:
        raise AssertionError(f"GET {path}: not a live page (no data-phx-session container)")
    container = found[0]
    csrf = doc.xpath('//meta[@name="csrf-token"]/@content')
    if not csrf:
        raise AssertionError(f"GET {path}: the page has no <meta name=\"csrf-token\">")
    titles = doc.xpath("//title")
    title = titles[0] if titles else None
    static = container.get("data-phx-static") or None
    return Page(
        url=urljoin(conn.node.url, path), view_id=container.get("id"),
        session=container.get("data-phx-session"), static=static, csrf_token=str(csrf[0]),
        html=_inner_html(container),
        title=title.text_content() if title is not None else "",
        title_prefix=title.get("data-prefix", "") if title is not None else "",
        title_suffix=title.get("data-suffix", "") if title is not None else "",
        title_default=title.get("data-default") if title is not None else None,
    )


def _inner_html(el: Any) -> str:
    text = html_escape(el.text or "", quote=False)
    return text + "".join(lxml_html.tostring(child, encoding=str) for child in el)


# -- the socket ---------------------------------------------------------------------------------


class LiveClient:
    """One page's socket to ``/live``: the views joined over it share it, as a page's do.

    It does not reconnect (a test of the transport uses :mod:`channels.client` itself): it
    ends when :meth:`close` is called or when its conn's HTTP session closes. A view whose
    process crashes rejoins over it, as the browser's would.
    """

    def __init__(self, conn: Browser, csrf_token: str, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.conn = conn
        self.csrf_token = csrf_token
        self.timeout = timeout
        self.socket = Socket(conn.node.url + LIVE_PATH, {"_csrf_token": csrf_token},
                             http=conn.http, timeout=timeout, reconnect_after=(),
                             rejoin_after=REJOIN_AFTER, inbox_size=0)
        self.socket.on_message(self._dispatch)
        self.socket.on_close(self._connection_closed)
        self.owned = False
        """Made by :func:`live` for its view: closed with the last view closed on it."""
        self._views: dict[str, View] = {}
        self._raw: dict[str, asyncio.Future[Reply]] = {}

    async def __aenter__(self) -> LiveClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self.socket.connected

    async def connect(self) -> None:
        await self.socket.connect()

    async def close(self) -> None:
        """Disconnect: the server ends every view of this socket."""
        for view in list(self._views.values()):
            view._closed("the socket was closed")
        self._views.clear()
        await self.socket.disconnect()

    async def join(self, page: Page) -> tuple[View, str]:
        """Join the view of ``page``; its HTML once mounted. :class:`LiveRedirect` if the
        mount redirects, :class:`~channels.client.JoinError` if the join is refused."""
        return await self._join(View(self, page))

    async def push(self, topic: str, event: str, payload: Any,
                   join_ref: str | None = None) -> Reply:
        """Send one raw frame and wait for its reply (a topic need not be joined)."""
        ref = self.socket.make_ref()
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._raw[ref] = future
        self.socket.send(Message(join_ref, ref, topic, event, payload))
        try:
            async with asyncio.timeout(self.timeout):
                return await future
        finally:
            self._raw.pop(ref, None)

    async def _join(self, view: View) -> tuple[View, str]:
        replaced = self._views.get(view.topic)
        if replaced is not None:  # the server closes the old instance of the topic
            replaced._closed("joined again")
        self._views[view.topic] = view
        try:
            await view.channel.join()
        except JoinError:
            if self._views.get(view.topic) is view:
                del self._views[view.topic]
            if view.redirect is not None:
                raise LiveRedirect(view.redirect) from None
            raise
        return view, view.render()

    async def _navigate(self, origin: View, redirect: Redirect) -> tuple[View, str] | None:
        """Live navigation from ``origin`` (the client's ``replaceMain``); ``None`` when the
        server refuses it as the client then loads the page instead."""
        page = Page(urljoin(origin.url, redirect.to), origin.id, origin.session,
                    origin.static, self.csrf_token, origin._doc.html(), origin._title,
                    origin.page.title_prefix, origin.page.title_suffix,
                    origin.page.title_default)
        origin._closed(f"navigated to {redirect.to}")
        view = View(self, page, referer=origin.url, flash_token=redirect.flash_token)
        try:
            return await self._join(view)
        except JoinError as e:
            reason = e.response.get("reason") if isinstance(e.response, dict) else None
            if reason in ("unauthorized", "stale"):
                return None
            raise

    def _connection_closed(self, code: int) -> None:
        for view in self._views.values():
            view._closed(f"the connection closed (code {code})")

    def _dispatch(self, msg: Message) -> None:
        if msg.event == "phx_reply" and msg.ref in self._raw:
            future = self._raw.pop(msg.ref)
            if not future.done():
                payload = msg.payload if isinstance(msg.payload, dict) else {}
                future.set_result(Reply(payload.get("status", "error"),
                                        payload.get("response")))
            return
        view = self._views.get(msg.topic)
        if view is None:
            return
        try:
            view._on_message(msg)
        except Exception as e:  # a diff that does not merge or patch: the test fails on it
            view._fail(e)


# -- the view -----------------------------------------------------------------------------------


@dataclass
class _Outcome:
    reply: Reply
    redirect: Redirect | None


class View:
    """One joined live view: its DOM as the browser has it, and the events it takes."""

    def __init__(self, client: LiveClient, page: Page, *, referer: str | None = None,
                 flash_token: str | None = None) -> None:
        self.client = client
        self.page = page
        self.id = page.view_id
        self.topic = page.topic
        self.session = page.session
        self.static = page.static
        self.url = page.url
        """The page's URL now (patches change it)."""
        self.state = "joining"
        """``joining``, ``joined``, ``errored`` (crashed; rejoining), ``refused`` (a rejoin
        was refused) or ``closed`` (redirected, navigated or left)."""
        self.joins = 0
        """Successful joins: 1 once mounted, 2 after the first rejoin, ..."""
        self.redirect: Redirect | None = None
        self._navigated = referer is not None
        self._referer = referer
        self._flash_token = flash_token
        self._attempts = 0
        self._rendered: Rendered | None = None
        self._doc = Document(self.id, page.html)
        self._title = page.title
        self._refusal: Any = None
        self._why_closed = ""
        self._failure: BaseException | None = None
        self._patches: deque[str] = deque()
        self._events: list[PushedEvent] = []
        self._replies: deque[Any] = deque()
        self._pending: dict[Push, asyncio.Future[_Outcome]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._used: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.channel = client.socket.channel(self.topic, self._join_payload)

    def __repr__(self) -> str:
        return f"<View {self.id} {self.url} {self.state}>"

    # -- reading -------------------------------------------------------------------------------

    def render(self) -> str:
        """The view's HTML as the browser shows it now."""
        self._check()
        return self._doc.html()

    def element(self, selector: str, text: TextFilter = None) -> Element:
        """The element matching ``selector`` (and containing ``text``), found when used."""
        return Element(self, selector, text)

    def form(self, selector: str, data: Mapping[str, Any] | None = None) -> Form:
        """The form matching ``selector``, filled in with ``data`` when it is sent."""
        return Form(self, selector, data)

    def has_element(self, selector: str, text: TextFilter = None) -> bool:
        self._check()
        return bool(self._doc.select(selector, text))

    @property
    def document(self) -> Document:
        """The view's DOM (:class:`~live.testing.rendered.Document`: ``select``, ``find``)."""
        self._check()
        return self._doc

    @property
    def title(self) -> str:
        """The document's title, as the client sets it from the view's ``page_title``."""
        return self._title

    async def wait_for(self, predicate: Callable[[str], bool],
                       timeout: float = DEFAULT_TIMEOUT) -> str:
        """The view's HTML once ``predicate(html)`` holds (checked after every change)."""
        html = ""

        def holds() -> bool:
            nonlocal html
            html = self.render()
            return predicate(html)

        await self._until(holds, timeout, "the view to show what was expected")
        return html

    # -- sending -------------------------------------------------------------------------------

    async def push(self, event: str, payload: Any) -> Reply:
        """Push ``event`` on the view's topic once joined; the reply, with its diff applied."""
        return (await self._request(event, payload)).reply

    async def render_hook(self, event: str, value: Any = None) -> str:
        """A hook's ``pushEvent(event, value)``; the reply ``{"r": ...}`` goes to
        :func:`assert_reply`."""
        return await self._event("hook", event, {} if value is None else value)

    async def render_patch(self, path: str) -> str:
        """Follow a patch link to ``path`` (``handle_params``); :class:`LiveRedirect` (a
        live navigation) when ``path`` is another view's."""
        url = urljoin(self.url, path)
        outcome = await self._request("live_patch", {"url": url})
        response = outcome.reply.response
        if outcome.reply.status != "ok":
            raise PushError("live_patch", response)
        if isinstance(response, dict) and response.get("link_redirect"):
            raise LiveRedirect(Redirect(path, kind="live_redirect", origin=self))
        if outcome.redirect is not None:
            raise LiveRedirect(outcome.redirect)
        self.url = url
        return self.render()

    async def close(self) -> None:
        """Leave the view (and close the socket :func:`live` opened, with its last view)."""
        if self.state in ("joined", "joining", "errored"):
            await self.channel.leave()
        self._closed("left")
        client = self.client
        if client._views.get(self.topic) is self:
            del client._views[self.topic]
        if client.owned and not client._views:
            await client.close()

    async def _event(self, kind: str, event: str, value: Any,
                     meta: Mapping[str, Any] | None = None, cid: int | None = None) -> str:
        payload: dict[str, Any] = {"type": kind, "event": event, "value": value}
        if meta is not None:
            payload["meta"] = dict(meta)
        if cid is not None:
            payload["cid"] = cid
        outcome = await self._request("event", payload)
        if outcome.reply.status != "ok":
            raise PushError(event, outcome.reply.response)
        if outcome.redirect is not None:
            raise LiveRedirect(outcome.redirect)
        return self.render()

    async def _request(self, event: str, payload: Any) -> _Outcome:
        await self._until(lambda: self.state != "joining" and self.state != "errored",
                          self.client.timeout, "the view to join")
        if self.state != "joined":
            raise self._unusable()
        push = self.channel.push(event, payload)
        future: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._pending[push] = future

        def failed(done: asyncio.Future[Reply]) -> None:  # timed out, or disconnected
            error = None if done.cancelled() else done.exception()
            if error is not None and not future.done():
                future.set_exception(error)

        push.future.add_done_callback(failed)
        try:
            return await future
        finally:
            self._pending.pop(push, None)

    # -- what the socket brings ----------------------------------------------------------------

    def _join_payload(self) -> dict[str, Any]:
        """The join's payload, computed at each (re)join as the client's ``View`` does."""
        params: dict[str, Any] = {"_csrf_token": self.client.csrf_token, "_mounts": self.joins,
                                  "_mount_attempts": self._attempts}
        if self._referer is not None:
            params["_live_referer"] = self._referer
        self._attempts += 1
        payload: dict[str, Any] = {"redirect" if self._navigated else "url": self.url,
                                   "params": params, "session": self.session,
                                   "static": self.static}
        if self._flash_token is not None:
            payload["flash"] = self._flash_token
        return payload

    def _on_message(self, msg: Message) -> None:
        if msg.join_ref is not None and msg.join_ref != self.channel.join_ref:
            return  # an earlier instance of this topic
        event, payload = msg.event, msg.payload
        if event == "phx_reply":
            status = payload.get("status", "error") if isinstance(payload, dict) else "error"
            response = payload.get("response") if isinstance(payload, dict) else None
            if msg.ref is not None and msg.ref == self.channel.join_ref:
                self._on_join(status, response)
            else:
                push = next((p for p in self._pending if p.ref == msg.ref), None)
                if push is not None:
                    self._on_reply(push, Reply(status, response))
        elif event == "diff":
            self._apply(payload)
        elif event in ("redirect", "live_redirect"):
            self.redirect = self._redirect(event, payload)
        elif event == "live_patch":
            self._patched(payload)
        elif event == "phx_error":
            self.state = "errored"
            self._fail_pending(ViewCrashed(f"the view {self.id} at {self.url} crashed"))
        elif event == "phx_close":
            self._closed("closed by the server")
        self._notify()

    def _on_join(self, status: str, response: Any) -> None:
        if status == "ok":
            self._rendered = Rendered(self.id, response["rendered"])
            self._doc.join(self._rendered)
            self._extras(self._rendered.join_extras)
            if isinstance(response.get("live_patch"), dict):
                self._patched(response["live_patch"])
            self.joins += 1
            self._attempts = 0
            self._flash_token = None
            self.state = "joined"
            return
        response = response if isinstance(response, dict) else {}
        for name, data in response.get("events") or []:
            self._events.append(PushedEvent(str(name), data))
        self._refusal = response
        self.state = "refused"
        for kind in ("redirect", "live_redirect"):
            if isinstance(response.get(kind), dict):
                self.redirect = self._redirect(kind, response[kind])
        if self.joins > 0:  # a refused rejoin: the client reloads instead of retrying
            task = asyncio.get_running_loop().create_task(self.channel.leave())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_reply(self, push: Push, reply: Reply) -> None:
        future = self._pending.pop(push)
        redirect = None
        response = reply.response
        try:
            if reply.status == "ok" and isinstance(response, dict):
                if "diff" in response:
                    self._apply(response["diff"])
                if isinstance(response.get("live_patch"), dict):
                    self._patched(response["live_patch"])
                for kind in ("redirect", "live_redirect"):
                    if isinstance(response.get(kind), dict):
                        redirect = self.redirect = self._redirect(kind, response[kind])
        except Exception as e:
            if not future.done():
                future.set_exception(e)
            raise
        if not future.done():
            future.set_result(_Outcome(reply, redirect))

    def _apply(self, diff: Any) -> None:
        if self._rendered is None:
            raise AssertionError(f"a diff for {self.id} before it joined: {diff!r}")
        result = self._doc.update(self._rendered, diff)
        self._extras(result.extras)
        if result.removed_cids:
            self._destroy(result.removed_cids)

    def _destroy(self, cids: list[int]) -> None:
        """Components whose element left the page, told to the view as the client does:
        ``cids_will_destroy``, then ``cids_destroyed``, and those it dropped are pruned. The
        pushes go out before any later event of the test, so the view sees them first."""
        self.channel.push("cids_will_destroy", {"cids": cids})
        destroyed = self.channel.push("cids_destroyed", {"cids": cids})

        def prune(done: asyncio.Future[Reply]) -> None:
            if done.cancelled() or done.exception() is not None or self._rendered is None:
                return
            response = done.result().response
            if isinstance(response, dict):
                self._rendered.prune_cids(response.get("cids") or [])

        destroyed.future.add_done_callback(prune)

    def _extras(self, extras: DiffExtras) -> None:
        self._events.extend(extras.events)
        if extras.title is not None:
            title, page = extras.title, self.page
            empty = not isinstance(title, str) or not title.strip()
            if not (empty and page.title_default is None):
                inner = page.title_default if empty else title
                self._title = f"{page.title_prefix}{inner or ''}{page.title_suffix}"
        if extras.reply is not None:
            self._replies.append(extras.reply)

    def _patched(self, patch: Mapping[str, Any]) -> None:
        to = str(patch.get("to"))
        self.url = urljoin(self.url, to)
        self._patches.append(to)

    def _redirect(self, kind: str, target: Mapping[str, Any]) -> Redirect:
        token = target.get("flash")
        token = token if isinstance(token, str) else None
        return Redirect(str(target.get("to")), open_flash(self.client.conn.secret, token),
                        kind, token, self)

    def _closed(self, why: str) -> None:
        if self.state not in ("closed", "refused"):  # a refusal stays what it was
            self.state = "closed"
            self._why_closed = why
        self._fail_pending(self._unusable())
        self._notify()

    def _fail(self, error: BaseException) -> None:
        self._failure = error
        self._fail_pending(error)
        self._notify()

    def _fail_pending(self, error: BaseException) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    def _unusable(self) -> BaseException:
        if self.redirect is not None:
            return LiveRedirect(self.redirect)
        if self.state == "refused":
            return JoinError(self.topic, self._refusal)
        return RuntimeError(f"the view {self.id} is {self.state}: {self._why_closed}")

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; the view "
                                 f"({self.state}) shows:\n{self._doc.html()}") from None


# -- elements and forms -------------------------------------------------------------------------


class Element:
    """An element of a view, found by its selector (and text) each time it is used."""

    def __init__(self, view: View, selector: str, text: TextFilter = None) -> None:
        self.view = view
        self.selector = selector
        self.text_filter = text

    def __repr__(self) -> str:
        shown = f" {self.text_filter!r}" if self.text_filter else ""
        return f"<Element {self.selector!r}{shown}>"

    def find(self) -> Any:
        """The ``lxml`` element; LookupError unless exactly one matches."""
        self.view._check()
        return self.view._doc.find(self.selector, self.text_filter)

    def has_element(self) -> bool:
        return self.view.has_element(self.selector, self.text_filter)

    def render(self) -> str:
        """The element's HTML."""
        return str(lxml_html.tostring(self.find(), encoding=str, with_tail=False))

    @property
    def text(self) -> str:
        """The element's text, each run of whitespace one space."""
        return element_text(self.find())

    async def render_click(self, value: Mapping[str, Any] | None = None) -> str:
        """Click: the ``phx-click`` event with the element's values (and ``value``), or its JS
        commands; a link without ``phx-click`` is followed (patch, navigation or page load)."""
        el = self.find()
        binding = el.get("phx-click")
        if binding is None:
            href = el.get("href")
            if el.tag != "a" or not href:
                raise AssertionError(f"{self} has no phx-click attribute")
            link = el.get("data-phx-link")
            if link == "patch":
                return await self.view.render_patch(href)
            kind = "live_redirect" if link == "redirect" else "redirect"
            raise LiveRedirect(Redirect(href, kind=kind, origin=self.view))
        return await _run(self.view, "click", el, binding, value)

    async def render_keyup(self, value: Mapping[str, Any] | None = None) -> str:
        return await self._key("keyup", value)

    async def render_keydown(self, value: Mapping[str, Any] | None = None) -> str:
        return await self._key("keydown", value)

    async def render_hook(self, event: str, value: Any = None) -> str:
        """The element's hook pushes ``event`` (the element needs ``phx-hook``)."""
        if self.find().get("phx-hook") is None:
            raise AssertionError(f"{self} has no phx-hook attribute")
        return await self.view.render_hook(event, value)

    async def _key(self, kind: str, value: Mapping[str, Any] | None) -> str:
        el = self.find()
        binding = el.get(f"phx-{kind}") or el.get(f"phx-window-{kind}")
        if binding is None:
            raise AssertionError(f"{self} has no phx-{kind} or phx-window-{kind} attribute")
        wanted, pressed = el.get("phx-key"), (value or {}).get("key")
        if wanted and pressed is not None and str(pressed).lower() != wanted.lower():
            return self.view.render()  # the client sends nothing for another key
        return await _run(self.view, kind, el, binding, value)


class Form:
    """A form of a view; ``data`` fills it in (nested dicts, as Plug reads them back)."""

    def __init__(self, view: View, selector: str, data: Mapping[str, Any] | None = None
                 ) -> None:
        self.view = view
        self.selector = selector
        self.data = _flatten(data or {})

    def __repr__(self) -> str:
        return f"<Form {self.selector!r}>"

    async def render_change(self, data: Mapping[str, Any] | None = None, *,
                            target: str | None = None) -> str:
        """The form's ``phx-change``, as when the user typed ``data`` in (``target``: the
        field that changed; by default the last one given)."""
        form, given = self._find(data)
        names = [name for name, _ in given]
        used = self.view._used.setdefault(self._key(form), set())
        used.update(names)
        target = target or (names[-1] if names else "undefined")
        meta = {"_target": target, **_meta(form, None)}
        return await self._send(form, "phx-change", given, used, meta)

    async def render_submit(self, data: Mapping[str, Any] | None = None) -> str:
        """The form's ``phx-submit``: every field counts as used from now on."""
        form, given = self._find(data)
        used = self.view._used.setdefault(self._key(form), set())
        used.update(name for name, _ in _controls(form))
        return await self._send(form, "phx-submit", given, used, _meta(form, None))

    def _find(self, data: Mapping[str, Any] | None) -> tuple[Any, list[tuple[str, str]]]:
        form = Element(self.view, self.selector).find()
        if form.tag != "form":
            raise AssertionError(f"{self} is a <{form.tag}>, not a <form>")
        given = [*self.data, *_flatten(data or {})]
        known = {name for name, _ in _controls(form)}
        for name, _ in given:
            if name not in known:
                raise AssertionError(f"{self} has no field {name!r} (fields: "
                                     f"{', '.join(sorted(known)) or 'none'})")
        return form, given

    def _key(self, form: Any) -> str:
        return str(form.get("id") or self.selector)

    async def _send(self, form: Any, attr: str, given: list[tuple[str, str]],
                    used: set[str], meta: dict[str, Any]) -> str:
        binding = form.get(attr)
        if binding is None:
            raise AssertionError(f"{self} has no {attr} attribute")
        value = _encode(form, given, used)
        html = self.view.render()
        for kind, args in _commands(binding):
            if kind == "push":
                pushed = {**meta, **(args.get("value") or {})}
                cid = _target_cid(self.view, form, args.get("target"))
                html = await self.view._event("form", args["event"], value, pushed, cid)
        return html


async def _run(view: View, kind: str, el: Any, binding: str,
               value: Mapping[str, Any] | None) -> str:
    """Run a binding as the client does: an event name, or JS commands (only ``push``,
    ``patch`` and ``navigate`` reach the server; the rest change the page client-side)."""
    html = view.render()
    for command, args in _commands(binding):
        if command == "push":
            pushed = {**(args.get("value") or {}), **(value or {})}
            cid = _target_cid(view, el, args.get("target"))
            html = await view._event(kind, args["event"], _meta(el, pushed), cid=cid)
        elif command == "patch":
            html = await view.render_patch(args["href"])
        elif command == "navigate":
            raise LiveRedirect(Redirect(args["href"], kind="live_redirect", origin=view))
    return html


def _target_cid(view: View, el: Any, target: Any = None) -> int | None:
    """The component an event goes to, as the client finds it: ``phx-target`` (or a JS
    push's ``target``) holding a cid, or a selector of an element inside a component; no
    target, the view (``None``)."""
    target = el.get("phx-target") if target is None else target
    if target is None or target == "":
        return None
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    found = view.document.select(str(target))
    if not found:
        raise AssertionError(f"phx-target {target!r} matches nothing on the page")
    node = found[0]
    while node is not None:
        cid = node.get("data-phx-component")
        if cid is not None:
            return int(cid)
        node = node.getparent()
    return None


def _commands(binding: str) -> list[tuple[str, dict[str, Any]]]:
    if not binding.startswith("["):
        return [("push", {"event": binding})]
    return [(str(kind), dict(args)) for kind, args in json.loads(binding)]


def _meta(el: Any, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """An event's value as the client's ``extractMeta`` builds it: the ``phx-value-*``
    attributes, the element's own value, then ``value``."""
    meta: dict[str, Any] = {name.removeprefix("phx-value-"): attr
                            for name, attr in el.attrib.items()
                            if name.startswith("phx-value-")}
    own = _own_value(el)
    if own is not None:
        meta["value"] = own
    meta.update(value or {})
    return meta


def _own_value(el: Any) -> str | None:
    tag = el.tag
    if tag == "input":
        if el.get("type", "").lower() in ("checkbox", "radio"):
            return (el.get("value") or "on") if el.get("checked") is not None else None
        return str(el.get("value", ""))
    if tag == "button":
        return str(el.get("value", ""))
    if tag in ("select", "textarea"):
        return str(el.value or "")
    if tag == "option":
        return str(el.get("value", el.text_content()))
    return None


def _controls(form: Any) -> list[tuple[str, Any]]:
    """The form's named fields, disabled or not checked ones too (what ``data`` may set)."""
    return [(el.get("name"), el) for el in form.iter("input", "select", "textarea", "button")
            if el.get("name")]


def _encode(form: Any, given: list[tuple[str, str]], used: set[str]) -> str:
    """The form's values URL-encoded as the client's ``serializeForm``: the DOM's, with
    ``given`` in place of the fields it names, and ``_unused_`` before each field unused."""
    overrides: dict[str, list[str]] = {}
    for name, value in given:
        overrides.setdefault(name, []).append(value)
    pairs: list[tuple[str, str]] = []
    for name, value in form.form_values():
        if name not in overrides:
            pairs.append((name, value))
        elif name not in dict(pairs):  # given values take the place of the first field
            pairs += [(name, v) for v in overrides[name]]
    placed = dict(pairs)
    pairs += [(name, v) for name, values in overrides.items() if name not in placed
              for v in values]
    hidden: dict[str, bool] = {}
    skip = form.get("phx-no-unused-field") is not None
    for name, el in _controls(form):
        is_hidden = el.tag == "input" and el.get("type", "").lower() == "hidden"
        hidden[name] = hidden.get(name, True) and is_hidden
        if el.get("phx-no-unused-field") is not None:
            used.add(name)
    encoded: list[tuple[str, str]] = []
    for name, value in pairs:
        if not skip and name not in used and not hidden.get(name, False):
            encoded.append((_unused(name), ""))
        encoded.append((name, value))
    return urlencode(encoded)


def _unused(name: str) -> str:
    """``post[title]`` -> ``post[_unused_title]`` (the client's ``prependFormDataKey``)."""
    array = name.endswith("[]")
    base = name[:-2] if array else name
    head, bracket = (base[:-1], "]") if base.endswith("]") else (base, "")
    cut = max(head.rfind("["), head.rfind("]")) + 1
    return f"{head[:cut]}_unused_{head[cut:]}{bracket}{'[]' if array else ''}"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested ``data`` as Plug-style field names: ``{"a": {"b": 1, "c": [2]}}`` ->
    ``a[b]=1``, ``a[c][]=2``."""
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            out += _flatten(value, name)
        elif isinstance(value, list | tuple):
            out += [(f"{name}[]", _text(item)) for item in value]
        else:
            out.append((name, _text(value)))
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


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

