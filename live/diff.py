"""Rendering compiled templates into the LiveView wire tree, and diffs against what the
client holds (protocol.md §4.3, the 1.1+ format).

A view's render keeps :class:`Prints`: for each part on the page, which compiled part it was
(its fingerprint) and what its dynamic slots hold, but no rendered text outside
comprehensions. :func:`render` with the assigns changed since the last render evaluates only
the dynamics that read one of them (compile-time tracking, as Phoenix does), sends their new
values, and sends a part whole (with ``"s"``) only where the client holds another one or none.

Comprehensions (``:for``) keep each entry's rendered values, by key, and send the keyed
format: an entry that stayed in place and changed sends only its changed slots; one that moved
sends its old index (``j``, or ``[j, diff]``, with ``"km": true``); a new one sends all its
slots; ``"kc"`` always. A comprehension over a stream (:mod:`live.streams`) keeps nothing and
sends only the entries inserted since the last render, with the ``"stream"`` operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from .components import ComponentCall, current_components
from .template import (
    AttrExpr,
    AttrsExpr,
    ForBlock,
    IfBlock,
    Part,
    Rendered,
    TemplateError,
    TextExpr,
)

__all__ = ["Prints", "render", "to_html", "tree_to_html"]

_SAME = object()
"""A slot whose value the client already holds."""


class Prints:
    """What the client holds of one part: the part, and its slots' state by index (nested
    :class:`Prints`, ``False`` for an ``:if`` not shown, :class:`_Entries` for a
    comprehension, :class:`_Streamed` for a stream)."""

    __slots__ = ("part_id", "slots")

    def __init__(self, part_id: int, size: int) -> None:
        self.part_id = part_id
        # One entry per dynamic of the part (a list: a view holds one of these per part
        # on its page, for as long as it lives).
        self.slots: list[Any] = [None] * size


class _Entries:
    """A comprehension as the client holds it: each entry's key and rendered values."""

    __slots__ = ("keys", "values")

    def __init__(self, keys: list[Any], values: list[list[Any]]) -> None:
        self.keys = keys
        self.values = values


class _Streamed:
    """A stream comprehension the client has the statics of (it keeps no entries)."""

    __slots__ = ()


_STREAMED = _Streamed()


class _Node:
    """A part's rendered values inside a comprehension entry (compared by value)."""

    __slots__ = ("part", "values")

    def __init__(self, part: Part, values: list[Any]) -> None:
        self.part = part
        self.values = values

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _Node) and other.part is self.part
                and other.values == self.values)


def render(rendered: Rendered, prints: Prints | None,
           changed: frozenset[str] | None) -> tuple[dict[str, Any] | None, Prints]:
    """The diff that brings a client holding ``prints`` to ``rendered``; ``changed`` names the
    assigns changed since (``None``: evaluate everything). ``None`` for no change."""
    return _node(rendered.part, rendered.assigns, rendered.scope, prints, changed, top=True)


def _node(part: Part, assigns: Mapping[str, Any], scope: tuple[Any, ...],
          prints: Prints | None, changed: frozenset[str] | None,
          top: bool = False) -> tuple[dict[str, Any] | None, Prints]:
    full = prints is None or prints.part_id != part.id
    out: dict[str, Any] = {}
    if full:
        prints = Prints(part.id, len(part.dynamics))
        changed = None
    assert prints is not None
    slots = prints.slots
    for i, d in enumerate(part.dynamics):
        if changed is not None and "*" not in changed and "*" not in d.deps \
                and not (d.deps & changed):
            continue
        value, state = _dynamic(d, assigns, scope, slots[i], changed)
        if value is _SAME:
            continue
        out[str(i)] = value
        slots[i] = state
    if full:
        out["s"] = part.statics
        if part.root and not top:
            out["r"] = 1
    return (out or None), prints


def _dynamic(d: Any, assigns: Mapping[str, Any], scope: tuple[Any, ...], state: Any,
             changed: frozenset[str] | None) -> tuple[Any, Any]:
    t = type(d)
    if t is TextExpr:
        value = _call(d, d.fn, assigns, scope)
        if isinstance(value, Rendered):
            held = state if isinstance(state, Prints) else None
            diff, prints = _node(value.part, value.assigns, value.scope, held, None)
            return (diff if diff is not None else _SAME), prints
        if isinstance(value, ComponentCall):
            cid = _component(value, d.where)
            return (_SAME if state == ("cid", cid) else cid), ("cid", cid)
        return _text(value), None
    if t is AttrExpr:
        return _attr(d.name, _call(d, d.fn, assigns, scope)), None
    if t is AttrsExpr:
        return _attrs(_call(d, d.fn, assigns, scope), d.where), None
    if t is IfBlock:
        if not _call(d, d.cond, assigns, scope):
            return ("" if state is not False else _SAME), False
        held = state if isinstance(state, Prints) else None
        diff, prints = _node(d.part, assigns, scope, held, changed if held else None)
        return (diff if diff is not None else _SAME), prints
    assert t is ForBlock
    items = _call(d, d.items, assigns, scope)
    if getattr(items, "is_live_stream", False):
        return _stream(d, items, assigns, scope, state)
    return _comprehension(d, items, assigns, scope, state)


