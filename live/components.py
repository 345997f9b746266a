"""Stateful live components (Phoenix's ``LiveComponent``, seed Example 29).

A component is state inside its view's process, not a process of its own. A template calls
it with ``{live_component(CartComponent, id="cart-a", catalog=@catalog)}``; each
``(class, id)`` is one instance with its own assigns and its own change tracking, named on
the wire by a cid (1, 2, ... never reused while the client may hold it) and sent in the
diff's ``"c"`` map. Its template must render exactly one root element (the client marks it
``data-phx-component``); one that does not is refused when it renders.

::

    class CartComponent(LiveComponent):
        template = Template('''
          <div class="cart" id={@id}>
            <button :for={p in @catalog} phx-click="add" phx-value-id={p.id}
                    phx-target={@myself}>Add {p.name}</button>
            <p>{len(@items)} items</p>
          </div>''')

        def mount(self, socket):
            return Ok(assign(socket, items=[]))

        def handle_event(self, event, value, socket):
            ...
            return NoReply(socket)

``mount(socket)`` runs once per instance; ``update(assigns, socket)`` each time the parent
renders the call (by default it assigns them all; only changed values count as changes);
``handle_event`` gets the events of elements with ``phx-target={@myself}``;
``send_update(CartComponent, "cart-a", items=[])`` from the view (or, with ``pid=``, from
any process) updates an instance. When the client has removed an instance's element it says
so (``cids_will_destroy``, ``cids_destroyed``) and the instance is forgotten, unless the
parent rendered it again meanwhile.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import otp
from otp import NoReply, Ok

from .streams import Streams
from .template import Assigns, Rendered, Template, TemplateError
from .view import LiveSocket, assign

__all__ = ["ComponentCall", "Components", "LiveComponent", "live_component", "send_update"]


class LiveComponent:
    """Base class of live components; see the module docstring."""

    template: ClassVar[Template | None] = None

    def mount(self, socket: LiveSocket) -> Any:
        return Ok(socket)

    def update(self, assigns: dict[str, Any], socket: LiveSocket) -> Any:
        return Ok(assign(socket, assigns))

    # Defined by a component that updates all its instances of one render at once (one
    # query for all of them): ``update_many([(assigns, socket), ...])`` -> the sockets, in
    # order; then ``update`` is not called.
    update_many: ClassVar[Any] = None

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        raise ValueError(f"{type(self).__name__} has no handle_event for {event!r}")

    def render(self, assigns: Assigns) -> Rendered:
        if self.template is None:
            raise NotImplementedError(f"{type(self).__name__} has no template and no render")
        return self.template(assigns)


@dataclass(frozen=True, eq=False)
class ComponentCall:
    """``live_component(Module, id=..., **assigns)`` in a template."""

    cls: type[LiveComponent]
    id: Any
    assigns: dict[str, Any]


def live_component(cls: type[LiveComponent], id: Any, **assigns: Any) -> ComponentCall:
    """An instance of ``cls`` named ``id`` in this view, given ``assigns``."""
    if not (isinstance(cls, type) and issubclass(cls, LiveComponent)):
        raise TypeError(f"live_component needs a LiveComponent class, not {cls!r}")
    return ComponentCall(cls, id, {**assigns, "id": id})


@dataclass(frozen=True)
class _SendUpdate:
    cls: type[LiveComponent]
    id: Any
    assigns: dict[str, Any]


def send_update(cls: type[LiveComponent], id: Any, *, pid: Any = None, **assigns: Any) -> None:
    """Update the instance ``(cls, id)`` of the view at ``pid`` (default: the calling view)
    with ``assigns``, as its parent rendering it would; it renders at once."""
    otp.send(pid if pid is not None else otp.self(), _SendUpdate(cls, id, dict(assigns)))


@dataclass(eq=False)
class _Instance:
    cid: int
    component: LiveComponent
    socket: LiveSocket
    prints: Any = None
    mounted: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)


_current: contextvars.ContextVar[Components | None] = contextvars.ContextVar(
    "live_components", default=None)


def current_components() -> Components | None:
    """The view's components while its render runs (``None`` in an HTTP render)."""
    return _current.get()


