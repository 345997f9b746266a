"""The live socket (``/live``) and the process of each connected view (topic ``lv:<id>``).

The stock client connects to ``/live/websocket`` (or ``/live/longpoll``) with the page's
``_csrf_token`` and joins ``lv:<id>`` with the ``data-phx-session`` token of the page's
HTTP render (:mod:`live.http`). :class:`LiveChannel` is the view's process: it runs under
``hearth.live`` (temporary: a view that crashes is mounted again by the client's rejoin),
linked to the socket session, so either one ending ends the other.

Join checks, each refusal answered as Phoenix does so the client knows what to do
(protocol.md §4.2): the session token opens with the node's key and names this topic's id
(``stale``: the client reloads the page), the CSRF token matches the browser session's and
the browser session is the one the page was rendered for (``stale``), the URL still routes
to the view the page was rendered with, or, for a live navigation (``redirect``), to a view
of the same live session (``unauthorized``: the client loads the page in full). Then the
live session's ``on_mount`` hooks, ``mount`` and ``handle_params`` run, and the reply is
the full render. A redirect asked for during mount is the join's error reply.

Every push gets a reply: ``event`` (click, key, form with Plug-style nested values, hook),
``live_patch``, ``cids_will_destroy``, ``cids_destroyed`` and anything unknown (``{}``).
A view that raises crashes alone: the session pushes ``phx_error``, the client shows the
error state and rejoins with a fresh mount; the crash report names the view and the event.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from types import MappingProxyType
from typing import Any

import otp
from channels import token as tokens
from channels.channel import Channel, Error, In, Socket
from channels.handler import ConnectInfo, SocketHandler
from contexts import sessions
from hearth.names import LIVE, TASKS
from otp import (
    ChildError,
    ChildSpec,
    Down,
    DynamicSupervisor,
    Exit,
    From,
    NoReply,
    Ok,
    Reply,
    StartError,
    Stop,
    Task,
    TaskReply,
    TaskSupervisor,
)
from otp.gen_server import reply as otp_reply
from web import session as web_session

from .components import Components, _checked, _SendUpdate, render_view
from .diff import Prints
from .flash import FLASH_COOKIE, open_flash, seal_flash
from .params import ParamsError, decode_form, target_path
from .router import LiveRouter, Match, run_hooks
from .upload_channel import UPLOAD_DONE, UPLOAD_ERROR, UPLOAD_JOIN, seal_entry
from .uploads import Uploads, check_content, discard, register_entries
from .view import (
    AsyncResult,
    AsyncWork,
    LiveSocket,
    LiveView,
    Navigation,
    NotFound,
    assign,
    clear_flash,
)

__all__ = ["AWAIT_ASYNC", "FLASH_COOKIE", "LIVE_VERSION", "LiveChannel", "LiveContext",
           "LiveSocketHandler", "new_view_id", "open_flash", "seal_flash", "seal_session"]

LIVE_VERSION = "1.2.12"
"""The client version the reply names (package.json pins the same)."""

SALT = "live view session"
AWAIT_ASYNC = ("$live", "await_async")
"""A call to a view's process, answered once its async work is done (see handle_call)."""
MAX_EVENT_BYTES = 100_000
"""The longest event value (a form's encoding) a view takes; longer is refused, unread
(``[live] max_event_bytes``)."""
MAX_FORM_FIELDS = 1_000
"""Fields one form event may carry (``[live] max_form_fields``)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveContext:
    """What every live view of the node shares: its key, routes and session lifetime."""

    secret: bytes
    router: LiveRouter
    session_max_age: float
    max_event_bytes: int = MAX_EVENT_BYTES
    max_form_fields: int = MAX_FORM_FIELDS
    services: Mapping[str, Any] = field(default_factory=dict)
    """What the application hands every view, in ``mount``'s ``session`` (its storage)."""


_NO_MAP: Mapping[Any, Any] = MappingProxyType({})
_NO_LIST: tuple[Any, ...] = ()

_views: dict[str, otp.Pid] = {}
"""The connected views of this node by container id (an upload channel finds its view)."""


def view_process(view_id: str) -> otp.Pid | None:
    pid = _views.get(view_id)
    return pid if pid is not None and otp.is_alive(pid) else None


