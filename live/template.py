"""Live templates: HTML with Python expressions, compiled once into static and dynamic parts.

The syntax is HEEx's, with Python inside the braces::

    <section class="counter">
      <h1>Count: {@count}</h1>
      <button phx-click="inc" class={"big" if @count > 9 else None}>+</button>
      <ul :if={@items}>
        <li :for={item in @items} :key={item.id} id={f"item-{item.id}"}>{item.name}</li>
      </ul>
    </section>

- ``{expr}`` in text is escaped (``raw(value)`` or a ``markupsafe.Markup`` is not);
  ``@name`` reads the assign ``name``;
- ``attr={expr}`` renders ``attr="..."`` escaped for an attribute, omits it for ``None`` or
  ``False`` and writes it bare for ``True``; a JS command (:mod:`live.js`) renders its JSON;
  ``{expr}`` among the attributes spreads a dict of them;
- ``:if={cond}`` renders the element only when ``cond`` holds; ``:for={x in items}`` renders
  it once per item (``:key={...}`` names each entry, for keyed diffs; the default key is the
  position), ``:for={dom_id, item in @streams.name}`` for a stream (:mod:`live.streams`);
- ``<script>`` and ``<style>`` bodies are text as written (no interpolation there).

Compiling checks the HTML: an unclosed or mismatched tag, an attribute without a value in
quotes or braces, or an expression that is not Python raises :class:`TemplateError` naming
the template's file and line. Each part of the compiled template knows which assigns its
expressions read (``@name``), so a render after a change evaluates only the parts that read
a changed assign (:mod:`live.diff`), and whether it renders exactly one root element (the
client's ``"r": 1``).

Expressions run as Python functions of the assigns (and of the loop variables around them),
with the names of the module that made the template (or the ``globals`` given) in scope,
plus ``raw``.
"""

from __future__ import annotations

import ast
import io
import itertools
import keyword
import re
import sys
import tokenize
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

__all__ = [
    "ALL",
    "Assigns",
    "AttrExpr",
    "AttrsExpr",
    "ForBlock",
    "IfBlock",
    "Part",
    "Rendered",
    "Template",
    "TemplateError",
    "TextExpr",
    "raw",
]

VOID = frozenset(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "param", "source", "track", "wbr"])
RAW_TEXT = frozenset({"script", "style"})
ALL: frozenset[str] = frozenset({"*"})
"""The dependencies of an expression that reads the assigns as a whole: every change."""

_ids = itertools.count(1)


class TemplateError(Exception):
    """A template that cannot compile; the message names its file and line."""


def raw(value: Any) -> Markup:
    """``value`` written as it is, unescaped: only for HTML you made or trust."""
    return Markup(value)


class Assigns(dict[str, Any]):
    """The assigns a template reads; a missing one is an error naming it."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"assign @{key} is not set (assigns: {', '.join(sorted(self))})")


# -- what a compiled template is made of --------------------------------------------------


@dataclass(eq=False)
class TextExpr:
    """``{expr}`` in text: its value, escaped (or a nested render)."""

    fn: Callable[..., Any]
    deps: frozenset[str]
    where: str


@dataclass(eq=False)
class AttrExpr:
    """``name={expr}``: the whole attribute, ``' name="value"'``, or nothing."""

    name: str
    fn: Callable[..., Any]
    deps: frozenset[str]
    where: str


@dataclass(eq=False)
class AttrsExpr:
    """``{expr}`` among attributes: a dict of them."""

    fn: Callable[..., Any]
    deps: frozenset[str]
    where: str


@dataclass(eq=False)
class IfBlock:
    """An element with ``:if``: the element's part, or nothing."""

    cond: Callable[..., Any]
    part: Part
    deps: frozenset[str]
    where: str


@dataclass(eq=False)
class ForBlock:
    """An element with ``:for``: one entry of the element's part per item."""

    items: Callable[..., Any]
    unpack: Callable[[Any], tuple[Any, ...]]
    key: Callable[..., Any] | None
    part: Part
    deps: frozenset[str]
    where: str


Dynamic = TextExpr | AttrExpr | AttrsExpr | IfBlock | ForBlock


