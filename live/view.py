"""The LiveView programming model: a class of callbacks, and the socket they change.

::

    class CounterLive(LiveView):
        template = Template('''
          <section><h1>Count: {@count}</h1>
            <button phx-click="inc">+</button> <button phx-click="dec">-</button></section>''')

        async def mount(self, params, session, socket):
            return Ok(assign(socket, count=0, page_title="Counter"))

        async def handle_event(self, event, value, socket):
            step = {"inc": 1, "dec": -1}[event]  # any other event crashes the view
            return NoReply(update(socket, "count", lambda n: n + step))

Callbacks (each may be a coroutine or a plain function):

- ``mount(params, session, socket)`` -> ``Ok(socket)``: once for the HTTP render
  (``connected(socket)`` is false) and again when the client joins (true);
- ``handle_params(params, uri, socket)`` -> ``NoReply(socket)``: after mount and on each
  ``push_patch``/live patch;
- ``handle_event(event, value, socket)`` -> ``NoReply(socket)``, or ``Reply(dict, socket)``
  for a hook's ``pushEvent`` reply;
- ``handle_info(msg, socket)`` -> ``NoReply(socket)``: any other message (a PubSub broadcast);
- ``render(assigns)``: the class's ``template`` applied to the assigns, by default;
- ``terminate(reason, socket)``.

The functions below change the socket and return it. Assign new values rather than
mutating old ones: a change is seen by comparing the value assigned with the one held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from otp import NoReply, Ok, Reply

from .streams import Streams
from .template import Assigns, Rendered, Template

__all__ = [
    "AsyncResult",
    "LiveSocket",
    "LiveView",
    "NoReply",
    "NotFound",
    "Ok",
    "Reply",
    "assign",
    "assign_async",
    "assign_new",
    "cancel_async",
    "clear_flash",
    "connected",
    "push_event",
    "push_navigate",
    "push_patch",
    "put_flash",
    "redirect",
    "start_async",
    "stream",
    "stream_delete",
    "stream_delete_by_dom_id",
    "stream_insert",
    "update",
]


@dataclass(frozen=True)
class Navigation:
    """What the view asked the client to do next: ``kind`` is ``"patch"``,
    ``"navigate"`` or ``"redirect"``."""

    kind: str
    to: str
    replace: bool = False


@dataclass(eq=False, slots=True)
class LiveSocket:
    """The state of one view: its assigns and what changed since the last render."""

    id: str
    connected: bool
    assigns: Assigns = field(default_factory=Assigns)
    changed: set[str] = field(default_factory=set)
    events: list[list[Any]] = field(default_factory=list)
    navigation: Navigation | None = None
    uri: str = ""
    user: Any = None
    private: dict[str, Any] = field(default_factory=dict)
    work: list[AsyncWork] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.assigns.setdefault("flash", {})
        self.assigns.setdefault("streams", Streams())
        self.assigns.setdefault("live_action", None)

    def assign(self, **values: Any) -> LiveSocket:
        return assign(self, **values)


def connected(socket: LiveSocket) -> bool:
    """Whether this is the WebSocket mount (true) or the page's HTTP render (false)."""
    return socket.connected


def assign(socket: LiveSocket, values: Mapping[str, Any] | None = None, /,
           **more: Any) -> LiveSocket:
    """Set assigns; only those whose value differs from the one held count as changed."""
    assigns = socket.assigns
    for key, value in {**(values or {}), **more}.items():
        if key not in assigns or (assigns[key] is not value and assigns[key] != value):
            assigns[key] = value
            socket.changed.add(key)
    return socket


def update(socket: LiveSocket, key: str, fn: Callable[[Any], Any]) -> LiveSocket:
    """``key`` set to ``fn(old value)``; a missing key is an error naming it."""
    return assign(socket, {key: fn(socket.assigns[key])})


def assign_new(socket: LiveSocket, key: str, fn: Callable[[], Any]) -> LiveSocket:
    """``key`` set to ``fn()`` unless it is set already (by an on_mount hook, say)."""
    if key not in socket.assigns:
        assign(socket, {key: fn()})
    return socket


def put_flash(socket: LiveSocket, kind: str, message: str) -> LiveSocket:
    """A flash shown by the layout now, and carried across a redirect."""
    return assign(socket, flash={**socket.assigns["flash"], kind: message})


def clear_flash(socket: LiveSocket, kind: str | None = None) -> LiveSocket:
    flash = {} if kind is None else {k: v for k, v in socket.assigns["flash"].items()
                                     if k != kind}
    return assign(socket, flash=flash)


def push_event(socket: LiveSocket, event: str, payload: Mapping[str, Any]) -> LiveSocket:
    """An event for the page's hooks and ``phx:<event>`` listeners, with the next diff."""
    socket.events.append([event, dict(payload)])
    return socket


def push_patch(socket: LiveSocket, to: str, replace: bool = False) -> LiveSocket:
    """Change the URL within this view: ``handle_params`` runs, the page is not reloaded."""
    socket.navigation = Navigation("patch", _local(to), replace)
    return socket


def push_navigate(socket: LiveSocket, to: str, replace: bool = False) -> LiveSocket:
    """Go to another live view of the same live session over the same socket."""
    socket.navigation = Navigation("navigate", _local(to), replace)
    return socket


def redirect(socket: LiveSocket, to: str) -> LiveSocket:
    """A full page load of ``to`` (a local path)."""
    socket.navigation = Navigation("redirect", _local(to))
    return socket


def _local(to: str) -> str:
    if not to.startswith("/") or to.startswith("//"):
        raise ValueError(f"not a local path: {to!r} (redirect to a path of this site)")
    return to


# -- streams ------------------------------------------------------------------------------------