def new_view_id() -> str:
    return "phx-" + secrets.token_urlsafe(12)


def seal_session(ctx: LiveContext, view_id: str, match: Match, session_ref: str | None,
                 flash: dict[str, str] | None = None, browser: str | None = None) -> str:
    """The ``data-phx-session`` token: the view, its container id, its live session, the
    browser session the page was rendered for, and the flash the page showed (the first
    connected mount shows it too)."""
    data: dict[str, Any] = {"id": view_id, "v": _view_name(match.route.view),
                            "ls": match.session.name, "s": session_ref, "c": browser}
    if flash:
        data["f"] = flash
    return tokens.encrypt(ctx.secret, SALT, data, max_age=ctx.session_max_age)


def _view_name(view: type[LiveView]) -> str:
    return f"{view.__module__}.{view.__qualname__}"


# -- the socket ---------------------------------------------------------------------------------


class LiveSocketHandler(SocketHandler):
    """``/live``: anyone may connect; each join decides. The browser session (the cookie)
    names the user, so a logout closes the live sockets too (``users_socket:<id>``)."""

    def __init__(self, ctx: LiveContext) -> None:
        self.ctx = ctx

    @property
    def channels(self) -> list[tuple[str, type[Channel]]]:  # type: ignore[override]
        from .upload_channel import UploadChannel

        return [("lv:*", LiveChannel), ("lvu:*", UploadChannel)]

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        session = _cookie_session(self.ctx, info.headers.get("Cookie", ""))
        presented = params.get("_csrf_token", "")
        csrf_ok = bool(session is not None and session.csrf and presented
                       and hmac.compare_digest(session.csrf.encode(), presented.encode()))
        user = None
        session_ref = None
        if session is not None and session.token is not None:
            session_ref = sessions.ref(session.token)
            user = await sessions.lookup(session.token)
        return {"live_context": self.ctx, "csrf_ok": csrf_ok, "session_ref": session_ref,
                "browser_ref": browser_ref(session.csrf if session is not None else None),
                "current_user": user, "user_id": user.id if user is not None else None}

    def id(self, assigns: dict[str, Any]) -> str | None:
        user_id = assigns.get("user_id")
        return f"users_socket:{user_id}" if user_id is not None else None

    def counts_toward_rate(self, topic: str, event: str) -> bool:
        # An upload's chunks are bounded by its size, and its progress by 100 per file; a
        # 10 MB photo is 157 chunks and 100 progress reports, past any event burst.
        if event == "chunk" and topic.startswith("lvu:"):
            return False
        return not (event == "progress" and topic.startswith("lv:"))


def browser_ref(csrf: str | None) -> str | None:
    """What names one browser's session, signed in or not, without being its CSRF token."""
    if not csrf:
        return None
    return hashlib.sha256(b"live browser:" + csrf.encode()).hexdigest()[:32]


def _cookie_session(ctx: LiveContext, header: str) -> web_session.Session | None:
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return None
    morsel = jar.get(web_session.COOKIE)
    if morsel is None:
        return None
    return web_session.decode(morsel.value, ctx.secret, ctx.session_max_age)


# -- the view's process -------------------------------------------------------------------------


class _Live:
    """One mounted view: the instance, its socket, its route, what the client holds."""

    __slots__ = ("components", "match", "prints", "socket", "view")

    def __init__(self, view: LiveView, socket: LiveSocket, match: Match) -> None:
        self.view = view
        self.socket = socket
        self.match = match
        self.prints: Prints | None = None
        self.components = Components(socket.id, socket.connected)


async def _call(result: Any) -> Any:
    if isinstance(result, Awaitable):
        return await result
    return result


def _socket_of(result: Any, callback: str, view: LiveView) -> LiveSocket:
    state = getattr(result, "state", None)
    if type(result) in (Ok, NoReply, Reply) and isinstance(state, LiveSocket):
        return state
    raise TypeError(f"{type(view).__name__}.{callback} returned {result!r}, not Ok(socket), "
                    "NoReply(socket) or Reply(map, socket)")