@dataclass(eq=False)
class Part:
    """Statics interleaved with dynamics: ``statics[0] + d0 + statics[1] + ... + statics[n]``.

    ``scope`` is the names its functions take after the assigns (loop variables of the
    comprehensions around it); ``root`` whether it renders exactly one element."""

    statics: list[str]
    dynamics: list[Dynamic]
    scope: tuple[str, ...]
    root: bool
    deps: frozenset[str]
    id: int = field(default_factory=lambda: next(_ids))


@dataclass(eq=False)
class Rendered:
    """A template applied to assigns, not yet evaluated: the diff engine evaluates what a
    change needs (:mod:`live.diff`)."""

    part: Part
    assigns: Mapping[str, Any]
    scope: tuple[Any, ...] = ()

    def __str__(self) -> str:
        from .diff import to_html

        return to_html(self)

    def __html__(self) -> str:
        return str(self)


class Template:
    """A compiled template: ``Template(source)`` (the caller's module globals in scope), or
    :meth:`from_file`; ``template(assigns)`` is a :class:`Rendered`."""

    def __init__(self, source: str, *, filename: str = "<template>", line: int = 1,
                 globals: dict[str, Any] | None = None) -> None:
        if globals is None:
            globals = sys._getframe(1).f_globals
        scope = {"raw": raw, "Markup": Markup, **globals}
        nodes = _Parser(source, filename, line).parse()
        self.filename = filename
        self.part = _Compiler(filename, scope).part(nodes, ())

    @classmethod
    def from_file(cls, path: str | Path, *, globals: dict[str, Any] | None = None) -> Template:
        if globals is None:
            globals = sys._getframe(1).f_globals
        path = Path(path)
        return cls(path.read_text(), filename=str(path), globals=globals)

    def __call__(self, assigns: Mapping[str, Any]) -> Rendered:
        return Rendered(self.part, assigns)

    def render(self, **assigns: Any) -> str:
        """The HTML of one render with ``assigns`` (no diff state): for tests and mail."""
        return str(self(Assigns(assigns)))


# -- parsing --------------------------------------------------------------------------------


@dataclass
class _Text:
    text: str


@dataclass
class _Expr:
    code: str
    line: int


@dataclass
class _Attr:
    name: str
    value: str | _Expr | None  # None: a bare attribute; _Expr with name "": spread


@dataclass
class _Element:
    tag: str
    attrs: list[_Attr]
    children: list[Any]
    line: int
    void: bool = False
    special: dict[str, _Expr] = field(default_factory=dict)


