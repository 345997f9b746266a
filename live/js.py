"""Phoenix.LiveView.JS commands: build them in Python, put them in a ``phx-*`` attribute.

A :class:`JS` value is an immutable chain of commands that the phoenix_live_view client runs
in the browser (``assets/js/phoenix_live_view/js.js``). Every command is a method that
returns a new chain with the command appended; called on the class, it starts a new chain::

    JS.push("inc", value={"by": 2}).toggle(to="#menu")   # starts a chain
    JS().push("inc", value={"by": 2}).toggle(to="#menu")  # the same chain
    hide_modal = JS.hide(to="#modal", transition="fade-out")
    js = hide_modal.focus(to="#opener")                  # hide_modal is unchanged

``str(js)`` and ``js.encode()`` give the JSON the client reads, compact and with sorted keys,
as Phoenix emits it: ``[["push",{"event":"inc","value":{"by":2}}],["toggle",{"to":"#menu"}]]``.
It is not HTML-escaped: the template engine escapes it when it renders the attribute.
``js.to_encodable()`` gives the same as lists and dicts, for a ``push_event`` payload.

Names and options are Phoenix's (``in`` is ``in_`` here, as ``in`` is a Python keyword); the
required argument is positional, the options are keywords. An option left out (None) is
left out of the encoding, and the client applies its default (``time`` 200 ms, ``display``
``"block"``, ``bubbles`` true, ``blocking`` true). The common options:

* ``to``: the elements a command acts on, by default the interacted element. A CSS selector
  (``"#modal"``), or one scope: ``{"closest": sel}`` (the nearest ancestor, the element
  itself included), ``{"inner": sel}`` (inside the element), ``{"document": sel}`` (the same
  as the plain selector).
* ``transition`` (``in_`` and ``out`` for toggle): classes for the transition, as a string
  (``"fade-out"``) or a 3-tuple ``(transition, start, end)`` such as
  ``("ease-out duration-300", "opacity-0", "opacity-100")``.
* ``time``: the transition's length in milliseconds; ``blocking``: False lets the page
  update during the transition.

A missing or mistyped argument raises TypeError, a bad value (an unknown ``to`` scope, a
``mailto:`` destination, an empty event name) raises ValueError; both name the command and
the argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MethodType
from typing import Any, Concatenate, Generic, NoReturn, ParamSpec, cast

import orjson

__all__ = ["JS", "Selector", "Transition"]

Selector = str | Mapping[str, str]
"""A ``to`` target: a CSS selector, or ``{"closest" | "inner" | "document": selector}``."""

Transition = str | tuple[str, str, str]
"""Transition classes: ``"classes"``, or ``(transition classes, start classes, end classes)``."""

_SCOPES = ("closest", "inner", "document")
_NAVIGATION_SCHEMES = ("http", "https")

P = ParamSpec("P")


class _Command(Generic[P]):
    """A JS method that, looked up on the class rather than a chain, starts a new chain."""

    def __init__(self, build: Callable[Concatenate[JS, P], JS]) -> None:
        self._build = build
        self.__doc__ = build.__doc__
        self.__wrapped__ = build  # for inspect.signature and help()

    def __get__(self, js: JS | None, owner: type | None = None) -> Callable[P, JS]:
        return cast("Callable[P, JS]", MethodType(self._build, JS() if js is None else js))


class JS:
    """An immutable chain of Phoenix.LiveView.JS commands; each method returns a new chain."""

    __slots__ = ("_ops",)
    _ops: tuple[str, ...]  # each command encoded on its own, '["kind",{args}]'

    def __init__(self) -> None:
        object.__setattr__(self, "_ops", ())

    def _put(self, kind: str, **args: Any) -> JS:
        """Return a new chain with the command ``kind`` appended; None arguments are left out."""
        encoded = orjson.dumps(
            [kind, {name: value for name, value in args.items() if value is not None}],
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        chain = JS()
        object.__setattr__(chain, "_ops", (*self._ops, encoded))
        return chain

    # -- rendering ------------------------------------------------------------------------

    def encode(self) -> str:
        """The JSON list of ``[kind, args]`` pairs the client runs (not HTML-escaped)."""
        return "[" + ",".join(self._ops) + "]"

    def __html_attr__(self) -> str:
        """What a template writes for ``phx-click={JS...}`` (it escapes it)."""
        return self.encode()

    def to_encodable(self) -> list[list[Any]]:
        """The commands as fresh lists and dicts, to embed in a larger JSON payload."""
        encodable: list[list[Any]] = orjson.loads(self.encode())
        return encodable

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"<JS {self.encode()}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JS) and self._ops == other._ops

    def __hash__(self) -> int:
        return hash(self._ops)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("a JS chain is immutable: its methods return a new one")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("a JS chain is immutable: its methods return a new one")

    # -- commands that talk to the server ---------------------------------------------------

    @_Command
    def push(
        self,
        event: str,
        *,
        value: Mapping[str, Any] | None = None,
        target: str | int | None = None,
        loading: str | None = None,
        page_loading: bool | None = None,
    ) -> JS:
        """Push ``event`` to the server, as the binding it sits in would.

        ``value`` is merged over the element's ``phx-value-*`` attributes; ``target`` (a
        selector, or a component id) replaces its ``phx-target``; ``loading`` is a selector
        that gets the loading classes until the reply; ``page_loading`` True fires the
        page-loading events.
        """
        return self._put(
            "push",
            event=_name("push", "event", event),
            value=_json_map("push", "value", value),
            target=_target(target),
            loading=_optional_str("push", "loading", loading),
            page_loading=_optional_bool("push", "page_loading", page_loading),
        )

    @_Command
    def navigate(self, href: str, *, replace: bool = False) -> JS:
        """Navigate to the LiveView at ``href`` (a path or an http(s) URL), a new history entry
        unless ``replace``."""
        return self._put("navigate", href=_destination("navigate", href),
                         replace=_bool("navigate", "replace", replace))

    @_Command
    def patch(self, href: str, *, replace: bool = False) -> JS:
        """Patch the current LiveView to ``href`` (``handle_params``), a new history entry
        unless ``replace``."""
        return self._put("patch", href=_destination("patch", href),
                         replace=_bool("patch", "replace", replace))

    # -- client-side commands ------------------------------------------------------------------

    @_Command
    def dispatch(
        self,
        event: str,
        *,
        detail: Mapping[str, Any] | None = None,
        bubbles: bool | None = None,
        blocking: bool | None = None,
        to: Selector | None = None,
    ) -> JS:
        """Dispatch the DOM event ``event`` (a CustomEvent; a MouseEvent for ``"click"``).

        ``detail`` becomes ``event.detail`` (not allowed for ``"click"``: the browser replaces
        it); ``bubbles`` defaults to true; ``blocking`` True blocks the page until a listener
        calls ``event.detail.done()``, so ``detail`` must then have no ``done`` key.
        """
        event = _name("dispatch", "event", event)
        if detail is not None and event == "click":
            raise ValueError("JS.dispatch: click events cannot be dispatched with a detail "
                             "(the browser replaces a MouseEvent's detail with a number)")
        blocking = _optional_bool("dispatch", "blocking", blocking)
        if blocking and isinstance(detail, Mapping) and "done" in detail:
            raise ValueError("JS.dispatch: detail must not have a 'done' key when blocking is "
                             "True (the client puts its done callback there)")
        return self._put(
            "dispatch",
            event=event,
            detail=_json_map("dispatch", "detail", detail),
            bubbles=_optional_bool("dispatch", "bubbles", bubbles),
            blocking=True if blocking else None,  # as Phoenix: false is the same as absent
            to=_to("dispatch", to),
        )

    @_Command
    def add_class(self, names: str | Sequence[str], *, transition: Transition | None = None,
                  time: int | None = None, blocking: bool | None = None,
                  to: Selector | None = None) -> JS:
        """Add the classes ``names`` (``"a b"`` or ``["a", "b"]``), sticky across patches."""
        return self._classes("add_class", names, transition, time, blocking, to)

    @_Command
    def remove_class(self, names: str | Sequence[str], *, transition: Transition | None = None,
                     time: int | None = None, blocking: bool | None = None,
                     to: Selector | None = None) -> JS:
        """Remove the classes ``names`` (``"a b"`` or ``["a", "b"]``), sticky across patches."""
        return self._classes("remove_class", names, transition, time, blocking, to)

    @_Command
    def toggle_class(self, names: str | Sequence[str], *, transition: Transition | None = None,
                     time: int | None = None, blocking: bool | None = None,
                     to: Selector | None = None) -> JS:
        """Add each of the classes ``names`` an element lacks and remove those it has."""
        return self._classes("toggle_class", names, transition, time, blocking, to)

    def _classes(self, kind: str, names: str | Sequence[str], transition: Transition | None,
                 time: int | None, blocking: bool | None, to: Selector | None) -> JS:
        return self._put(
            kind,
            names=_class_names(kind, "names", names),
            transition=_transition(kind, "transition", transition),
            time=_time(kind, time),
            blocking=_optional_bool(kind, "blocking", blocking),
            to=_to(kind, to),
        )

    @_Command
    def show(self, *, display: str | None = None, transition: Transition | None = None,
             time: int | None = None, blocking: bool | None = None,
             to: Selector | None = None) -> JS:
        """Show hidden elements with the CSS ``display`` (default ``"block"``, or
        ``"table-row"`` / ``"table-cell"`` for rows and cells)."""
        return self._put(
            "show",
            display=_optional_str("show", "display", display),
            transition=_transition("show", "transition", transition),
            time=_time("show", time),
            blocking=_optional_bool("show", "blocking", blocking),
            to=_to("show", to),
        )

    @_Command
    def hide(self, *, transition: Transition | None = None, time: int | None = None,
             blocking: bool | None = None, to: Selector | None = None) -> JS:
        """Hide visible elements (``display: none``, sticky across patches)."""
        return self._put(
            "hide",
            transition=_transition("hide", "transition", transition),
            time=_time("hide", time),
            blocking=_optional_bool("hide", "blocking", blocking),
            to=_to("hide", to),
        )

    @_Command
    def toggle(self, *, display: str | None = None, in_: Transition | None = None,
               out: Transition | None = None, time: int | None = None,
               blocking: bool | None = None, to: Selector | None = None) -> JS:
        """Show the hidden elements (with the ``in_`` transition) and hide the visible ones
        (with ``out``)."""
        return self._put(
            "toggle",
            display=_optional_str("toggle", "display", display),
            ins=_transition("toggle", "in_", in_),
            outs=_transition("toggle", "out", out),
            time=_time("toggle", time),
            blocking=_optional_bool("toggle", "blocking", blocking),
            to=_to("toggle", to),
        )

    @_Command
    def transition(self, transition: Transition, *, time: int | None = None,
                   blocking: bool | None = None, to: Selector | None = None) -> JS:
        """Apply the ``transition`` classes for ``time`` milliseconds, then remove them."""
        if transition is None:
            raise TypeError("JS.transition: transition is required")
        return self._put(
            "transition",
            transition=_transition("transition", "transition", transition),
            time=_time("transition", time),
            blocking=_optional_bool("transition", "blocking", blocking),
            to=_to("transition", to),
        )

    @_Command
    def set_attribute(self, attr: tuple[str, str], *, to: Selector | None = None) -> JS:
        """Set the attribute ``attr = (name, value)``, sticky across patches."""
        return self._put("set_attr", attr=_attr_tuple("set_attribute", attr, (2,)),
                         to=_to("set_attribute", to))

    @_Command
    def remove_attribute(self, attr: str, *, to: Selector | None = None) -> JS:
        """Remove the attribute named ``attr``, sticky across patches."""
        return self._put("remove_attr", attr=_name("remove_attribute", "attr", attr),
                         to=_to("remove_attribute", to))

    @_Command
    def toggle_attribute(self, attr: tuple[str, str] | tuple[str, str, str], *,
                         to: Selector | None = None) -> JS:
        """Toggle an attribute: ``(name, value)`` sets it or removes it, ``(name, value1,
        value2)`` switches it between the two values."""
        return self._put("toggle_attr", attr=_attr_tuple("toggle_attribute", attr, (2, 3)),
                         to=_to("toggle_attribute", to))

    @_Command
    def ignore_attributes(self, attrs: str | Sequence[str], *,
                          to: Selector | None = None) -> JS:
        """Keep the server's patches off the attributes ``attrs`` (``*`` is a wildcard, as in
        ``"data-*"``); a later call replaces the list."""
        if isinstance(attrs, str):
            attrs = [attrs]
        return self._put("ignore_attrs", attrs=_str_list("ignore_attributes", "attrs", attrs),
                         to=_to("ignore_attributes", to))

    @_Command
    def focus(self, *, to: Selector | None = None) -> JS:
        """Focus the element."""
        return self._put("focus", to=_to("focus", to))

    @_Command
    def focus_first(self, *, to: Selector | None = None) -> JS:
        """Focus the first focusable element inside the element."""
        return self._put("focus_first", to=_to("focus_first", to))

    @_Command
    def push_focus(self, *, to: Selector | None = None) -> JS:
        """Remember the element (by default the interacted one) for a later ``pop_focus``."""
        return self._put("push_focus", to=_to("push_focus", to))

    @_Command
    def pop_focus(self) -> JS:
        """Focus the element the last ``push_focus`` remembered."""
        return self._put("pop_focus")

    @_Command
    def exec(self, attr: str, *, to: Selector | None = None) -> JS:
        """Run the JS commands held in the attribute ``attr`` of the element (as
        ``JS.exec("phx-remove", to="#modal")``)."""
        return self._put("exec", attr=_name("exec", "attr", attr), to=_to("exec", to))

    @_Command
    def concat(self, *others: JS) -> JS:
        """This chain followed by the commands of ``others`` (``JS.concat(a, b)`` is a + b)."""
        ops = self._ops
        for other in others:
            if not isinstance(other, JS):
                raise TypeError(f"JS.concat: expected JS values, got {other!r}")
            ops = (*ops, *other._ops)
        chain = JS()
        object.__setattr__(chain, "_ops", ops)
        return chain


# -- argument checks: each names the command and the argument it rejects ---------------------

def _type_name(value: object) -> str:
    return type(value).__name__


def _name(command: str, arg: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"JS.{command}: {arg} must be a str, got {_type_name(value)}")
    if not value:
        raise ValueError(f"JS.{command}: {arg} must not be empty")
    return value


def _optional_str(command: str, arg: str, value: object) -> str | None:
    return None if value is None else _name(command, arg, value)


def _bool(command: str, arg: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"JS.{command}: {arg} must be a bool, got {_type_name(value)}")
    return value


def _optional_bool(command: str, arg: str, value: object) -> bool | None:
    return None if value is None else _bool(command, arg, value)


def _time(command: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"JS.{command}: time must be an int of milliseconds, "
                        f"got {_type_name(value)}")
    if value < 0:
        raise ValueError(f"JS.{command}: time must not be negative, got {value}")
    return value


def _str_list(command: str, arg: str, values: object) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"JS.{command}: {arg} must be a list of str, got {_type_name(values)}")
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"JS.{command}: {arg} must be a list of str, "
                            f"got a {_type_name(value)} in it")
    return list(values)


def _class_names(command: str, arg: str, names: object) -> list[str]:
    if isinstance(names, str):
        return names.split()
    return " ".join(_str_list(command, arg, names)).split()


def _transition(command: str, arg: str, value: object) -> list[list[str]] | None:
    """``"a b"`` -> ``[["a", "b"], [], []]``; ``(t, start, end)`` -> three class lists."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value.split(), [], []]
    if isinstance(value, tuple | list) and len(value) == 3:
        return [_class_names(command, arg, [part]) for part in value]
    raise TypeError(f"JS.{command}: {arg} must be a str of classes or a 3-tuple "
                    f"(transition, start, end) of them, got {value!r}")


