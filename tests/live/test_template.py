"""The template compiler: HTML it refuses (with file and line), escaping by context, roots,
and which assigns each part reads."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import Markup

from live.diff import render
from live.template import Assigns, Template, TemplateError, raw


def html(source: str, **assigns: Any) -> str:
    return Template(source).render(**assigns)


# -- HTML it refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "message"), [
    ("<div>\n  <span>\n</div>", "page.heex:3: </div> does not close <span> (opened at line 2)"),
    ("<div>\n<p>text</p>", "page.heex:1: <div> is never closed"),
    ("<p>one</p>\n</section>", "page.heex:2: </section> closes nothing that is open"),
    ("<p class=big>x</p>", "page.heex:1: the value of class in <p> must be in quotes or braces"),
    ("<p>\n{1 +}</p>", "page.heex:2: {1 +} is not a Python expression"),
    ("<p>{@count</p>", "page.heex:1: a '{' that is never closed"),
    ("<p>a } b</p>", "page.heex:1: a '}' without its '{'"),
    ("<li :for={x of @xs}>{x}</li>", "page.heex:1: :for={x of @xs} is not 'target in items'"),
    ("<li :key={1}>x</li>", "page.heex:1: :key needs a :for on the same element"),
    ("<li :when={1}>x</li>", "page.heex:1: :when in <li>: only :if, :for and :key"),
])
def test_bad_templates_are_refused_naming_file_and_line(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as refused:
        Template(source, filename="page.heex")

    assert str(refused.value).startswith(message)


def test_a_missing_assign_names_it_and_the_line() -> None:
    template = Template("<h1>Hi</h1>\n<p>{@name}</p>", filename="hello.heex")

    with pytest.raises(TemplateError, match=r"hello.heex:2: assign @name is not set"):
        template.render(other=1)


# -- escaping ------------------------------------------------------------------------------------


def test_text_is_escaped_unless_raw() -> None:
    out = html("<p>{@a} {raw(@b)} {@c}</p>", a="<b>&</b>", b="<i>ok</i>", c=Markup("<u>u</u>"))

    assert out == "<p>&lt;b&gt;&amp;&lt;/b&gt; <i>ok</i> <u>u</u></p>"


def test_attributes_escape_quotes_and_none_false_true_render_as_html_does() -> None:
    out = html('<input value={@v} title={@none} disabled={@yes} hidden={@no} class={@cls}>',
               v='say "hi" <now>', none=None, yes=True, no=False, cls=["a", "", "b"])

    assert out == '<input value="say &#34;hi&#34; &lt;now&gt;" disabled class="a b">'


def test_a_dict_spreads_into_attributes() -> None:
    out = html('<a {@rest}>x</a>', rest={"href": "/x?a=1&b=2", "data-on": True, "id": None})

    assert out == '<a href="/x?a=1&amp;b=2" data-on>x</a>'


def test_script_and_style_bodies_are_written_as_they_are() -> None:
    out = html("<style>p { color: red; }</style><script>if (a) { b() }</script>")

    assert out == "<style>p { color: red; }</style><script>if (a) { b() }</script>"


def test_void_elements_and_comments() -> None:
    out = html("<!-- a note --><br/><img src={@src}><p>x</p>", src="/a.png")

    assert out == '<!-- a note --><br><img src="/a.png"><p>x</p>'


# -- expressions ---------------------------------------------------------------------------------


def test_assigns_in_f_strings_and_matmul_stays_matmul() -> None:
    class M:
        def __matmul__(self, other: object) -> str:
            return "matmul"

    out = html('<a href={f"/posts/{@id}/edit"} title={f"mail a@b {@id}"}>{@m @ @m}</a>',
               id=7, m=M())

    assert out == '<a href="/posts/7/edit" title="mail a@b 7">matmul</a>'


def test_if_and_for_with_tuple_targets_and_the_modules_names() -> None:
    out = html('<ul :if={@show}><li :for={i, name in enumerate(@names)} :key={name}>'
               '{i}:{shout(name)}</li></ul><p :if={not @show}>none</p>',
               show=True, names=["ann", "bob"])

    assert out == "<ul><li>0:ANN</li><li>1:BOB</li></ul>"


def shout(name: str) -> str:
    return name.upper()


# -- roots and tracking --------------------------------------------------------------------------


def test_a_part_knows_whether_it_renders_exactly_one_element() -> None:
    assert Template("  <div>{@a}</div>\n").part.root
    assert not Template("<div></div><p></p>").part.root
    assert not Template("text <b>x</b>").part.root
    assert not Template("{@a}").part.root
    block = Template("<section><p :if={@a}>x</p></section>").part.dynamics[0]
    assert block.part.root  # type: ignore[union-attr]


def test_each_expression_knows_the_assigns_it_reads() -> None:
    part = Template("<p>{@a + @b}</p><p>{len(@c)}</p><p>{assigns['d']}</p>").part

    assert [d.deps for d in part.dynamics] == [{"a", "b"}, {"c"}, {"*"}]


def test_a_render_evaluates_only_what_reads_a_changed_assign() -> None:
    calls: list[str] = []

    def seen(name: str, value: Any) -> Any:
        calls.append(name)
        return value

    template = Template("<p>{seen('a', @a)}</p><p>{seen('b', @b)}</p>",
                        globals={"seen": seen})
    _, prints = render(template(Assigns(a=1, b=2)), None, None)
    calls.clear()

    diff, _ = render(template(Assigns(a=1, b=3)), prints, frozenset({"b"}))

    assert calls == ["b"]
    assert diff == {"1": "3"}


def test_raw_is_markup() -> None:
    assert isinstance(raw("<b>"), Markup)
