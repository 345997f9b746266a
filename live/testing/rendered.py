"""The LiveView client's rendering side, in Python: a tree that merges diffs, a DOM that patches.

A LiveViewTest has to see a page the way the browser running ``phoenix_live_view`` 1.2.12
does. The client keeps two things per view, and so does this module:

* :class:`Rendered` is the client's ``rendered.js``: the tree of statics and dynamics from
  the join reply (``Rendered(view_id, reply["rendered"])``), into which every later diff
  is merged with :meth:`Rendered.merge`, by the client's rules (wire format:
  ``shared/protocol.md`` §4.3-4.5):

  - ``"e"`` (events), ``"t"`` (title) and ``"r"`` (a hook's reply) are taken off a diff
    before it merges, and handed back as :class:`DiffExtras`;
  - a node that carries ``"s"`` replaces the old one wholesale; one without merges key
    by key;
  - a keyed comprehension (``"k"``) merges entry by entry: an object at ``i`` merges into
    entry ``i`` (creating it), an integer ``j`` takes old entry ``j``, a pair ``[j, diff]``
    takes old entry ``j`` and merges ``diff`` into it (moves read the entries as they
    were before the diff, which ``"km"`` announces); entries from the new ``"kc"`` on go;
  - ``"p"`` tables let ``"s"`` be an index; they are resolved when the tree renders;
  - top-level ``"c"`` holds components; a component's integer ``"s"`` copies another
    one's tree and statics: ``n > 0`` from component ``n`` of the same diff, ``-n`` from
    component ``n`` already held. :meth:`Rendered.prune_cids` forgets components.

  :meth:`Rendered.to_html` renders the view's inner HTML as the client's ``toString``
  does: a component's root element gets ``data-phx-component="<cid>"`` and
  ``data-phx-view="<view id>"`` (``modify_root.ts``), and a component that does not
  render exactly one root element raises :class:`RenderError`. The client's
  ``data-phx-id``/``data-phx-skip`` optimisation is left out: it changes no page.

* :class:`Document` is the view's DOM as ``dom_patch.ts`` leaves it, parsed with
  ``lxml.html``. Streams are why it is needed: the tree only holds the stream entries
  of the last diff, and the client drops even those once rendered (:meth:`Rendered.render`
  does the same and hands their ``"stream"`` operations back). The entries shown so far
  live on in the DOM, inside the ``phx-update="stream"`` container: :meth:`Document.apply`
  takes a fresh render and those operations, removes the deleted and reset children,
  inserts the new ones where ``at`` and ``limit`` say, keeps the children of
  ``phx-update="ignore"`` containers, and takes everything else from the new render.

Typical use, as the test client does it::

    rendered = Rendered(view_id, join_reply["rendered"])
    doc = Document(view_id)
    doc.join(rendered)
    result = doc.update(rendered, diff)      # every later diff
    doc.find("#posts li", "hello").get("id")

Where the client only logs (a stream or ignore container without an id, a stream child
without an id, ``phx-update="append"``), this module raises :class:`RenderError`, as
Phoenix's own LiveViewTest does: a test should fail on what breaks a page.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import Any, NamedTuple

from lxml import etree  # type: ignore[import-untyped]
from lxml import html as lxml_html
from lxml.cssselect import CSSSelector  # type: ignore[import-untyped]

__all__ = [
    "DiffExtras",
    "Document",
    "Output",
    "PushedEvent",
    "RenderError",
    "Rendered",
    "StreamInsert",
    "StreamOp",
    "UpdateResult",
    "element_text",
]

# The wire's keys (constants.ts).
STATIC, ROOT, COMPONENTS, TEMPLATES, STREAM = "s", "r", "c", "p", "stream"
KEYED, KEYED_COUNT, KEYED_MOVED = "k", "kc", "km"
EVENTS, TITLE, REPLY = "e", "t", "r"
PHX_COMPONENT = "data-phx-component"
PHX_VIEW_REF = "data-phx-view"
PHX_STREAM_REF = "data-phx-stream"

HtmlElement = Any  # lxml.html.HtmlElement; lxml ships no type information


class RenderError(Exception):
    """The tree or the DOM cannot be rendered as the page would be.

    Raised where the client throws (a root node or component whose HTML does not start with
    an element: "malformed html"; a component the tree does not hold; a statics index with
    no ``"p"`` table; a moved keyed entry without ``"km"``), and where the page would be
    broken although the client only logs (a component rendering more than one root, a
    stream or ignore container without an id, a stream child without an id).
    """


@dataclass(frozen=True)
class PushedEvent:
    """One ``"e"`` entry: an event the server pushed (``push_event``) with this diff."""

    name: str
    payload: Any
    before_patch: bool = False
    """The entry's third element was ``true``: the client dispatches it before patching."""