def _component(call: ComponentCall, where: str) -> int:
    components = current_components()
    if components is None:
        raise TemplateError(f"{where}: live_component outside a live view's render")
    return components.call(call)


def _call(d: Any, fn: Any, assigns: Mapping[str, Any], scope: tuple[Any, ...]) -> Any:
    try:
        return fn(assigns, *scope)
    except KeyError as e:
        raise TemplateError(f"{d.where}: {e.args[0] if e.args else e}") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return str(value.__html__())
    return str(escape(value))


def _attr_value(value: Any) -> str:
    as_attr = getattr(value, "__html_attr__", None)
    if as_attr is not None:  # a JS command: its JSON
        return str(escape(as_attr()))
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value if v)
    return str(escape(value))


def _attr(name: str, value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return f" {name}"
    return f' {name}="{_attr_value(value)}"'


def _attrs(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        raise TemplateError(f"{where}: {{...}} among attributes must be a dict, not "
                            f"{type(value).__name__}")
    return "".join(_attr(str(name), v) for name, v in value.items())


# -- comprehensions ---------------------------------------------------------------------------


def _values(part: Part, assigns: Mapping[str, Any], scope: tuple[Any, ...]) -> list[Any]:
    """Every slot of ``part`` rendered, for comparison by value."""
    out: list[Any] = []
    for d in part.dynamics:
        if isinstance(d, TextExpr):
            value = _call(d, d.fn, assigns, scope)
            if isinstance(value, Rendered):
                out.append(_Node(value.part, _values(value.part, value.assigns, value.scope)))
            elif isinstance(value, ComponentCall):
                out.append(_component(value, d.where))
            else:
                out.append(_text(value))
        elif isinstance(d, AttrExpr):
            out.append(_attr(d.name, _call(d, d.fn, assigns, scope)))
        elif isinstance(d, AttrsExpr):
            out.append(_attrs(_call(d, d.fn, assigns, scope), d.where))
        elif isinstance(d, IfBlock):
            shown = _call(d, d.cond, assigns, scope)
            out.append(_Node(d.part, _values(d.part, assigns, scope)) if shown else "")
        else:
            items = _call(d, d.items, assigns, scope)
            if getattr(items, "is_live_stream", False):
                raise TemplateError(f"{d.where}: a stream cannot be inside a :for")
            out.append(_keyed(d, items, assigns, scope))
    return out


def _keyed(d: ForBlock, items: Any, assigns: Mapping[str, Any],
           scope: tuple[Any, ...]) -> _Entries:
    keys: list[Any] = []
    values: list[list[Any]] = []
    seen: set[Any] = set()
    for n, item in enumerate(items if items is not None else ()):
        inner = scope + d.unpack(item)
        key = n if d.key is None else _call(d, d.key, assigns, inner)
        if key in seen:
            raise TemplateError(f"{d.where}: two entries have the :key {key!r}")
        seen.add(key)
        keys.append(key)
        values.append(_values(d.part, assigns, inner))
    return _Entries(keys, values)


def _full_values(part: Part, values: list[Any]) -> dict[str, Any]:
    """Every slot of a part rendered by value, as a client that holds none needs them."""
    return {str(i): _full_slot(part, i, v) for i, v in enumerate(values)}


def _full_slot(part: Part, i: int, value: Any) -> Any:
    if isinstance(value, (str, int)):  # text, or a component's cid
        return value
    if isinstance(value, _Entries):
        return _comp_json(part_of(part, i), None, value)
    assert isinstance(value, _Node)
    out = _full_values(value.part, value.values)
    out["s"] = value.part.statics
    if value.part.root:
        out["r"] = 1
    return out


def part_of(part: Part, i: int) -> Part:
    d = part.dynamics[i]
    assert isinstance(d, ForBlock)
    return d.part


def _value_diff(part: Part, i: int, old: Any, new: Any) -> Any:
    """The diff of slot ``i`` of ``part`` from ``old`` to ``new``, or ``_SAME``."""
    if isinstance(new, _Entries):
        if not isinstance(old, _Entries):
            return _comp_json(part_of(part, i), None, new)
        diff = _comp_json(part_of(part, i), old, new)
        return diff if diff is not None else _SAME
    if isinstance(new, (str, int)):
        return _SAME if old == new else new
    assert isinstance(new, _Node)
    if not isinstance(old, _Node) or old.part is not new.part:
        return _full_slot(part, i, new)
    diff = _entry_diff(new.part, old.values, new.values)
    return diff if diff is not None else _SAME


def _entry_diff(part: Part, old: list[Any], new: list[Any]) -> dict[str, Any] | None:
    out = {}
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        diff = _value_diff(part, i, a, b)
        if diff is not _SAME:
            out[str(i)] = diff
    return out or None


def _comp_json(part: Part, old: _Entries | None, new: _Entries) -> dict[str, Any] | None:
    """The keyed comprehension diff from ``old`` (``None``: the client holds none) to
    ``new``; ``None`` if nothing changed."""
    keyed: dict[str, Any] = {}
    if old is None:
        for i, values in enumerate(new.values):
            keyed[str(i)] = _full_values(part, values)
        keyed["kc"] = len(new.values)
        return {"s": part.statics, "k": keyed}
    where = {key: j for j, key in enumerate(old.keys)}
    moved = False
    for i, (key, values) in enumerate(zip(new.keys, new.values, strict=True)):
        j = where.get(key)
        if j is None:
            keyed[str(i)] = _full_values(part, values)
            continue
        diff = _entry_diff(part, old.values[j], values)
        if j == i:
            if diff is not None:
                keyed[str(i)] = diff
        else:
            moved = True
            keyed[str(i)] = [j, diff] if diff is not None else j
    if not keyed and len(new.keys) == len(old.keys):
        return None
    keyed["kc"] = len(new.keys)
    if moved:
        keyed["km"] = True
    return {"k": keyed}


def _comprehension(d: ForBlock, items: Any, assigns: Mapping[str, Any], scope: tuple[Any, ...],
                   state: Any) -> tuple[Any, Any]:
    new = _keyed(d, items, assigns, scope)
    old = state if isinstance(state, _Entries) else None
    diff = _comp_json(d.part, old, new)
    return (diff if diff is not None else _SAME), new


def _stream(d: ForBlock, stream: Any, assigns: Mapping[str, Any], scope: tuple[Any, ...],
            state: Any) -> tuple[Any, Any]:
    inserts, deletes, reset = stream.pending()
    first = not isinstance(state, _Streamed)
    if not first and not inserts and not deletes and not reset:
        return _SAME, state
    keyed: dict[str, Any] = {}
    ops = []
    for n, (dom_id, at, limit, update_only, item) in enumerate(inserts):
        inner = scope + d.unpack((dom_id, item))
        keyed[str(n)] = _full_values(d.part, _values(d.part, assigns, inner))
        ops.append([dom_id, at, limit, update_only])
    keyed["kc"] = len(inserts)
    meta: list[Any] = [stream.ref, ops, list(deletes)]
    if reset:
        meta.append(True)
    out: dict[str, Any] = {"k": keyed, "stream": meta}
    if first:
        out["s"] = d.part.statics
    return out, _STREAMED


# -- HTML ---------------------------------------------------------------------------------------


def tree_to_html(tree: Mapping[str, Any]) -> str:
    """The HTML of a full wire tree (a first render, its components in ``"c"``): the page's
    HTTP render, made from the same render the join sends."""
    components = tree.get("c") or {}
    return _tree_html(tree, components)


def _tree_html(node: Mapping[str, Any], components: Mapping[str, Any]) -> str:
    statics = node["s"]
    if "k" in node:
        keyed = node["k"]
        return "".join(_dynamics_html(keyed[str(i)], statics, components)
                       for i in range(keyed["kc"]))
    return _dynamics_html(node, statics, components)


def _dynamics_html(node: Mapping[str, Any], statics: list[str],
                   components: Mapping[str, Any]) -> str:
    pieces = [statics[0]]
    for i in range(len(statics) - 1):
        value = node[str(i)]
        if isinstance(value, str):
            pieces.append(str(value))
        elif isinstance(value, int):
            pieces.append(_tree_html(components[str(value)], components))
        else:
            pieces.append(_tree_html(value, components))
        pieces.append(statics[i + 1])
    return "".join(pieces)


def to_html(rendered: Rendered) -> str:
    """The HTML of one render, no diff state kept (the page's first, HTTP render)."""
    return _html(rendered.part, rendered.assigns, rendered.scope)


def _html(part: Part, assigns: Mapping[str, Any], scope: tuple[Any, ...]) -> str:
    statics = part.statics
    pieces = [statics[0]]
    for i, d in enumerate(part.dynamics):
        if isinstance(d, TextExpr):
            value = _call(d, d.fn, assigns, scope)
            if isinstance(value, Rendered):
                pieces.append(_html(value.part, value.assigns, value.scope))
            elif isinstance(value, ComponentCall):
                raise TemplateError(f"{d.where}: live_component renders only in a live view")
            else:
                pieces.append(_text(value))
        elif isinstance(d, AttrExpr):
            pieces.append(_attr(d.name, _call(d, d.fn, assigns, scope)))
        elif isinstance(d, AttrsExpr):
            pieces.append(_attrs(_call(d, d.fn, assigns, scope), d.where))
        elif isinstance(d, IfBlock):
            if _call(d, d.cond, assigns, scope):
                pieces.append(_html(d.part, assigns, scope))
        else:
            items = _call(d, d.items, assigns, scope)
            if getattr(items, "is_live_stream", False):
                entries = [(dom_id, item) for dom_id, _, _, _, item in items.pending()[0]]
            else:
                entries = list(items) if items is not None else []
            for item in entries:
                pieces.append(_html(d.part, assigns, scope + d.unpack(item)))
        pieces.append(statics[i + 1])
    return "".join(pieces)