class LiveChannel(Channel):
    """The process of one connected view; see the module docstring."""

    # Running async work, by monitor ref, and which ref serves each (kind, key or name); set
    # by join (the runtime makes the process object without calling __init__).
    tasks: dict[Any, tuple[AsyncWork, Task]]
    task_of: dict[tuple[str, Any], Any]
    cancelled: list[tuple[Any, Any]]
    awaiting: list[From]
    _hooked: bool

    def handle_call(self, request: Any, from_: From, socket: Socket) -> Any:
        """``AWAIT_ASYNC``: answered once the view's async work is all done and its diffs
        are pushed (what the LiveViewTest's ``render_async`` waits for)."""
        if request == AWAIT_ASYNC:
            if not self.tasks:
                return Reply(True, socket)
            if self.awaiting is _NO_LIST:
                self.awaiting = []
            self.awaiting.append(from_)
            return NoReply(socket)
        if isinstance(request, tuple) and request and request[0] == UPLOAD_JOIN:
            return Reply(self._upload_join(request[1], request[2]), socket)
        return super().handle_call(request, from_, socket)

    # -- uploads ----------------------------------------------------------------------------

    def _upload_join(self, upload_ref: Any, entry_ref: Any) -> str:
        """The temporary file of an entry whose upload channel joins, or why not."""
        uploads = self.live.socket.assigns.get("uploads")
        config = uploads.by_ref(upload_ref) if isinstance(uploads, Uploads) else None
        entry = config.entry(entry_ref) if config is not None else None
        if entry is None or not entry.preflighted or entry.cancelled or entry.errors:
            return "disallowed"
        if entry.path is not None:
            return "already_registered"
        fd, entry.path = tempfile.mkstemp(prefix="hearth-upload-")  # mode 0600
        os.close(fd)
        return entry.path

    async def _preflight(self, payload: dict[str, Any], socket: Socket) -> Any:
        ctx: LiveContext = socket.assigns["live_context"]
        lsocket = self.live.socket
        ref = payload.get("ref")
        config = register_entries(lsocket, ref, payload.get("entries") or []) \
            if isinstance(ref, str) else None
        if config is None:
            return Reply(("error", {"reason": "no such upload"}), socket)
        self._uploading(lsocket.id)
        tokens_by_ref: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        allowed = config.max_entries
        for entry in config.entries:
            if entry.cancelled:
                continue
            if entry.errors or allowed == 0:
                errors[entry.ref] = entry.errors or ["too_many_files"]
                continue
            allowed -= 1
            entry.preflighted = True
            if config.external is not None:
                meta = await _call(config.external(entry, lsocket))
                if not isinstance(meta, dict) or not isinstance(meta.get("uploader"), str):
                    raise TypeError(f"the external function of upload {config.name!r} "
                                    f"returned {meta!r}, not a dict with an 'uploader'")
                entry.meta = meta
                tokens_by_ref[entry.ref] = meta
                continue
            tokens_by_ref[entry.ref] = seal_entry(
                ctx.secret, lsocket.id, config.ref, entry.ref, entry.client_size,
                config.max_file_size, socket.assigns.get("browser_ref"), config.chunk_timeout)
        lsocket.changed.add("uploads")
        return {"ref": config.ref, "config": {
            "chunk_size": config.chunk_size, "chunk_timeout": config.chunk_timeout,
            "max_entries": config.max_entries, "max_file_size": config.max_file_size},
            "entries": tokens_by_ref, "errors": errors}

    def _uploading(self, view_id: str) -> None:
        """From a view's first preflight on: its upload channels can find it, and whatever
        its exit, no temporary file stays (views that never upload pay for neither)."""
        if _views.get(view_id) == self.pid:
            return
        _views[view_id] = self.pid

        def forget(_proc: Any, _reason: Any) -> None:
            if _views.get(view_id) == self.pid:
                del _views[view_id]
            self._discard_uploads()

        self._on_exit(forget)

    def _upload_ended(self, msg: tuple[Any, ...]) -> None:
        kind, upload_ref, entry_ref, detail = msg
        uploads = self.live.socket.assigns.get("uploads")
        config = uploads.by_ref(upload_ref) if isinstance(uploads, Uploads) else None
        entry = config.entry(entry_ref) if config is not None else None
        if entry is None:
            return
        if kind == UPLOAD_DONE:
            entry.received = detail
            entry.done = True
            entry.progress = 100
            check_content(entry)
        else:
            entry.errors.append(str(detail))
            discard(entry)
            entry.cancelled = False  # still listed, with its error, until cancelled
        self.live.socket.changed.add("uploads")

    def _discard_uploads(self) -> None:
        uploads = self.live.socket.assigns.get("uploads") if hasattr(self, "live") else None
        if isinstance(uploads, Uploads):
            for config in uploads.all():
                for entry in config.entries:
                    discard(entry)

    @classmethod
    async def start_link(cls, *args: Any, name: Any = None, **kwargs: Any) -> otp.Pid | None:
        if otp.whereis(LIVE) is None:  # a bare socket without the node's tree: as a channel
            return await super().start_link(*args, name=name, **kwargs)
        async def start() -> otp.Pid | None:  # linked to hearth.live, its parent
            return await cls._start(args, kwargs, None, link=True)

        spec = ChildSpec(id="LiveView", start=start, restart="temporary")
        try:
            pid = await DynamicSupervisor.start_child(LIVE, spec)
        except ChildError as e:
            raise StartError(e.reason) from None
        if pid is not None:
            otp.link(pid)  # to the socket session: either one ending ends the other
        return pid

    # -- join -------------------------------------------------------------------------------

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        # Shared empties until the view's first async work: most views never start any, and
        # each of 10,000 views would keep two dicts and two lists for nothing.
        self.tasks = self.task_of = _NO_MAP  # type: ignore[assignment]
        self.cancelled = self.awaiting = _NO_LIST  # type: ignore[assignment]
        self._hooked = False
        ctx: LiveContext = socket.assigns["live_context"]
        view_id = topic.removeprefix("lv:")
        data = _open_session(ctx, payload.get("session"))
        if data is None or data.get("id") != view_id:
            log.info("live join refused: a session token that does not open for %s", topic)
            return Error({"reason": "stale"})
        if not socket.assigns.get("csrf_ok") or data.get("s") != socket.assigns.get(
                "session_ref") or data.get("c") != socket.assigns.get("browser_ref"):
            return Error({"reason": "stale"})  # another browser's page, or another session
        navigating = isinstance(payload.get("redirect"), str)
        url = payload.get("redirect") if navigating else payload.get("url")
        match = ctx.router.match(url) if isinstance(url, str) else None
        if match is None:
            return Error({"reason": "unauthorized" if navigating else "stale"})
        if navigating:
            if match.session.name != data.get("ls"):
                return Error({"reason": "unauthorized"})
        elif _view_name(match.route.view) != data.get("v"):
            return Error({"reason": "stale"})
        user = socket.assigns.get("current_user")
        lsocket = LiveSocket(view_id, True, uri=url or "", user=user)
        lsocket.assigns["live_action"] = match.route.action
        lsocket.assigns["current_user"] = user
        flash = open_flash(ctx.secret, payload.get("flash"))
        params = payload.get("params")
        first_mount = not isinstance(params, dict) or params.get("_mounts") in (0, None)
        if not flash and first_mount and not navigating and isinstance(data.get("f"), dict):
            flash = {str(k): str(v) for k, v in data["f"].items()}
        if flash:
            lsocket.assigns["flash"] = flash
        self.live = _Live(match.route.view(), lsocket, match)
        session = {**ctx.services, "current_user": user}
        if not await run_hooks(match.session.on_mount, match.params, session, lsocket):
            return self._refused_join(ctx, lsocket)
        view = self.live.view
        try:
            lsocket = _socket_of(await _call(view.mount(match.params, session, lsocket)),
                                 "mount", view)
        except NotFound:
            return Error({"reason": "reload", "status": 404})
        self.live.socket = lsocket
        if lsocket.navigation is None:
            lsocket = _socket_of(await _call(view.handle_params(match.params, lsocket.uri,
                                                                lsocket)),
                                 "handle_params", view)
            self.live.socket = lsocket
        nav = lsocket.navigation
        reply: dict[str, Any] = {}
        if nav is not None:
            if nav.kind != "patch":
                return self._refused_join(ctx, lsocket)
            lsocket.navigation = None
            patched = ctx.router.match(nav.to)
            if patched is not None and patched.route.view is match.route.view:
                lsocket.uri = nav.to
                assign(lsocket, live_action=patched.route.action)
                lsocket = _socket_of(await _call(view.handle_params(
                    patched.params, nav.to, lsocket)), "handle_params", view)
                self.live.socket = lsocket
                reply["live_patch"] = {"to": nav.to, "kind": _kind(nav)}
        rendered = (await self._diff()) or {}
        reply["rendered"] = rendered
        reply["liveview_version"] = LIVE_VERSION
        return Reply(reply, socket)

    def _refused_join(self, ctx: LiveContext, lsocket: LiveSocket) -> Error:
        nav = lsocket.navigation or Navigation("redirect", "/")
        refusal: dict[str, Any] = _navigation(ctx, lsocket, nav)
        if lsocket.events:
            refusal["events"] = lsocket.events
        return Error(refusal)

    # -- events -----------------------------------------------------------------------------

    async def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        if event == "event" and isinstance(payload, dict):
            return await self._event(payload, socket)
        if event == "live_patch" and isinstance(payload, dict):
            return await self._live_patch(payload.get("url"), socket)
        if event == "allow_upload" and isinstance(payload, dict):
            answer = await self._preflight(payload, socket)
            if isinstance(answer, Reply):
                return answer
            diff = await self._diff()
            if diff:
                answer["diff"] = diff
            return Reply(("ok", answer), socket)
        if event == "progress" and isinstance(payload, dict):
            self._progress(payload)
            return Reply(("ok", await self._diff_reply()), socket)
        if event == "cids_will_destroy" and isinstance(payload, dict):
            self.live.components.will_destroy(list(payload.get("cids") or []))
            return Reply(("ok", {}), socket)
        if event == "cids_destroyed" and isinstance(payload, dict):
            dropped = self.live.components.forget(list(payload.get("cids") or []))
            return Reply(("ok", {"cids": dropped}), socket)
        return Reply(("ok", {}), socket)

    async def _event(self, payload: dict[str, Any], socket: Socket) -> Any:
        live = self.live
        ctx: LiveContext = socket.assigns["live_context"]
        name = payload.get("event")
        kind = payload.get("type")
        value = payload.get("value")
        if not isinstance(name, str):
            return Reply(("error", {"reason": "an event needs a name"}), socket)
        if kind == "form":
            if not isinstance(value, str) or len(value) > ctx.max_event_bytes:
                return Reply(("error", {"reason": "form values too large or not a string"}),
                             socket)
            try:
                params = decode_form(value, ctx.max_form_fields)
            except ParamsError as e:
                return Reply(("error", {"reason": f"malformed form values: {e}"}), socket)
            chosen = payload.get("uploads")
            if isinstance(chosen, dict):
                for upload_ref, entries in chosen.items():
                    register_entries(live.socket, upload_ref, entries)
            meta = payload.get("meta")
            if isinstance(meta, dict):
                params.update({k: v for k, v in meta.items() if k != "_target"})
                if isinstance(meta.get("_target"), str):
                    params["_target"] = target_path(meta["_target"])
            value = params
        elif value is None:
            value = {}
        cid = payload.get("cid")
        if isinstance(cid, int) and not isinstance(cid, bool):
            return await self._component_event(cid, name, value, socket)
        if name == "lv:clear-flash":
            key = value.get("key") if isinstance(value, dict) else None
            clear_flash(live.socket, key if isinstance(key, str) else None)
            return Reply(("ok", await self._diff_reply()), socket)
        result = await _call(live.view.handle_event(name, value, live.socket))
        live.socket = _socket_of(result, "handle_event", live.view)
        hook_reply = result.reply if type(result) is Reply else None
        return await self._after(socket, hook_reply)

    def _progress(self, payload: dict[str, Any]) -> None:
        uploads = self.live.socket.assigns.get("uploads")
        config = uploads.by_ref(payload.get("ref")) if isinstance(uploads, Uploads) else None
        entry = config.entry(payload.get("entry_ref")) if config is not None else None
        progress = payload.get("progress")
        if entry is None:
            return
        if isinstance(progress, dict) and "error" in progress:
            reason = str(progress["error"])
            if reason in entry.errors:  # the upload channel may have said it already
                return
            entry.errors.append(reason)
        elif isinstance(progress, int) and entry.progress < progress <= 100 \
                and not entry.done:
            if entry.meta is not None:  # external: the client's word is all there is
                entry.progress = progress
                entry.done = progress == 100
            else:  # done is when the server has counted every byte
                entry.progress = min(progress, 99)
        else:
            return  # not forward: a flood of the same figure renders nothing
        self.live.socket.changed.add("uploads")

    async def _component_event(self, cid: int, name: str, value: Any, socket: Socket) -> Any:
        instance = self.live.components.by_cid.get(cid)
        if instance is None:  # removed meanwhile: nothing to do, as in Phoenix
            return Reply(("ok", {}), socket)
        component = instance.component
        result = await _call(component.handle_event(name, value, instance.socket))
        instance.socket = _checked(result, component, "handle_event")
        diff = await self._diff(only=[instance])
        return Reply(("ok", {"diff": diff} if diff else {}), socket)

    async def _live_patch(self, url: Any, socket: Socket) -> Any:
        ctx: LiveContext = socket.assigns["live_context"]
        live = self.live
        match = ctx.router.match(url) if isinstance(url, str) else None
        if match is None or match.route.view is not live.match.route.view:
            return Reply(("ok", {"link_redirect": True}), socket)
        live.match = match
        live.socket.uri = url
        assign(live.socket, live_action=match.route.action)
        result = await _call(live.view.handle_params(match.params, url, live.socket))
        live.socket = _socket_of(result, "handle_params", live.view)
        return await self._after(socket, None)

    async def _after(self, socket: Socket, hook_reply: Any) -> Any:
        """The reply to a client's push, once the view handled it."""
        ctx: LiveContext = socket.assigns["live_context"]
        live = self.live
        nav = await self._patched(socket, ctx)
        if nav is not None:
            response = _navigation(ctx, live.socket, nav)
            diff = await self._diff()
            if diff:
                socket.conn.push(socket.join_ref, socket.topic, "diff", diff)
            return Stop(("shutdown", "navigated"), socket, reply=("ok", response))
        response = await self._diff_reply()
        if hook_reply is not None:
            response.setdefault("diff", {})["r"] = hook_reply
        return Reply(("ok", response), socket)

    async def _patched(self, socket: Socket, ctx: LiveContext) -> Navigation | None:
        """Carry out a ``push_patch`` the view asked for (``live_patch`` to the client, then
        ``handle_params``); the navigation still to do, if any (a patch to another view is a
        live navigation)."""
        live = self.live
        nav = live.socket.navigation
        live.socket.navigation = None
        if nav is None or nav.kind != "patch":
            return nav
        match = ctx.router.match(nav.to)
        if match is None or match.route.view is not live.match.route.view:
            return Navigation("navigate", nav.to, nav.replace)
        socket.conn.push(socket.join_ref, socket.topic, "live_patch",
                         {"to": nav.to, "kind": _kind(nav)})
        live.match = match
        live.socket.uri = nav.to
        assign(live.socket, live_action=match.route.action)
        result = await _call(live.view.handle_params(match.params, nav.to, live.socket))
        live.socket = _socket_of(result, "handle_params", live.view)
        after = live.socket.navigation
        live.socket.navigation = None
        return after

    async def _diff(self, only: list[Any] | None = None) -> dict[str, Any] | None:
        """Start the work the callbacks asked for, then the diff of what they changed (of
        the component instances ``only``, after one of their own events)."""
        live = self.live
        await self._start_work()
        while self.cancelled:  # handle_async of what was cancelled, before the render
            name, reason = self.cancelled.pop(0)
            result = await _call(live.view.handle_async(name, ("exit", reason), live.socket))
            live.socket = _socket_of(result, "handle_async", live.view)
            await self._start_work()
        lsocket = live.socket
        changed = None if live.prints is None else frozenset(lsocket.changed)
        if only is not None:
            diff, _ = await render_view(None, None, None, live.components, only)
            return diff
        diff, live.prints = await render_view(live.view.render(lsocket.assigns), live.prints,
                                              changed, live.components)
        lsocket.assigns["streams"].prune()
        title = lsocket.assigns.get("page_title")
        if title is not None and (changed is None or "page_title" in changed):
            diff = diff or {}
            diff["t"] = str(title)
        lsocket.changed.clear()
        if lsocket.events:
            diff = diff or {}
            diff["e"] = lsocket.events
            lsocket.events = []
        return diff

    async def _diff_reply(self) -> dict[str, Any]:
        diff = await self._diff()
        return {"diff": diff} if diff else {}

    # -- async work (assign_async, start_async) ----------------------------------------------

    async def _start_work(self) -> None:
        lsocket = self.live.socket
        if not lsocket.work:
            return
        work, lsocket.work = lsocket.work, []
        if not self._hooked:
            self.tasks, self.task_of = {}, {}
            # A view that exits, however, takes its tasks with it.
            self._on_exit(lambda _proc, _reason: self._shutdown_tasks())
            self._hooked = True
        for item in work:
            if item.kind == "cancel":
                self._cancel(item.name, item.reason)
                continue
            keys = item.name if item.kind == "assign" else (item.name,)
            for key in keys:  # superseded: its result, late, is dropped
                self._drop_task((item.kind, key))
            task = await TaskSupervisor.async_nolink(TASKS, _run_work, item.fn, item.dirty)
            self.tasks[task.ref] = (item, task)
            for key in keys:
                self.task_of[(item.kind, key)] = task.ref

    def _drop_task(self, key: tuple[str, Any]) -> AsyncWork | None:
        ref = self.task_of.get(key)  # (a read-only empty until the first work)
        if ref is None:
            return None
        del self.task_of[key]
        item, task = self.tasks.pop(ref)
        task.shutdown()
        keys = item.name if item.kind == "assign" else (item.name,)
        for other in keys:
            self.task_of.pop((item.kind, other), None)
        return item

    def _cancel(self, name: Any, reason: Any) -> None:
        started = self._drop_task(("start", name))
        if started is not None:
            if self.cancelled is _NO_LIST:
                self.cancelled = []
            self.cancelled.append((name, reason))
        assigned = self._drop_task(("assign", name))
        if assigned is not None:
            self._settle_assign(assigned, ("exit", reason))

    def _shutdown_tasks(self) -> None:
        for _item, task in self.tasks.values():
            task.shutdown()
        self.tasks.clear()
        self.task_of.clear()

    def _settle_assign(self, item: AsyncWork, outcome: tuple[str, Any]) -> None:
        lsocket = self.live.socket
        kind, value = outcome
        for key in item.name:
            previous = lsocket.assigns.get(key)
            held = previous if isinstance(previous, AsyncResult) else None
            if kind == "ok" and isinstance(value, dict) and key in value:
                result = AsyncResult.done(value[key])
            elif kind == "ok" and isinstance(value, tuple) and len(value) == 2 \
                    and value[0] == "error":
                result = AsyncResult.fail(value[1], held)
            elif kind == "ok":
                result = AsyncResult.fail(f"assign_async returned no {key!r}: {value!r}", held)
            else:
                result = AsyncResult.fail(value if kind == "error" else ("exit", value), held)
            assign(lsocket, {key: result})

    async def _task_done(self, ref: Any, outcome: tuple[str, Any], socket: Socket) -> Any:
        item, _task = self.tasks.pop(ref)
        keys = item.name if item.kind == "assign" else (item.name,)
        for key in keys:
            self.task_of.pop((item.kind, key), None)
        live = self.live
        if item.kind == "assign":
            kind, value = outcome
            if kind == "exit" and isinstance(value, BaseException):
                outcome = ("error", value)  # the work raised: that is the reason
            self._settle_assign(item, outcome)
        else:
            kind, value = outcome
            if kind == "exit" and isinstance(value, BaseException):
                outcome = ("exit", value)
            result = await _call(live.view.handle_async(item.name, outcome, live.socket))
            live.socket = _socket_of(result, "handle_async", live.view)
        answer = await self._pushed(socket)
        if not self.tasks:
            waiting, self.awaiting = self.awaiting, []
            for from_ in waiting:
                otp_reply(from_, True)
        return answer

    async def _pushed(self, socket: Socket) -> Any:
        """After a message the client did not ask for: push what changed, or navigate."""
        ctx: LiveContext = socket.assigns["live_context"]
        live = self.live
        nav = await self._patched(socket, ctx)
        diff = await self._diff()
        if diff:  # before a redirect too: its events and flash changes
            socket.conn.push(socket.join_ref, socket.topic, "diff", diff)
        if nav is None:
            return NoReply(socket)
        event = "redirect" if nav.kind == "redirect" else "live_redirect"
        payload = _navigation(ctx, live.socket, nav)[event]
        socket.conn.push(socket.join_ref, socket.topic, event, payload)
        return Stop(("shutdown", "navigated"), socket)

    # -- other messages ---------------------------------------------------------------------

    def handle_info(self, msg: Any, socket: Socket) -> Any:
        # A view's PubSub broadcasts are its own messages (handle_info), not pushes to relay.
        if type(msg) is In:
            # What a crash report shows as the last message: the push and the event's name,
            # never the values (a form's fields may be secrets).
            self._last = In(msg.ref, msg.event, _summary(msg.payload))
            return self._handle_in(msg, socket)
        return self.handle_message(msg, socket)

    def handle_message(self, msg: Any, socket: Socket) -> Any:
        if type(msg) is Exit and msg.pid == socket.session:
            return Stop(("shutdown", "closed"), socket)
        if type(msg) in (TaskReply, Down) and msg.ref not in self.tasks:
            return NoReply(socket)  # a superseded or cancelled task's: dropped
        return self._view_info(msg, socket)

    async def _view_info(self, msg: Any, socket: Socket) -> Any:
        t = type(msg)
        if t is tuple and msg and msg[0] in (UPLOAD_DONE, UPLOAD_ERROR):
            self._upload_ended(msg)
            return await self._pushed(socket)
        if t is _SendUpdate:
            instance = self.live.components.lookup(msg.cls, msg.id)
            if instance is not None:
                instance.pending.append(msg.assigns)
                diff = await self._diff(only=[instance])
                if diff:
                    socket.conn.push(socket.join_ref, socket.topic, "diff", diff)
            return NoReply(socket)
        if t is TaskReply and msg.ref in self.tasks:
            return await self._task_done(msg.ref, ("ok", msg.value), socket)
        if t is Down and msg.ref in self.tasks:
            return await self._task_done(msg.ref, ("exit", msg.reason), socket)
        live = self.live
        result = await _call(live.view.handle_info(msg, live.socket))
        live.socket = _socket_of(result, "handle_info", live.view)
        return await self._pushed(socket)

    async def terminate(self, reason: Any, socket: Socket) -> None:
        live = getattr(self, "live", None)
        if live is not None:
            await _call(live.view.terminate(reason, live.socket))

    def _info(self) -> dict[str, Any]:
        """What ``hearth ps``/``info`` and crash reports show: the view and its path."""
        info = super()._info()
        live = getattr(self, "live", None)
        if live is not None:
            info["behaviour"] = f"live:{live.match.route.view.__qualname__}"
            info["live_view"] = _view_name(live.match.route.view)
            info["path"] = live.match.path
            info["live_components"] = len(live.components.by_cid)
        return info