@dataclass(frozen=True)
class DiffExtras:
    """What the client takes off a diff before merging it: events, page title, hook reply."""

    events: list[PushedEvent] = field(default_factory=list)
    title: str | None = None
    reply: Any = None


class StreamInsert(NamedTuple):
    """One insert of a stream operation: ``[dom_id, at, limit, update_only]`` on the wire."""

    dom_id: str
    at: int
    limit: int | None = None
    update_only: bool = False


@dataclass(frozen=True)
class StreamOp:
    """A comprehension's ``"stream": [ref, inserts, delete_ids, reset?]``, as the DOM applies it.

    ``reset`` is whether the wire list has a fourth element at all: the 1.2.12 client tests
    ``reset !== undefined``, so even ``false`` resets.
    """

    ref: str
    inserts: tuple[StreamInsert, ...] = ()
    delete_ids: tuple[str, ...] = ()
    reset: bool = False

    @classmethod
    def from_wire(cls, stream: Sequence[Any]) -> StreamOp:
        """Read a ``"stream"`` value as the server sends it."""
        ref, inserts, delete_ids = stream[0], stream[1], stream[2]
        return cls(
            ref=str(ref),
            inserts=tuple(
                StreamInsert(
                    str(ins[0]),
                    int(ins[1]),
                    ins[2] if len(ins) > 2 else None,
                    bool(ins[3]) if len(ins) > 3 else False,
                )
                for ins in inserts
            ),
            delete_ids=tuple(str(dom_id) for dom_id in delete_ids),
            reset=len(stream) > 3,
        )


class Output(NamedTuple):
    """A render: the HTML, and the stream operations the DOM has to apply with it."""

    html: str
    streams: list[StreamOp]


class UpdateResult(NamedTuple):
    """What :meth:`Document.update` did with a diff."""

    extras: DiffExtras
    removed_cids: list[int]
    """Components whose root left the page (the client's ``cids_will_destroy``)."""


# ---------------------------------------------------------------------------------------------
# The tree (rendered.js)
# ---------------------------------------------------------------------------------------------


class Rendered:
    """The client's tree for one view: the join's render with every diff merged in.

    ``Rendered(view_id, rendered)`` merges the join reply's ``rendered`` into an empty tree;
    what it carried besides the tree (events pushed during mount, a title) is
    :attr:`join_extras`. The tree is the client's own: plain dicts with string keys, as
    JSON has them (:attr:`tree`, to read, not to change).
    """

    def __init__(self, view_id: str, rendered: Mapping[str, Any]) -> None:
        self.view_id = view_id
        self._tree: dict[str, Any] = {}
        self.join_extras: DiffExtras = self.merge(rendered)

    @property
    def tree(self) -> dict[str, Any]:
        """The merged tree, components under ``"c"``."""
        return self._tree

    @property
    def cids(self) -> list[int]:
        """The ids of the components the tree holds."""
        return sorted(int(cid) for cid in self._tree.get(COMPONENTS, {}))

    def merge(self, diff: Mapping[str, Any]) -> DiffExtras:
        """Merge a diff as the client's ``mergeDiff`` does; return what was taken off it."""
        tree_diff: dict[str, Any] = _normalize(diff)
        extras = _extract(tree_diff)
        new_components = tree_diff.pop(COMPONENTS, None)
        self._tree = _mutable_merge(self._tree, tree_diff)
        held = self._tree.setdefault(COMPONENTS, {})
        if new_components is not None:
            cache: dict[str, dict[str, Any]] = {}
            resolved = {
                cid: _find_component(cid, cdiff, held, new_components, cache)
                for cid, cdiff in new_components.items()
            }
            held.update(resolved)
        return extras

    def prune_cids(self, cids: Iterable[int]) -> None:
        """Forget components, once the server confirmed ``cids_destroyed`` for them."""
        held = self._tree.get(COMPONENTS, {})
        for cid in cids:
            held.pop(str(cid), None)

    def to_html(self) -> str:
        """The view's inner HTML as the tree renders now; stream entries stay in the tree."""
        return _Renderer(self, consume_streams=False).view()

    def component_to_html(self, cid: int) -> str:
        """One component's HTML (its root element, tagged), as :meth:`to_html` renders it."""
        return _Renderer(self, consume_streams=False).component(cid)

    def render(self) -> Output:
        """Render the view for a patch, as the client's ``toString``.

        Like the client, this drops the rendered stream entries from the tree and returns
        their operations: the DOM keeps them from here on (:meth:`Document.apply`).
        """
        renderer = _Renderer(self, consume_streams=True)
        return Output(renderer.view(), renderer.streams)

    def render_component(self, cid: int) -> Output:
        """Render one component for a patch, as the client's ``componentToString``."""
        renderer = _Renderer(self, consume_streams=True)
        return Output(renderer.component(cid), renderer.streams)


