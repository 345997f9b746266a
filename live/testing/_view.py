"""The socket and the joined view of a LiveViewTest (see :mod:`live.testing`)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from channels.client import JoinError, Push, Reply, Socket
from channels.serializer import Message
from live.flash import open_flash

from ._elements import Element, Form
from ._page import (
    DEFAULT_TIMEOUT,
    LIVE_PATH,
    REJOIN_AFTER,
    Browser,
    LiveRedirect,
    Page,
    PushError,
    Redirect,
    TextFilter,
    ViewCrashed,
)
from .rendered import DiffExtras, Document, PushedEvent, Rendered

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