class Components:
    """A view's component instances, by ``(class, id)`` and by cid."""

    __slots__ = ("_called", "by_cid", "by_key", "connected", "marked", "next_cid", "view_id")

    def __init__(self, view_id: str, connected: bool) -> None:
        self.view_id = view_id
        self.connected = connected
        self.by_key: dict[tuple[type[LiveComponent], Any], _Instance] = {}
        self.by_cid: dict[int, _Instance] = {}
        self.next_cid = 1
        # The cids the client said it will destroy (cids_will_destroy), not rendered since:
        # cids_destroyed forgets these, and only these.
        self.marked: set[int] = set()
        self._called: list[_Instance] = []

    @contextmanager
    def rendering(self) -> Iterator[None]:
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    def call(self, call: ComponentCall) -> int:
        """The cid of the instance ``call`` names (made if new); its assigns are queued for
        its update, which runs once the view's own render is done."""
        key = (call.cls, call.id)
        instance = self.by_key.get(key)
        if instance is None:
            cid = self.next_cid
            self.next_cid += 1
            socket = LiveSocket(f"{self.view_id}:{cid}", self.connected)
            socket.assigns["myself"] = cid
            socket.assigns["streams"] = Streams(prefix=f"{cid}-")
            instance = _Instance(cid, call.cls(), socket)
            self.by_key[key] = instance
            self.by_cid[cid] = instance
        instance.pending.append(call.assigns)
        self._called.append(instance)
        self.marked.discard(instance.cid)
        return instance.cid

    def take_called(self) -> list[_Instance]:
        called, self._called = self._called, []
        return called

    def will_destroy(self, cids: list[Any]) -> None:
        """The client removed these instances' elements from the page."""
        self.marked.update(cid for cid in cids if isinstance(cid, int) and cid in self.by_cid)

    def forget(self, cids: list[Any]) -> list[int]:
        """Drop the instances the client has removed, unless rendered again since it said
        it would; the cids dropped."""
        dropped = []
        for cid in cids:
            if not isinstance(cid, int) or cid not in self.marked:
                continue
            self.marked.discard(cid)
            instance = self.by_cid.pop(cid, None)
            if instance is not None:
                self.by_key.pop((type(instance.component), _id_of(instance)), None)
                dropped.append(cid)
        return dropped

    def lookup(self, cls: type[LiveComponent], id: Any) -> _Instance | None:
        return self.by_key.get((cls, id))


def _id_of(instance: _Instance) -> Any:
    return instance.socket.assigns.get("id")


async def _call(result: Any) -> Any:
    if isinstance(result, Awaitable):
        return await result
    return result


async def prepare(instance: _Instance, update: bool = True) -> None:
    """Mount (once) and update ``instance`` with the assigns its callers queued."""
    component = instance.component
    if not instance.mounted:
        result = await _call(component.mount(instance.socket))
        instance.socket = _checked(result, component, "mount")
        instance.mounted = True
    if not update:
        return
    pending, instance.pending = instance.pending, []
    for assigns in pending:
        result = await _call(component.update(assigns, instance.socket))
        instance.socket = _checked(result, component, "update")


async def _prepare_all(instances: list[_Instance]) -> None:
    """Mount and update each instance; those of a class with ``update_many`` together."""
    grouped: dict[type[LiveComponent], list[_Instance]] = {}
    for instance in instances:
        cls = type(instance.component)
        if cls.update_many is None:
            await prepare(instance)
        else:
            grouped.setdefault(cls, []).append(instance)
    for cls, group in grouped.items():
        batch = []
        for instance in group:
            await prepare(instance, update=False)
            for assigns in instance.pending[:-1]:
                assign(instance.socket, assigns)
            batch.append((instance.pending[-1] if instance.pending else {}, instance.socket))
            instance.pending = []
        result = await _call(group[0].component.update_many(batch))
        sockets = list(result)
        if len(sockets) != len(group) or not all(isinstance(x, LiveSocket) for x in sockets):
            raise TypeError(f"{cls.__name__}.update_many must return one socket per "
                            f"(assigns, socket) it was given, in order, not {result!r}")
        for instance, socket in zip(group, sockets, strict=True):
            instance.socket = socket


def render_of(instance: _Instance) -> Rendered:
    """The instance's render, refused unless it is exactly one root element."""
    rendered = instance.component.render(instance.socket.assigns)
    if not rendered.part.root:
        raise TemplateError(
            f"{type(instance.component).__name__} must render exactly one root element (a "
            "live component's root carries data-phx-component)")
    return rendered


async def render_view(rendered: Rendered | None, prints: Any, changed: frozenset[str] | None,
                      components: Components,
                      only: list[_Instance] | None = None) -> tuple[dict[str, Any] | None, Any]:
    """The view's diff with its components' in ``"c"``: the view renders (unless ``only``
    names the instances to render, for a component's own event), then each instance its
    render called, updated first, until no more are called."""
    from .diff import render

    diff: dict[str, Any] | None = None
    if only is None:
        assert rendered is not None
        with components.rendering():
            diff, prints = render(rendered, prints, changed)
        todo = components.take_called()
    else:
        todo = list(only)
    done: dict[str, Any] = {}
    seen: set[int] = set()
    while todo:
        fresh = [i for i in dict.fromkeys(todo) if i.cid not in seen]
        await _prepare_all(fresh)
        for instance in fresh:
            seen.add(instance.cid)
            socket = instance.socket
            held = instance.prints
            with components.rendering():
                part_diff, instance.prints = render(
                    render_of(instance), held, None if held is None else frozenset(
                        socket.changed))
            socket.changed.clear()
            socket.assigns["streams"].prune()
            if part_diff is not None:
                if "s" in part_diff:
                    part_diff["r"] = 1  # a component node is exactly one element
                done[str(instance.cid)] = part_diff
        todo = components.take_called()
    if done:
        diff = diff or {}
        diff["c"] = done
    return diff, prints


def _checked(result: Any, component: LiveComponent, callback: str) -> LiveSocket:
    state = getattr(result, "state", None)
    if type(result) in (Ok, NoReply) and isinstance(state, LiveSocket):
        return state
    raise TypeError(f"{type(component).__name__}.{callback} returned {result!r}, not "
                    "Ok(socket) or NoReply(socket)")