def _to(command: str, to: object) -> str | dict[str, str] | None:
    if to is None:
        return None
    if isinstance(to, Mapping):
        if len(to) != 1:
            raise ValueError(f"JS.{command}: to must have one scope, got {dict(to)!r}")
        ((scope, selector),) = to.items()
        if scope not in _SCOPES:
            raise ValueError(f"JS.{command}: invalid scope for to: {scope!r}; "
                             f"valid scopes are {', '.join(_SCOPES)}")
        selector = _name(command, f"to[{scope!r}]", selector)
        return selector if scope == "document" else {scope: selector}
    if isinstance(to, str):
        return _name(command, "to", to)
    raise TypeError(f"JS.{command}: to must be a CSS selector or a {{scope: selector}} dict, "
                    f"got {_type_name(to)}")


def _target(target: object) -> str | int | None:
    if target is None or (isinstance(target, int) and not isinstance(target, bool)):
        return target
    if isinstance(target, str):
        return _name("push", "target", target)
    raise TypeError(f"JS.push: target must be a selector or a component id, "
                    f"got {_type_name(target)}")


def _json_map(command: str, arg: str, value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"JS.{command}: {arg} must be a mapping, got {_type_name(value)}")
    value = dict(value)
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"JS.{command}: {arg} must be JSON-encodable: {exc}") from None
    return value


def _attr_tuple(command: str, attr: object, lengths: tuple[int, ...]) -> list[str]:
    shape = " or ".join(("(name, value)", "(name, value1, value2)")[: len(lengths)])
    if not isinstance(attr, tuple | list) or len(attr) not in lengths:
        raise TypeError(f"JS.{command}: attr must be a tuple {shape}, got {attr!r}")
    name, *values = attr
    _name(command, "attr name", name)
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"JS.{command}: attr values must be str, got {_type_name(value)}")
    return [name, *values]


def _destination(command: str, href: object) -> str:
    """A path or an http(s) URL, as Phoenix's ``valid_live_navigation_destination!``."""
    href = _name(command, "href", href)
    if href.startswith("/"):
        return href
    # A scheme is what precedes a ":" that comes before any "/", "?" or "#".
    end = next((i for i, char in enumerate(href) if char in ":/?#"), None)
    if end is not None and href[end] == ":":
        scheme = href[:end].lower()
        if scheme not in _NAVIGATION_SCHEMES:
            raise ValueError(f"JS.{command}: unsupported scheme {scheme!r} in href {href!r}; "
                             f"a live destination is a path or an http(s) URL (use a plain "
                             f"link's href for other schemes)")
    return href