class _Parser:
    def __init__(self, source: str, filename: str, line: int) -> None:
        self.src = source
        self.pos = 0
        self.filename = filename
        self.first_line = line

    def line_at(self, pos: int) -> int:
        return self.first_line + self.src.count("\n", 0, pos)

    def error(self, message: str, pos: int | None = None) -> TemplateError:
        at = self.pos if pos is None else pos
        return TemplateError(f"{self.filename}:{self.line_at(at)}: {message}")

    def parse(self) -> list[Any]:
        root: list[Any] = []
        stack: list[_Element] = []
        out = root
        src = self.src
        text: list[str] = []

        def flush() -> None:
            if text:
                out.append(_Text("".join(text)))
                text.clear()

        while self.pos < len(src):
            c = src[self.pos]
            if c == "{":
                flush()
                out.append(self.expression())
            elif c == "}":
                raise self.error("a '}' without its '{' (write &#125; for the character)")
            elif src.startswith("<!--", self.pos):
                end = src.find("-->", self.pos)
                if end < 0:
                    raise self.error("an unclosed <!-- comment")
                text.append(src[self.pos:end + 3])
                self.pos = end + 3
            elif src.startswith("<!", self.pos):
                end = src.find(">", self.pos)
                text.append(src[self.pos:end + 1])
                self.pos = end + 1
            elif src.startswith("</", self.pos):
                flush()
                start = self.pos
                end = src.find(">", self.pos)
                if end < 0:
                    raise self.error("an unclosed closing tag")
                tag = src[self.pos + 2:end].strip()
                self.pos = end + 1
                if not stack:
                    raise self.error(f"</{tag}> closes nothing that is open", start)
                top = stack.pop()
                if top.tag != tag:
                    raise self.error(
                        f"</{tag}> does not close <{top.tag}> (opened at line {top.line})",
                        start)
                out = stack[-1].children if stack else root
            elif c == "<" and self.pos + 1 < len(src) and (src[self.pos + 1].isalpha()):
                flush()
                element = self.open_tag()
                out.append(element)
                if element.void:
                    continue
                if element.tag in RAW_TEXT:
                    close = src.find(f"</{element.tag}>", self.pos)
                    if close < 0:
                        raise self.error(f"<{element.tag}> is never closed", self.pos)
                    element.children.append(_Text(src[self.pos:close]))
                    self.pos = close + len(element.tag) + 3
                    continue
                stack.append(element)
                out = element.children
            else:
                text.append(c)
                self.pos += 1
        flush()
        if stack:
            top = stack[-1]
            raise TemplateError(f"{self.filename}:{top.line}: <{top.tag}> is never closed")
        return root

    def expression(self) -> _Expr:
        """``{...}`` at ``pos``: the Python inside, up to the matching brace."""
        start = self.pos
        depth = 0
        i = self.pos
        src = self.src
        while i < len(src):
            c = src[i]
            if c in "\"'":
                i = self.skip_string(i)
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    self.pos = i + 1
                    code = src[start + 1:i].strip()
                    if not code:
                        raise self.error("an empty {}", start)
                    return _Expr(code, self.line_at(start))
            i += 1
        raise self.error("a '{' that is never closed", start)

    def skip_string(self, i: int) -> int:
        src = self.src
        quote = src[i] * 3 if src.startswith(src[i] * 3, i) else src[i]
        j = i + len(quote)
        while j < len(src):
            if src[j] == "\\":
                j += 2
                continue
            if src.startswith(quote, j):
                return j + len(quote)
            j += 1
        raise self.error("an unclosed string in an expression", i)

    def open_tag(self) -> _Element:
        src = self.src
        start = self.pos
        self.pos += 1
        name_end = self.pos
        while name_end < len(src) and (src[name_end].isalnum() or src[name_end] in "-_.:"):
            name_end += 1
        tag = src[self.pos:name_end]
        self.pos = name_end
        element = _Element(tag, [], [], self.line_at(start))
        while True:
            self.skip_space()
            if self.pos >= len(src):
                raise self.error(f"<{tag}> is not closed with '>'", start)
            if src.startswith("/>", self.pos):
                self.pos += 2
                element.void = True
                return element
            if src[self.pos] == ">":
                self.pos += 1
                element.void = tag.lower() in VOID
                return element
            if src[self.pos] == "{":
                element.attrs.append(_Attr("", self.expression()))
                continue
            name_start = self.pos
            while self.pos < len(src) and src[self.pos] not in " \t\r\n=/>{\"'":
                self.pos += 1
            name = src[name_start:self.pos]
            if not name:
                raise self.error(f"an unexpected {src[self.pos]!r} in <{tag}>")
            self.skip_space()
            value: str | _Expr | None = None
            if self.pos < len(src) and src[self.pos] == "=":
                self.pos += 1
                self.skip_space()
                q = src[self.pos] if self.pos < len(src) else ""
                if q in "\"'":
                    end = src.find(q, self.pos + 1)
                    if end < 0:
                        raise self.error(f"the value of {name} in <{tag}> is never closed")
                    value = src[self.pos + 1:end]
                    self.pos = end + 1
                elif q == "{":
                    value = self.expression()
                else:
                    raise self.error(f"the value of {name} in <{tag}> must be in quotes or "
                                     "braces")
            if name.startswith(":"):
                if name not in (":if", ":for", ":key") or not isinstance(value, _Expr):
                    raise self.error(f"{name} in <{tag}>: only :if, :for and :key, each with "
                                     "a {...} value")
                element.special[name] = value
            else:
                element.attrs.append(_Attr(name, value))

    def skip_space(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1


# -- compiling ------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, filename: str, globals: dict[str, Any]) -> None:
        self.filename = filename
        self.globals = globals

    def where(self, line: int) -> str:
        return f"{self.filename}:{line}"

    def part(self, nodes: list[Any], scope: tuple[str, ...]) -> Part:
        statics: list[str] = [""]
        dynamics: list[Dynamic] = []

        def static(text: str) -> None:
            statics[-1] += text

        def dynamic(d: Dynamic) -> None:
            dynamics.append(d)
            statics.append("")

        def emit(node: Any) -> None:
            if isinstance(node, _Text):
                static(node.text)
            elif isinstance(node, _Expr):
                fn, deps = self.function(node.code, scope, node.line)
                dynamic(TextExpr(fn, deps, self.where(node.line)))
            elif node.special:
                dynamic(self.block(node, scope))
            else:
                element(node)

        def element(node: _Element) -> None:
            static(f"<{node.tag}")
            for attr in node.attrs:
                if attr.value is None:
                    static(f" {attr.name}")
                elif isinstance(attr.value, str):
                    static(f' {attr.name}="{attr.value}"')
                else:
                    fn, deps = self.function(attr.value.code, scope, attr.value.line)
                    where = self.where(attr.value.line)
                    dynamic(AttrsExpr(fn, deps, where) if attr.name == ""
                            else AttrExpr(attr.name, fn, deps, where))
            if node.void:
                static(">" if node.tag.lower() in VOID else " />")
                return
            static(">")
            for child in node.children:
                emit(child)
            static(f"</{node.tag}>")

        for node in nodes:
            emit(node)
        meaningful = [n for n in nodes if not (isinstance(n, _Text) and not n.text.strip())]
        root = (len(meaningful) == 1 and isinstance(meaningful[0], _Element)
                and not meaningful[0].special)
        deps: set[str] = set()
        for d in dynamics:
            deps |= d.deps
        return Part(statics, dynamics, scope, root, frozenset(deps))

    def block(self, node: _Element, scope: tuple[str, ...]) -> Dynamic:
        special = node.special
        bare = _Element(node.tag, node.attrs, node.children, node.line, node.void)
        where = self.where(node.line)
        if ":for" in special:
            loop = special[":for"]
            target, items_code = self.loop(loop)
            names = self.target_names(target, loop.line)
            inner_scope = scope + tuple(n for n in names if n not in scope)
            items, items_deps = self.function(items_code, scope, loop.line)
            unpack = self.unpacker(target, names, loop.line)
            key = None
            key_deps: frozenset[str] = frozenset()
            if ":key" in special:
                key, key_deps = self.function(special[":key"].code, inner_scope,
                                              special[":key"].line)
            inner_special = {k: v for k, v in special.items() if k == ":if"}
            body: _Element = bare
            if inner_special:
                body = _Element(node.tag, node.attrs, node.children, node.line, node.void,
                                inner_special)
                part = self.part([body], inner_scope)
            else:
                part = self.part([bare], inner_scope)
            deps = items_deps | key_deps | part.deps
            return ForBlock(items, unpack, key, part, deps, where)
        if ":key" in special:
            raise TemplateError(f"{where}: :key needs a :for on the same element")
        cond_expr = special[":if"]
        cond, cond_deps = self.function(cond_expr.code, scope, cond_expr.line)
        part = self.part([bare], scope)
        return IfBlock(cond, part, cond_deps | part.deps, where)

    def loop(self, loop: _Expr) -> tuple[str, str]:
        """``target in items`` split at its first ``in`` outside brackets."""
        depth = 0
        try:
            for tok in tokenize.generate_tokens(io.StringIO(loop.code).readline):
                if tok.type == tokenize.OP and tok.string in "([{":
                    depth += 1
                elif tok.type == tokenize.OP and tok.string in ")]}":
                    depth -= 1
                elif tok.type == tokenize.NAME and tok.string == "in" and depth == 0:
                    offset = tok.start[1]
                    target, items = loop.code[:offset].strip(), loop.code[tok.end[1]:].strip()
                    if target and items:
                        return target, items
                    break
        except (tokenize.TokenError, SyntaxError):
            pass
        raise TemplateError(f"{self.where(loop.line)}: :for={{{loop.code}}} is not "
                            "'target in items'")

    def target_names(self, target: str, line: int) -> tuple[str, ...]:
        try:
            tree = ast.parse(target, mode="eval").body
        except SyntaxError:
            raise TemplateError(f"{self.where(line)}: {target!r} is not a :for target") from None
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                names.append(node.id)
            elif not isinstance(node, (ast.Tuple, ast.List, ast.Load, ast.Store)):
                raise TemplateError(f"{self.where(line)}: a :for target is names, not "
                                    f"{target!r}")
        return tuple(names)

    def unpacker(self, target: str, names: tuple[str, ...],
                 line: int) -> Callable[[Any], tuple[Any, ...]]:
        if len(names) == 1 and target == names[0]:
            return lambda item: (item,)
        source = (f"def __unpack__(__item__):\n    {target} = __item__\n"
                  f"    return ({', '.join(names)},)\n")
        namespace: dict[str, Any] = {}
        exec(compile(source, self.where(line), "exec"), {}, namespace)
        unpack: Callable[[Any], tuple[Any, ...]] = namespace["__unpack__"]
        return unpack

    def function(self, code: str, scope: tuple[str, ...],
                 line: int) -> tuple[Callable[..., Any], frozenset[str]]:
        """``code`` as a function of the assigns and ``scope``, and the assigns it reads."""
        rewritten, deps = _rewrite_assigns(code, self.where(line))
        params = ", ".join(("__assigns__", *scope))
        source = f"lambda {params}: ({rewritten}\n)"
        try:
            compiled = compile(source, self.where(line), "eval")
        except SyntaxError as e:
            raise TemplateError(f"{self.where(line)}: {{{code}}} is not a Python expression "
                                f"({e.msg})") from None
        fn: Callable[..., Any] = eval(compiled, self.globals)
        return fn, deps


def _rewrite_assigns(code: str, where: str) -> tuple[str, frozenset[str]]:
    """``@name`` as ``__assigns__["name"]``, and the names read. ``assigns`` used as a whole
    depends on everything."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as e:
        raise TemplateError(f"{where}: {{{code}}} does not tokenize ({e})") from None
    out: list[tuple[int, str]] = []
    deps: set[str] = set()
    previous: tokenize.TokenInfo | None = None
    skip = False
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        if (tok.type == tokenize.OP and tok.string == "@" and i + 1 < len(tokens)
                and tokens[i + 1].type == tokenize.NAME and _unary_position(previous)):
            name = tokens[i + 1].string
            if keyword.iskeyword(name):
                raise TemplateError(f"{where}: @{name} is not an assign name")
            deps.add(name)
            out.append((tokenize.NAME, "__assigns__"))
            out.append((tokenize.OP, "["))
            out.append((tokenize.STRING, repr(name)))
            out.append((tokenize.OP, "]"))
            skip = True
            previous = tokens[i + 1]
            continue
        if tok.type == tokenize.STRING and "@" in tok.string and _is_fstring(tok.string):
            out.append((tok.type, _rewrite_fstring(tok.string, deps, where)))
            previous = tok
            continue
        if tok.type == tokenize.NAME and tok.string == "assigns":
            deps.add("*")
            out.append((tokenize.NAME, "__assigns__"))
            previous = tok
            continue
        out.append((tok.type, tok.string))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = tok
    return tokenize.untokenize(out).strip(), frozenset(deps)


def _is_fstring(literal: str) -> bool:
    prefix = literal[:len(literal) - len(literal.lstrip("rRbBfFuU"))]
    return "f" in prefix.lower()


_FIELD_ASSIGN = re.compile(r"(?<![\w.\])}'\"])@([A-Za-z_]\w*)")


def _rewrite_fstring(literal: str, deps: set[str], where: str) -> str:
    """``@name`` inside the replacement fields of an f-string literal, with the quote the
    literal does not use (Python 3.11 allows no other inside a field)."""
    body_start = len(literal) - len(literal.lstrip("rRbBfFuU"))
    quote = literal[body_start]
    other = "'" if quote == '"' else '"'
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(literal):
        c = literal[i]
        if c == "{" and depth == 0 and literal.startswith("{{", i):
            out.append("{{")
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
        elif c == "@" and depth > 0:
            found = _FIELD_ASSIGN.match(literal, i)  # its look-behind sees the text before
            if found is not None:
                name = found.group(1)
                deps.add(name)
                out.append(f"__assigns__[{other}{name}{other}]")
                i = found.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _unary_position(previous: tokenize.TokenInfo | None) -> bool:
    """Whether an ``@`` here starts an operand (an assign) rather than a matmul."""
    if previous is None:
        return True
    if previous.type in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING):
        return keyword.iskeyword(previous.string)
    return not (previous.type == tokenize.OP and previous.string in (")", "]", "}"))


def iter_dynamics(part: Part) -> Iterator[Dynamic]:
    """Every dynamic of ``part`` and of the parts inside it."""
    for d in part.dynamics:
        yield d
        if isinstance(d, (IfBlock, ForBlock)):
            yield from iter_dynamics(d.part)