def stream(socket: LiveSocket, name: str, items: Iterable[Any], *, at: int = -1,
           limit: int | None = None, reset: bool = False,
           dom_id: Callable[[Any], str] | None = None) -> LiveSocket:
    """Queue ``items`` into the stream ``name`` (made on first use) for the next render."""
    socket.assigns["streams"].configure(name, items, at=at, limit=limit, reset=reset,
                                        dom_id=dom_id)
    socket.changed.add("streams")
    return socket


def stream_insert(socket: LiveSocket, name: str, item: Any, *, at: int = -1,
                  limit: int | None = None, update_only: bool = False) -> LiveSocket:
    socket.assigns["streams"].get(name).insert(item, at, limit, update_only)
    socket.changed.add("streams")
    return socket


def stream_delete(socket: LiveSocket, name: str, item: Any) -> LiveSocket:
    target = socket.assigns["streams"].get(name)
    target.delete_by_dom_id(target.dom_id(item))
    socket.changed.add("streams")
    return socket


def stream_delete_by_dom_id(socket: LiveSocket, name: str, dom_id: str) -> LiveSocket:
    socket.assigns["streams"].get(name).delete_by_dom_id(dom_id)
    socket.changed.add("streams")
    return socket


# -- async work ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsyncResult:
    """An assign loaded by :func:`assign_async`: ``loading`` while the work runs (the old
    ``result`` kept, unless reset), then ``ok`` with the ``result``, or ``failed`` with the
    reason (an exception, a returned error, or ``("exit", reason)`` when the work died)."""

    loading: bool = False
    ok: bool = False
    result: Any = None
    failed: Any = None

    @classmethod
    def pending(cls, previous: AsyncResult | None = None) -> AsyncResult:
        kept = previous.result if previous is not None and previous.ok else None
        return cls(loading=True, ok=previous.ok if previous else False, result=kept)

    @classmethod
    def done(cls, result: Any) -> AsyncResult:
        return cls(ok=True, result=result)

    @classmethod
    def fail(cls, reason: Any, previous: AsyncResult | None = None) -> AsyncResult:
        kept = previous.result if previous is not None and previous.ok else None
        return cls(ok=previous.ok if previous else False, result=kept, failed=reason)


@dataclass(frozen=True)
class AsyncWork:
    """Work a callback asked for, started by the view's process once the callback returns:
    ``kind`` is ``"assign"`` (``keys``) or ``"start"`` (``name``), or ``"cancel"``."""

    kind: str
    name: Any
    fn: Callable[[], Any] | None = None
    dirty: bool = False
    reason: Any = None


def assign_async(socket: LiveSocket, keys: str | Iterable[str], fn: Callable[[], Any], *,
                 reset: bool = False, dirty: bool = False) -> LiveSocket:
    """Load ``keys`` with ``fn()`` in a task; each key is an :class:`AsyncResult`, loading
    until ``fn`` returns a dict holding every key (or raises, or returns ``("error",
    reason)``: failed). As in Phoenix, a key loaded before keeps its result while it loads
    again, unless ``reset``. ``fn`` may be a coroutine function; a blocking one says
    ``dirty=True`` and runs on the dirty pool. Nothing starts in the HTTP render."""
    names = (keys,) if isinstance(keys, str) else tuple(keys)
    for key in names:
        previous = socket.assigns.get(key)
        held = previous if isinstance(previous, AsyncResult) and not reset else None
        assign(socket, {key: AsyncResult.pending(held)})
    if socket.connected:
        socket.work.append(AsyncWork("assign", names, fn, dirty))
    return socket


def start_async(socket: LiveSocket, name: Any, fn: Callable[[], Any], *,
                dirty: bool = False) -> LiveSocket:
    """Run ``fn()`` in a task; its outcome comes to ``handle_async(name, result, socket)``
    as ``("ok", value)`` or ``("exit", reason)``. Starting ``name`` again supersedes the
    running task: its result, late, is dropped."""
    if socket.connected:
        socket.work.append(AsyncWork("start", name, fn, dirty))
    return socket


def cancel_async(socket: LiveSocket, name: Any, reason: Any = "cancel") -> LiveSocket:
    """Stop the work of ``start_async(name)`` (``handle_async`` gets ``("exit", reason)``)
    or of ``assign_async`` for a key (the key fails with ``("exit", reason)``)."""
    socket.work.append(AsyncWork("cancel", name, reason=reason))
    return socket


# -- the behaviour ----------------------------------------------------------------------------


class LiveView:
    """Base class of live views; see the module docstring."""

    template: ClassVar[Template | None] = None

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(socket)

    def handle_params(self, params: dict[str, Any], uri: str, socket: LiveSocket) -> Any:
        return NoReply(socket)

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        raise UnknownEvent(f"{type(self).__name__} has no handle_event for {event!r}")

    def handle_info(self, msg: Any, socket: LiveSocket) -> Any:
        return NoReply(socket)

    def handle_async(self, name: Any, result: tuple[str, Any], socket: LiveSocket) -> Any:
        """The outcome of ``start_async(name)``: ``("ok", value)`` or ``("exit", reason)``."""
        return NoReply(socket)

    def render(self, assigns: Assigns) -> Rendered:
        if self.template is None:
            raise NotImplementedError(f"{type(self).__name__} has no template and no render")
        return self.template(assigns)

    def terminate(self, reason: Any, socket: LiveSocket) -> Any:
        return None


class NotFound(Exception):
    """Raised by ``mount`` for what does not exist (a post id nobody has): the page's HTTP
    render answers 404 with the site's not-found page, and a join is refused so the client
    loads that page."""

    def __init__(self, what: str) -> None:
        super().__init__(f"no such {what}")
        self.what = what


class UnknownEvent(Exception):
    """A view was sent an event it does not handle: it crashes, as in Phoenix."""