def _normalize(value: Any) -> Any:
    """A deep copy with string keys, so merging never touches the caller's diff."""
    if isinstance(value, Mapping):
        return {str(key): _normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(item) for item in value]
    return value


def _extract(diff: dict[str, Any]) -> DiffExtras:
    events = [
        PushedEvent(str(event[0]), event[1] if len(event) > 1 else None,
                    len(event) == 3 and event[2] == True)  # noqa: E712 - JS's `== true`
        for event in diff.pop(EVENTS, None) or []
    ]
    title = diff.pop(TITLE, None)
    return DiffExtras(events, title, diff.pop(REPLY, None))


def _is_cid(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and re.fullmatch(r"0|[1-9]\d*", value) is not None
    )


def _find_component(
    cid: str,
    cdiff: dict[str, Any],
    held: dict[str, Any],
    new: dict[str, Any],
    cache: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A component of the diff resolved against ``held`` (``cachedFindComponent``)."""
    if cid in cache:
        return cache[cid]
    shared = cdiff.get(STATIC)
    if _is_cid(shared):
        source_cid = int(str(shared))
        if source_cid > 0:
            if str(source_cid) not in new:
                raise RenderError(f"component {cid} shares statics with {source_cid}, "
                                  "which this diff does not carry")
            source = _find_component(str(source_cid), new[str(source_cid)], held, new, cache)
        else:
            if str(-source_cid) not in held:
                raise RenderError(f"component {cid} shares statics with {-source_cid}, "
                                  "which the client does not hold")
            source = held[str(-source_cid)]
        resolved = _clone_merge(source, cdiff)
        resolved[STATIC] = source[STATIC]
    elif STATIC in cdiff or cid not in held:
        resolved = cdiff
    else:
        resolved = _clone_merge(held[cid], cdiff)
    cache[cid] = resolved
    return resolved


def _mutable_merge(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    if STATIC in source:
        return source
    _do_mutable_merge(target, source)
    return target


def _do_mutable_merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    if isinstance(source.get(KEYED), dict):
        _merge_keyed(target, source)
        return
    for key, value in source.items():
        old = target.get(key)
        if isinstance(value, dict) and STATIC not in value and isinstance(old, dict):
            _do_mutable_merge(old, value)
        else:
            target[key] = value


def _merge_keyed(target: dict[str, Any], source: dict[str, Any]) -> None:
    entries = source[KEYED]
    keyed = target.get(KEYED)
    if not isinstance(keyed, dict):
        raise RenderError(f"a keyed diff for a node that is no comprehension: {target!r}")
    # Moves read entries from their old positions, so those are kept before any changes.
    before = copy.deepcopy(keyed) if entries.get(KEYED_MOVED) else None

    def old_entry(index: Any) -> dict[str, Any]:
        if before is None:
            raise RenderError(f'a keyed entry moved without "km": {entries!r}')
        entry = before.get(str(index))
        if not isinstance(entry, dict):
            raise RenderError(f"a keyed entry moved from {index}, which does not exist")
        return entry

    for index, entry in entries.items():
        if index in (KEYED_COUNT, KEYED_MOVED):
            continue
        if isinstance(entry, list):
            keyed[index] = old_entry(entry[0])
            _do_mutable_merge(keyed[index], entry[1])
        elif isinstance(entry, int) and not isinstance(entry, bool):
            keyed[index] = old_entry(entry)
        elif isinstance(entry, dict):
            if keyed.get(index) is None:
                keyed[index] = {}
            _do_mutable_merge(keyed[index], entry)
    count = entries.get(KEYED_COUNT)
    if not isinstance(count, int):
        raise RenderError(f'a keyed diff without "kc": {entries!r}')
    old_count = keyed.get(KEYED_COUNT)
    if isinstance(old_count, int):
        for index in range(count, old_count):
            keyed.pop(str(index), None)
    keyed[KEYED_COUNT] = count
    if source.get(STREAM) is not None:
        target[STREAM] = source[STREAM]
    if source.get(TEMPLATES) is not None:
        target[TEMPLATES] = source[TEMPLATES]


def _clone_merge(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``target`` with ``source`` merged in (``cloneMerge``), for shared components."""
    if isinstance(source.get(KEYED), dict):
        merged = copy.deepcopy(target)
        _merge_keyed(merged, source)
        return merged
    merged = {**target, **source}
    for key in merged:
        value, old = source.get(key), target.get(key)
        if isinstance(value, dict) and STATIC not in value and isinstance(old, dict):
            merged[key] = _clone_merge(old, value)
        elif key not in source and isinstance(old, dict):
            merged[key] = _clone_merge(old, {})
    return merged


class _Renderer:
    """One walk of the tree to HTML (``toOutputBuffer`` and friends)."""

    def __init__(self, rendered: Rendered, *, consume_streams: bool) -> None:
        self.view_id = rendered.view_id
        self.tree = rendered.tree
        self.components: dict[str, Any] = self.tree.get(COMPONENTS, {})
        self.consume_streams = consume_streams
        self.streams: list[StreamOp] = []

    def view(self) -> str:
        return self.node(self.tree, None, {})

    def component(self, cid: int) -> str:
        root, _before, _after = _modify_root(self.component_html(cid), {})
        return root

    def node(self, node: dict[str, Any], templates: Any, root_attrs: dict[str, Any]) -> str:
        if isinstance(node.get(KEYED), dict):
            return self.comprehension(node, templates)
        # "p" tables are resolved once and dropped: a later diff may bring another table.
        if node.get(TEMPLATES) is not None:
            templates = node.pop(TEMPLATES)
        statics = _template_static(node.get(STATIC), templates)
        node[STATIC] = statics
        html = self.dynamics(node, statics, templates)
        if node.get(ROOT):
            root, before, after = _modify_root(html, root_attrs)
            html = before + root + after
        return html

    def dynamics(self, node: dict[str, Any], statics: list[str], templates: Any) -> str:
        parts = []
        for index, static in enumerate(statics[:-1]):
            parts.append(static)
            parts.append(self.dynamic(node.get(str(index)), templates, index))
        parts.append(statics[-1])
        return "".join(parts)

    def dynamic(self, value: Any, templates: Any, index: int) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return self.component_html(value)
        if isinstance(value, dict):
            return self.node(value, templates, {})
        raise RenderError(f"dynamic {index} cannot be rendered: {value!r}")

    def comprehension(self, node: dict[str, Any], templates: Any) -> str:
        # The client resolves a comprehension's own statics from the enclosing table only.
        entry_templates = templates if templates is not None else node.get(TEMPLATES)
        statics = _template_static(node.get(STATIC), templates)
        node[STATIC] = statics
        node.pop(TEMPLATES, None)
        keyed = node[KEYED]
        count = keyed.get(KEYED_COUNT) or 0
        parts = []
        for index in range(count):
            entry = keyed.get(str(index))
            if not isinstance(entry, dict):
                raise RenderError(f"keyed entry {index} of {count} is missing")
            parts.append(self.dynamics(entry, statics, entry_templates))
        stream = node.get(STREAM)
        if stream is not None and self.consume_streams:
            reset = stream[3] if len(stream) > 3 else None
            if count > 0 or len(stream[2]) > 0 or reset:
                del node[STREAM]
                node[KEYED] = {KEYED_COUNT: 0}
                self.streams.append(StreamOp.from_wire(stream))
        return "".join(parts)

    def component_html(self, cid: int) -> str:
        component = self.components.get(str(cid))
        if component is None:
            raise RenderError(f"Cannot continue render due to missing component: {cid}")
        if isinstance(component.get(KEYED), dict) or not component.get(ROOT):
            raise RenderError(f'component {cid} is not marked as a single root ("r": 1)')
        html = self.node(component, None, {PHX_COMPONENT: cid, PHX_VIEW_REF: self.view_id})
        roots = _count_roots(html)
        if roots != 1:
            raise RenderError(
                f"malformed html: component {cid} must render exactly one root element, "
                f"got {roots}: {html}"
            )
        return html


def _template_static(statics: Any, templates: Any) -> list[str]:
    if isinstance(statics, int) and not isinstance(statics, bool):
        if not isinstance(templates, dict) or str(statics) not in templates:
            raise RenderError(f'statics index {statics} without a "p" table that has it')
        statics = templates[str(statics)]
    if not isinstance(statics, list) or not statics:
        raise RenderError(f"a node without statics: {statics!r}")
    return statics


_LEADING_TAG = re.compile(r"^(\s*(?:<!--.*?-->\s*)*)<([^\s/>]+)")


def _modify_root(html: str, attrs: Mapping[str, Any]) -> tuple[str, str, str]:
    """Add ``attrs`` to the start tag of the root element (``modify_root.ts``).

    Returns the root element and the whitespace and comments before and after it.
    """
    lookahead = _LEADING_TAG.match(html)
    if lookahead is None:
        raise RenderError(f"malformed html {html}")
    before, tag = lookahead.group(1), lookahead.group(2)
    tag_ends_at = lookahead.end()
    # The root's last ">" not inside a trailing comment.
    close_at = len(html) - 1
    inside_comment = False
    while close_at >= len(before) + len(tag):
        char = html[close_at]
        if inside_comment:
            if char == "-" and html[close_at - 3 : close_at] == "<!-":
                inside_comment = False
                close_at -= 4
            else:
                close_at -= 1
        elif char == ">" and html[close_at - 2 : close_at] == "--":
            inside_comment = True
            close_at -= 3
        elif char == ">":
            break
        else:
            close_at -= 1
    after = html[close_at + 1 :]
    attrs_str = " ".join(
        name if value is True else f'{name}="{value}"' for name, value in attrs.items()
    )
    rest = html[tag_ends_at : close_at + 1]
    return f"<{tag}{' ' if attrs_str else ''}{attrs_str}{rest}", before, after


def _count_roots(html: str) -> int:
    """How many top-level elements ``html`` holds; text outside them counts as one more."""
    wrapper = _parse(html)
    roots = 1 if (wrapper.text or "").strip() else 0
    for child in wrapper:
        if isinstance(child.tag, str):
            roots += 1
        if (child.tail or "").strip():
            roots += 1
    return roots


# ---------------------------------------------------------------------------------------------
# The DOM (dom_patch.ts)
# ---------------------------------------------------------------------------------------------


class Document:
    """The DOM of one view, as the client's patches leave it.

    ``Document(view_id)`` starts empty; ``Document(view_id, html)`` starts from the view
    container's inner HTML of the dead render (whose stream children the join removes, and
    whose ``phx-update="ignore"`` content it keeps). :meth:`join` and :meth:`update` render
    a :class:`Rendered` and patch, as the client's ``View`` does; :meth:`apply` and
    :meth:`apply_component` patch from HTML already rendered.
    """

    def __init__(self, view_id: str, html: str = "") -> None:
        self.view_id = view_id
        self._root = _parse(html)

    @property
    def root(self) -> HtmlElement:
        """The view container (an ``lxml.html`` element; its children are the view's page)."""
        return self._root

    def html(self) -> str:
        """The view's inner HTML as the DOM has it now."""
        text = html_escape(self._root.text or "", quote=False)
        return text + "".join(lxml_html.tostring(child, encoding=str) for child in self._root)

    def select(
        self, css: str, text_filter: str | re.Pattern[str] | None = None
    ) -> list[HtmlElement]:
        """The elements of the view matching a CSS selector, in document order.

        ``text_filter`` keeps those whose text (whitespace collapsed, :func:`element_text`)
        contains the string or matches the pattern. The view container itself never matches.
        """
        found = [el for el in CSSSelector(css, translator="html")(self._root)
                 if el is not self._root]
        if text_filter is None:
            return found
        return [el for el in found if _text_matches(el, text_filter)]

    def find(self, css: str, text_filter: str | re.Pattern[str] | None = None) -> HtmlElement:
        """The one element matching ``css`` (and ``text_filter``); LookupError if none or many."""
        found = self.select(css)
        matching = found if text_filter is None else [
            el for el in found if _text_matches(el, text_filter)
        ]
        if len(matching) == 1:
            return matching[0]
        if matching:
            shown = "\n".join(_outer_html(el) for el in matching)
            raise LookupError(f"expected selector {css!r} to return a single element, "
                              f"but got {len(matching)}:\n\n{shown}")
        if found:
            raise LookupError(f"selector {css!r} returned {len(found)} elements but none "
                              f"matched the text filter {text_filter!r}:\n\n"
                              + "\n".join(_outer_html(el) for el in found))
        raise LookupError(f"expected selector {css!r} to return a single element, "
                          f"but got none within:\n\n{self.html()}")

    def component_cids(self) -> list[int]:
        """The components of this view whose root element is in the DOM, in document order."""
        return [int(el.get(PHX_COMPONENT)) for el in self._components(self._root)]

    def join(self, rendered: Rendered) -> None:
        """Render the joined tree and patch it in (the client's join patch)."""
        output = rendered.render()
        self.apply(output.html, output.streams, join=True)

    def update(self, rendered: Rendered, diff: Mapping[str, Any]) -> UpdateResult:
        """Merge a diff into ``rendered`` and patch the DOM, as the client's ``View.update``.

        A diff of components only re-renders and patches those components whose root is on
        the page (outermost first); any other non-empty diff re-renders the whole view.
        """
        normalized: dict[str, Any] = _normalize(diff)
        body = set(normalized) - {EVENTS, TITLE, REPLY}
        cids = [int(cid) for cid in normalized.get(COMPONENTS) or {}]
        extras = rendered.merge(normalized)
        removed: list[int] = []
        if body == {COMPONENTS}:
            for cid in self._existing_parent_cids(cids):
                output = rendered.render_component(cid)
                removed += self.apply_component(cid, output.html, output.streams)
        elif body:
            output = rendered.render()
            removed = self.apply(output.html, output.streams)
        return UpdateResult(extras, list(dict.fromkeys(removed)))

    def apply(
        self, html: str, streams: Sequence[StreamOp] = (), *, join: bool = False
    ) -> list[int]:
        """Patch the whole view from its new inner HTML; return the cids that left the page.

        ``streams`` are the operations the render returned: first each stream's reset
        children and deleted ids go, then the stream containers get their new children.
        ``join`` also empties every stream container first (the client's join patch).
        """
        before = self.component_cids()
        patch = _Patch(self._root, streams, join=join)
        new_root = _parse(html)
        patch.morph(new_root)
        self._root = new_root
        return self._removed_since(before)

    def apply_component(self, cid: int, html: str, streams: Sequence[StreamOp] = ()) -> list[int]:
        """Patch one component's root element from its new HTML; return the cids that left."""
        target = next((el for el in self._components(self._root)
                       if el.get(PHX_COMPONENT) == str(cid)), None)
        if target is None:
            raise RenderError(
                f"no component found matching viewId {self.view_id} and cid {cid}"
            )
        before = self.component_cids()
        patch = _Patch(self._root, streams, join=False)
        wrapper = _parse(html)
        patch.morph(wrapper)
        parent = target.getparent()
        if parent is not None:
            new = next(child for child in wrapper if isinstance(child.tag, str))
            if target.get(PHX_STREAM_REF) is not None and new.get(PHX_STREAM_REF) is None:
                new.set(PHX_STREAM_REF, target.get(PHX_STREAM_REF))
            new.tail = target.tail
            parent.replace(target, new)
        return self._removed_since(before)

    def _components(self, root: HtmlElement) -> Iterator[HtmlElement]:
        for el in root.iter(etree.Element):
            if el.get(PHX_VIEW_REF) == self.view_id and _is_cid(el.get(PHX_COMPONENT)):
                yield el

    def _existing_parent_cids(self, cids: Iterable[int]) -> list[int]:
        """Of ``cids``, those on the page and not inside another (``findExistingParentCIDs``)."""
        parents: dict[int, None] = {}
        children: set[int] = set()
        for cid in cids:
            for el in self._components(self._root):
                if el.get(PHX_COMPONENT) != str(cid):
                    continue
                parents[cid] = None
                children.update(int(child.get(PHX_COMPONENT))
                                for child in self._components(el) if child is not el)
        return [cid for cid in parents if cid not in children]

    def _removed_since(self, before: list[int]) -> list[int]:
        after = set(self.component_cids())
        return [cid for cid in dict.fromkeys(before) if cid not in after]


def element_text(el: HtmlElement) -> str:
    """An element's text with runs of whitespace collapsed to one space, trimmed."""
    return " ".join(el.text_content().split())


def _text_matches(el: HtmlElement, text_filter: str | re.Pattern[str]) -> bool:
    text = element_text(el)
    if isinstance(text_filter, re.Pattern):
        return text_filter.search(text) is not None
    return text_filter in text


def _outer_html(el: HtmlElement) -> str:
    return str(lxml_html.tostring(el, encoding=str, with_tail=False))


def _parse(html: str) -> HtmlElement:
    """``html`` parsed as the children of a bare ``<div>``."""
    return lxml_html.fragment_fromstring(html, create_parent="div")


@dataclass
class _Insert:
    ref: str
    insert: StreamInsert
    reset: bool


class _Patch:
    """One DOM patch (``DOMPatch.perform``), on a new render parsed from HTML.

    Construction runs the client's first step on the old DOM: each stream's reset children
    and deleted ids are removed (those inserted again are kept aside to be restored).
    :meth:`morph` then walks the new render children first, giving each stream container
    its old children plus the inserted ones, and each ignored container its old content.
    """

    def __init__(self, old_root: HtmlElement, streams: Sequence[StreamOp], *, join: bool) -> None:
        self.inserts: dict[str, _Insert] = {}
        self.restore: dict[str, HtmlElement] = {}
        for stream in streams:
            for insert in stream.inserts:
                self.inserts[insert.dom_id] = _Insert(stream.ref, insert, stream.reset)
            if stream.reset:
                for child in list(old_root.iter(etree.Element)):
                    if child.get(PHX_STREAM_REF) == stream.ref:
                        self._remove_from_dom(child)
            for dom_id in stream.delete_ids:
                child = _by_id(old_root, dom_id)
                if child is not None:
                    self._remove_from_dom(child)
        if join:
            for container in list(old_root.iter(etree.Element)):
                if container.get("phx-update") == "stream":
                    for child in list(container):
                        self._remove_from_dom(child)
        # morphdom matches a new child to an element that was on the page when the patch
        # began, by id; an element kept aside above is not one, and comes back as new.
        self.on_page: dict[str, str] = {}
        for el in old_root.iter(etree.Element):
            if el.get("id"):
                self.on_page.setdefault(el.get("id"), el.tag)
        self.old_by_id: dict[str, HtmlElement] = {}
        for tree in [old_root, *self.restore.values()]:
            for el in tree.iter(etree.Element):
                if el.get("id"):
                    self.old_by_id.setdefault(el.get("id"), el)
        self._kept: set[int] = set()

    def morph(self, new_root: HtmlElement) -> None:
        # Reversed document order visits every element after all of its descendants.
        for el in reversed(list(new_root.iter(etree.Element))):
            if el is new_root:
                continue
            kind = _phx_update(el)
            if kind == "stream":
                self._patch_stream(el)
            elif kind == "ignore":
                self._patch_ignored(el)

    def _remove_from_dom(self, el: HtmlElement) -> None:
        if el.getparent() is None:
            return
        if isinstance(el.tag, str) and el.get("id") in self.inserts:
            self.restore[el.get("id")] = el
        _detach(el)

    def _patch_ignored(self, new: HtmlElement) -> None:
        dom_id = _require_id(new, "ignore")
        old = self.old_by_id.get(dom_id)
        if old is None or old.tag != new.tag:
            return
        # The client only updates data-* attributes of an ignored element.
        attrs = [(name, new.get(name) if name.startswith("data-") else value)
                 for name, value in old.attrib.items()
                 if not name.startswith("data-") or name in new.attrib]
        attrs += [(name, value) for name, value in new.attrib.items()
                  if name.startswith("data-") and name not in old.attrib]
        new.attrib.clear()
        for name, value in attrs:
            new.set(name, value)
        for child in list(new):
            new.remove(child)
        new.text = old.text
        for child in old:
            new.append(copy.deepcopy(child))

    def _patch_stream(self, new: HtmlElement) -> None:
        dom_id = _require_id(new, "stream")
        old = self.old_by_id.get(dom_id)
        children = [copy.deepcopy(child) for child in (old if old is not None else [])
                    if isinstance(child.tag, str)]
        self._kept.update(id(child) for child in children)
        added = [child for child in new if isinstance(child.tag, str)]
        for child in added:
            _require_id(child, "stream", child=True)
        for child in added:
            self._add_stream_child(children, child)
        for child in list(new):
            new.remove(child)
        new.text = None
        for child in children:
            child.tail = None
            new.append(child)

    def _add_stream_child(self, children: list[HtmlElement], child: HtmlElement) -> None:
        dom_id = child.get("id")
        insert = self.inserts.get(dom_id)
        if self.on_page.get(dom_id) == child.tag:
            # On the page already: updated where it is, not moved (the client's
            # data-phx-stream sticks). One a limit dropped during this patch stays dropped.
            del self.on_page[dom_id]
            index = next((i for i, el in enumerate(children)
                          if id(el) in self._kept and el.get("id") == dom_id), None)
            if index is None:
                return
            ref = insert.ref if insert else children[index].get(PHX_STREAM_REF)
            if ref is not None:
                child.set(PHX_STREAM_REF, ref)
            children[index] = child
            if insert is not None and insert.reset:
                self._reorder(children, child, insert.insert)
        elif insert is None:
            children.append(child)
        elif insert.insert.update_only and dom_id not in self.restore:
            return
        else:
            self.restore.pop(dom_id, None)
            child.set(PHX_STREAM_REF, insert.ref)
            if _add_child(children, child, insert.insert.at):
                self._reorder(children, child, insert.insert)

    def _reorder(self, children: list[HtmlElement], el: HtmlElement, insert: StreamInsert) -> None:
        """Move a new (or reset) stream child to ``at``, then apply ``limit``."""
        at = insert.at
        if at == 0:
            _move_before(children, el, children[0])
        elif at > 0:
            old_index = _index_of(children, el)
            if at >= len(children) - 1:
                _move_before(children, el, None)
            elif old_index > at:
                _move_before(children, el, children[at])
            else:
                following = children[at + 1] if at + 1 < len(children) else None
                _move_before(children, el, following)
        limit = insert.limit
        if limit is None:
            return
        if limit < 0 and len(children) > -limit:
            victims = children[: len(children) + limit]
        elif limit >= 0 and len(children) > limit:
            victims = children[limit:]
        else:
            return
        for victim in victims:
            children.pop(_index_of(children, victim))
            if victim.get("id") in self.inserts:
                self.restore[victim.get("id")] = victim


def _phx_update(el: HtmlElement) -> str | None:
    value = el.get("phx-update")
    if (value or el.get("data-phx-update")) == "ignore":
        return "ignore"
    if value in (None, "", "replace"):
        return None
    if value == "stream":
        return "stream"
    if value in ("append", "prepend"):
        raise RenderError(f'phx-update="{value}" has been deprecated before v1.0 and is '
                          "not supported by the LiveView client any more")
    raise RenderError(f'invalid phx-update value "{value}", expected one of "stream", '
                      '"replace", "ignore"')


def _require_id(el: HtmlElement, kind: str, *, child: bool = False) -> str:
    dom_id = el.get("id")
    if not dom_id:
        what = "each child" if child else "the container"
        raise RenderError(f'setting phx-update to "{kind}" requires setting an ID on {what}, '
                          f"got:\n\n{_outer_html(el)}")
    return str(dom_id)


def _add_child(children: list[HtmlElement], child: HtmlElement, at: int) -> bool:
    """Insert a stream child where the client's ``addChild`` does; False if it adds none."""
    if at == 0:
        children.insert(0, child)
    elif at == -1:
        # Appended before the first non-stream child, when the last one is not a stream child.
        if children and children[-1].get(PHX_STREAM_REF) is None:
            first = next(i for i, el in enumerate(children) if el.get(PHX_STREAM_REF) is None)
            children.insert(first, child)
        else:
            children.append(child)
    elif at > 0:
        children.insert(min(at, len(children)), child)
    else:
        return False
    return True


def _index_of(children: list[HtmlElement], el: HtmlElement) -> int:
    return next(i for i, child in enumerate(children) if child is el)


def _move_before(children: list[HtmlElement], el: HtmlElement, ref: HtmlElement | None) -> None:
    if ref is el:
        return
    children.pop(_index_of(children, el))
    if ref is None:
        children.append(el)
    else:
        children.insert(_index_of(children, ref), el)


def _by_id(root: HtmlElement, dom_id: str) -> HtmlElement | None:
    return next((el for el in root.iter(etree.Element) if el.get("id") == dom_id), None)


def _detach(el: HtmlElement) -> None:
    """Remove an element, keeping the text that followed it."""
    parent = el.getparent()
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
        el.tail = None
    parent.remove(el)
