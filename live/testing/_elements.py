"""Elements and forms of a joined view: clicks, keys, hooks, changes and submits as the
client sends them (see :mod:`live.testing`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from lxml import html as lxml_html  # type: ignore[import-untyped]

from ._page import LiveRedirect, Redirect, TextFilter
from .rendered import element_text

if TYPE_CHECKING:
    from ._view import View

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