def _summary(payload: Any) -> Any:
    """A client push as logs may show it: its kind, its event and its target, no values."""
    if not isinstance(payload, dict):
        return "<payload>"
    kept = {key: payload[key] for key in ("type", "event", "cid") if key in payload}
    if "value" in payload:
        kept["value"] = "<not shown>"
    return kept


async def _run_work(fn: Any, dirty: bool) -> Any:
    """The body of an async task: ``fn()``, awaited if it is a coroutine; on the dirty pool
    when it blocks."""
    if dirty:
        return await otp.run_dirty(fn)
    return await _call(fn())


def _kind(nav: Navigation) -> str:
    return "replace" if nav.replace else "push"


def _navigation(ctx: LiveContext, lsocket: LiveSocket, nav: Navigation) -> dict[str, Any]:
    flash = seal_flash(ctx.secret, lsocket.assigns.get("flash") or {})
    if nav.kind == "redirect":
        target: dict[str, Any] = {"to": nav.to}
        if flash:
            target["flash"] = flash
        return {"redirect": target}
    target = {"to": nav.to, "kind": _kind(nav)}
    if flash:
        target["flash"] = flash
    return {"live_redirect": target}


def _open_session(ctx: LiveContext, token: Any) -> dict[str, Any] | None:
    if not isinstance(token, str):
        return None
    try:
        data = tokens.decrypt(ctx.secret, SALT, token, max_age=ctx.session_max_age)
    except tokens.TokenError:
        return None
    return data if isinstance(data, dict) else None
