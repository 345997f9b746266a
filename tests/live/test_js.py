"""JS commands: the encodings Phoenix's js_test.exs asserts, chaining, immutability, bad
arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from live.js import JS


def ops(js: JS) -> list[list[Any]]:
    return js.to_encodable()


# -- rendering -------------------------------------------------------------------------------

def test_encode_is_compact_json_with_sorted_keys() -> None:
    js = JS.push("inc", value={"two": 2, "one": 1})
    assert js.encode() == '[["push",{"event":"inc","value":{"one":1,"two":2}}]]'
    assert str(js) == js.encode()
    assert json.loads(str(js)) == [["push", {"event": "inc", "value": {"one": 1, "two": 2}}]]


def test_encode_is_not_html_escaped() -> None:
    js = JS.dispatch("my:event", detail={"html": "<b>\"a\" & 'b'</b>", "é": "ü"})
    assert str(js) == '[["dispatch",{"detail":{"html":"<b>\\"a\\" & \'b\'</b>","é":"ü"},' \
                      '"event":"my:event"}]]'


def test_an_empty_chain_encodes_as_an_empty_list() -> None:
    assert str(JS()) == "[]"
    assert ops(JS()) == []


def test_protocol_example() -> None:
    js = JS().push("inc", value={"by": 2}).toggle(to="#menu")
    assert str(js) == '[["push",{"event":"inc","value":{"by":2}}],["toggle",{"to":"#menu"}]]'


def test_to_encodable_returns_the_ops_list() -> None:
    assert ops(JS.push("inc", value={"one": 1})) == [
        ["push", {"event": "inc", "value": {"one": 1}}]
    ]


def test_to_encodable_with_multiple_ops() -> None:
    js = (JS.push("inc", value={"one": 1, "two": 2})
          .add_class("show", to="#modal", time=100)
          .remove_class("hidden"))
    assert ops(js) == [
        ["push", {"event": "inc", "value": {"one": 1, "two": 2}}],
        ["add_class", {"names": ["show"], "to": "#modal", "time": 100}],
        ["remove_class", {"names": ["hidden"]}],
    ]


# -- chaining and immutability -----------------------------------------------------------------

def test_class_and_instance_start_the_same_chain() -> None:
    assert JS.show(to="#modal") == JS().show(to="#modal")
    assert JS.show(to="#modal").hide(to="#x") == JS().show(to="#modal").hide(to="#x")
    assert hash(JS.focus()) == hash(JS().focus())
    assert JS.focus() != JS.focus_first()


def test_chaining_returns_a_new_value_and_leaves_the_old_one() -> None:
    base = JS.hide(to="#modal")
    longer = base.focus(to="#opener")
    assert longer is not base
    assert str(base) == '[["hide",{"to":"#modal"}]]'
    assert str(longer) == '[["hide",{"to":"#modal"}],["focus",{"to":"#opener"}]]'
    other = base.show(to="#other")
    assert ops(other) == [["hide", {"to": "#modal"}], ["show", {"to": "#other"}]]
    assert str(base) == '[["hide",{"to":"#modal"}]]'


def test_a_value_cannot_be_changed() -> None:
    js = JS.push("inc")
    with pytest.raises(AttributeError, match="immutable"):
        js._ops = ()
    with pytest.raises(AttributeError, match="immutable"):
        del js._ops
    encodable = js.to_encodable()
    encodable.append(["focus", {}])
    encodable[0][1]["event"] = "dec"
    assert str(js) == '[["push",{"event":"inc"}]]'


def test_mutating_a_payload_after_the_call_changes_nothing() -> None:
    value: dict[str, Any] = {"id": 1, "tags": ["a"]}
    js = JS.push("select", value=value)
    value["id"] = 2
    value["tags"].append("b")
    assert ops(js) == [["push", {"event": "select", "value": {"id": 1, "tags": ["a"]}}]]


def test_repr_shows_the_encoding() -> None:
    assert repr(JS.focus()) == '<JS [["focus",{}]]>'


# -- exec ---------------------------------------------------------------------------------------

def test_exec_with_defaults() -> None:
    assert ops(JS.exec("phx-remove")) == [["exec", {"attr": "phx-remove"}]]
    assert ops(JS.exec("phx-remove", to="#modal")) == [
        ["exec", {"attr": "phx-remove", "to": "#modal"}]
    ]


# -- push ---------------------------------------------------------------------------------------

def test_push_with_defaults() -> None:
    assert ops(JS.push("inc")) == [["push", {"event": "inc"}]]


def test_push_target() -> None:
    assert ops(JS.push("inc", target="#modal")) == [["push", {"event": "inc", "target": "#modal"}]]
    assert ops(JS.push("inc", target=1)) == [["push", {"event": "inc", "target": 1}]]


def test_push_loading() -> None:
    assert ops(JS.push("inc", loading="#modal")) == [
        ["push", {"event": "inc", "loading": "#modal"}]
    ]


def test_push_page_loading() -> None:
    assert ops(JS.push("inc", page_loading=True)) == [
        ["push", {"event": "inc", "page_loading": True}]
    ]


def test_push_value() -> None:
    assert ops(JS.push("inc", value={"one": 1, "two": 2})) == [
        ["push", {"event": "inc", "value": {"one": 1, "two": 2}}]
    ]
    with pytest.raises(TypeError, match=r"JS\.push: value must be a mapping"):
        JS.push("inc", value="not-a-map")  # type: ignore[arg-type]


def test_push_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.push("inc", bad="opt")  # type: ignore[call-arg]


def test_push_composability() -> None:
    js = JS.push("inc").push("dec", loading=".foo")
    assert ops(js) == [["push", {"event": "inc"}], ["push", {"event": "dec", "loading": ".foo"}]]


def test_push_encoding() -> None:
    assert str(JS.push("inc", value={"one": 1, "two": 2})) == \
        '[["push",{"event":"inc","value":{"one":1,"two":2}}]]'


def test_push_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"JS\.push: event must be a str"):
        JS.push(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"JS\.push: event must not be empty"):
        JS.push("")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'event'"):
        JS.push()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"JS\.push: target must be a selector or a component id"):
        JS.push("inc", target=True)
    with pytest.raises(TypeError, match=r"JS\.push: page_loading must be a bool"):
        JS.push("inc", page_loading="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"JS\.push: value must be JSON-encodable"):
        JS.push("inc", value={"when": object()})
    with pytest.raises(TypeError, match=r"JS\.push: value must be JSON-encodable"):
        JS.push("inc", value={1: "a"})  # type: ignore[dict-item]


# -- navigate and patch --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["navigate", "patch"])
def test_navigation_with_defaults(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("/home")) == [[kind, {"href": "/home", "replace": False}]]


@pytest.mark.parametrize("kind", ["navigate", "patch"])
def test_navigation_replace(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("/home", replace=True)) == [[kind, {"href": "/home", "replace": True}]]


@pytest.mark.parametrize("kind", ["navigate", "patch"])
def test_navigation_allows_full_http_urls(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("https://example.com/home")) == [
        [kind, {"href": "https://example.com/home", "replace": False}]
    ]
    assert ops(command("HTTP://example.com")) == [
        [kind, {"href": "HTTP://example.com", "replace": False}]
    ]


@pytest.mark.parametrize("kind", ["navigate", "patch"])
def test_navigation_allows_a_colon_outside_of_the_scheme(kind: str) -> None:
    command = getattr(JS, kind)
    for href in ("/search?q=a:b", "search?q=a:b", "page#a:b", "a/b:c"):
        assert ops(command(href)) == [[kind, {"href": href, "replace": False}]]


@pytest.mark.parametrize("kind", ["navigate", "patch"])
def test_navigation_raises_for_unsupported_schemes(kind: str) -> None:
    command = getattr(JS, kind)
    with pytest.raises(ValueError, match=rf"JS\.{kind}: unsupported scheme 'mailto'"):
        command("mailto:foo@example.com")
    with pytest.raises(ValueError, match=rf"JS\.{kind}: unsupported scheme 'foo'"):
        command("foo:8080")
    with pytest.raises(ValueError, match=rf"JS\.{kind}: unsupported scheme 'javascript'"):
        command("JavaScript:alert(1)")


@pytest.mark.parametrize("kind", ["navigate", "patch"])
def test_navigation_raises_with_unknown_options_and_bad_arguments(kind: str) -> None:
    command = getattr(JS, kind)
    with pytest.raises(TypeError, match="bad"):
        command("/home", bad="opt")
    with pytest.raises(TypeError, match=rf"JS\.{kind}: replace must be a bool"):
        command("/home", replace="yes")
    with pytest.raises(TypeError, match=rf"JS\.{kind}: href must be a str"):
        command(None)
    with pytest.raises(ValueError, match=rf"JS\.{kind}: href must not be empty"):
        command("")


def test_navigate_encoding() -> None:
    assert str(JS.navigate("/home")) == '[["navigate",{"href":"/home","replace":false}]]'


def test_patch_encoding() -> None:
    assert str(JS.patch("/home")) == '[["patch",{"href":"/home","replace":false}]]'


# -- add_class, remove_class, toggle_class -------------------------------------------------------

CLASS_COMMANDS = ["add_class", "remove_class", "toggle_class"]


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_with_defaults(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("show")) == [[kind, {"names": ["show"]}]]
    assert ops(command("show", to="#modal")) == [[kind, {"names": ["show"], "to": "#modal"}]]
    assert ops(command("show", to={"closest": "a"})) == [
        [kind, {"names": ["show"], "to": {"closest": "a"}}]
    ]
    assert ops(command("show", to={"inner": "a"})) == [
        [kind, {"names": ["show"], "to": {"inner": "a"}}]
    ]
    assert ops(command("show", to={"document": "#modal"})) == [
        [kind, {"names": ["show"], "to": "#modal"}]
    ]


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_multiple_classes(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("show hl")) == [[kind, {"names": ["show", "hl"]}]]
    assert ops(command("  show   hl ")) == [[kind, {"names": ["show", "hl"]}]]
    assert ops(command(["show", "hl"])) == [[kind, {"names": ["show", "hl"]}]]
    assert ops(command(("show", "a b"))) == [[kind, {"names": ["show", "a", "b"]}]]


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_custom_time(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("show", time=543)) == [[kind, {"names": ["show"], "time": 543}]]
    assert ops(command("show", time=0)) == [[kind, {"names": ["show"], "time": 0}]]


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_transition(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command("show", transition="fade")) == [
        [kind, {"names": ["show"], "transition": [["fade"], [], []]}]
    ]
    assert ops(command("show", transition="fade", blocking=False)) == [
        [kind, {"names": ["show"], "transition": [["fade"], [], []], "blocking": False}]
    ]
    assert ops(command("c", transition="a b")) == [
        [kind, {"names": ["c"], "transition": [["a", "b"], [], []]}]
    ]
    assert ops(command("show", transition=("fade", "opacity-0", "opacity-100"))) == [
        [kind, {"names": ["show"], "transition": [["fade"], ["opacity-0"], ["opacity-100"]]}]
    ]


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_composability(kind: str) -> None:
    js = getattr(getattr(JS, kind)("show", to="#modal", time=100), kind)("hl")
    assert ops(js) == [
        [kind, {"names": ["show"], "time": 100, "to": "#modal"}],
        [kind, {"names": ["hl"]}],
    ]


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_raise_with_unknown_options(kind: str) -> None:
    command = getattr(JS, kind)
    with pytest.raises(TypeError, match="bad"):
        command("show", bad="opt")
    with pytest.raises(ValueError, match=rf"JS\.{kind}: invalid scope for to: 'sibling'"):
        command("show", to={"sibling": "foo"})


@pytest.mark.parametrize("kind", CLASS_COMMANDS)
def test_class_commands_bad_arguments(kind: str) -> None:
    command = getattr(JS, kind)
    with pytest.raises(TypeError, match=rf"JS\.{kind}: names must be a list of str"):
        command(None)
    with pytest.raises(TypeError, match=rf"JS\.{kind}: names must be a list of str"):
        command(["a", 1])
    with pytest.raises(TypeError, match=rf"JS\.{kind}: time must be an int of milliseconds"):
        command("show", time="100")
    with pytest.raises(TypeError, match=rf"JS\.{kind}: time must be an int of milliseconds"):
        command("show", time=True)
    with pytest.raises(ValueError, match=rf"JS\.{kind}: time must not be negative"):
        command("show", time=-1)
    with pytest.raises(TypeError, match=rf"JS\.{kind}: blocking must be a bool"):
        command("show", blocking=1)
    with pytest.raises(TypeError, match=rf"JS\.{kind}: transition must be a str of classes or"):
        command("show", transition=("a", "b"))


def test_add_class_encoding() -> None:
    assert str(JS.add_class("show")) == '[["add_class",{"names":["show"]}]]'


def test_remove_class_encoding() -> None:
    assert str(JS.remove_class("show")) == '[["remove_class",{"names":["show"]}]]'


def test_toggle_class_encoding() -> None:
    assert str(JS.toggle_class("show")) == '[["toggle_class",{"names":["show"]}]]'


# -- dispatch -------------------------------------------------------------------------------------

def test_dispatch_with_defaults() -> None:
    assert ops(JS.dispatch("click", to="#modal")) == [
        ["dispatch", {"to": "#modal", "event": "click"}]
    ]
    assert ops(JS.dispatch("click")) == [["dispatch", {"event": "click"}]]


def test_dispatch_with_optional_flags() -> None:
    assert ops(JS.dispatch("click", bubbles=False)) == [
        ["dispatch", {"event": "click", "bubbles": False}]
    ]
    assert ops(JS.dispatch("my:done", blocking=True, detail={"id": 1})) == [
        ["dispatch", {"event": "my:done", "blocking": True, "detail": {"id": 1}}]
    ]
    # as Phoenix: blocking False is the client's default, so it is left out
    assert ops(JS.dispatch("my:done", blocking=False)) == [["dispatch", {"event": "my:done"}]]


def test_dispatch_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.dispatch("click", to=".foo", bad="opt")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"JS\.dispatch: invalid scope for to: 'winner'"):
        JS.dispatch("click", to={"winner": ".foo"})


def test_dispatch_raises_with_click_details() -> None:
    with pytest.raises(ValueError, match="click events cannot be dispatched with a detail"):
        JS.dispatch("click", to=".foo", detail={"id": 123})


def test_dispatch_composability() -> None:
    js = (JS.dispatch("click", to="#modal")
          .dispatch("keydown", to="#keyboard")
          .dispatch("keyup"))
    assert ops(js) == [
        ["dispatch", {"to": "#modal", "event": "click"}],
        ["dispatch", {"to": "#keyboard", "event": "keydown"}],
        ["dispatch", {"event": "keyup"}],
    ]


def test_dispatch_encoding() -> None:
    assert str(JS.dispatch("click", to=".foo")) == '[["dispatch",{"event":"click","to":".foo"}]]'


def test_dispatch_raises_when_done_is_a_details_key_and_blocking_is_true() -> None:
    with pytest.raises(ValueError, match="must not have a 'done' key when blocking"):
        JS.dispatch("foo", detail={"done": True}, blocking=True)


def test_dispatch_raises_when_detail_is_not_a_map() -> None:
    with pytest.raises(TypeError, match=r"JS\.dispatch: detail must be a mapping"):
        JS.dispatch("foo", detail="not-a-map")  # type: ignore[arg-type]


def test_dispatch_raises_when_bubbles_is_not_a_bool() -> None:
    with pytest.raises(TypeError, match=r"JS\.dispatch: bubbles must be a bool"):
        JS.dispatch("foo", bubbles="no")  # type: ignore[arg-type]


# -- toggle ---------------------------------------------------------------------------------------

def test_toggle_with_defaults() -> None:
    assert ops(JS.toggle(to="#modal")) == [["toggle", {"to": "#modal"}]]
    assert ops(JS.toggle(to={"closest": ".modal"})) == [
        ["toggle", {"to": {"closest": ".modal"}}]
    ]
    assert ops(JS.toggle()) == [["toggle", {}]]


def test_toggle_in_and_out_classes() -> None:
    assert ops(JS.toggle(to="#modal", in_="fade-in d-block", out="fade-out d-block")) == [
        ["toggle", {
            "ins": [["fade-in", "d-block"], [], []],
            "outs": [["fade-out", "d-block"], [], []],
            "to": "#modal",
        }]
    ]
    assert ops(JS.toggle(
        to="#modal",
        in_=("fade-in", "opacity-0", "opacity-100"),
        out=("fade-out", "opacity-100", "opacity-0"),
    )) == [
        ["toggle", {
            "ins": [["fade-in"], ["opacity-0"], ["opacity-100"]],
            "outs": [["fade-out"], ["opacity-100"], ["opacity-0"]],
            "to": "#modal",
        }]
    ]


def test_toggle_custom_time() -> None:
    assert ops(JS.toggle(to="#modal", time=123)) == [["toggle", {"time": 123, "to": "#modal"}]]


def test_toggle_custom_display() -> None:
    assert ops(JS.toggle(to="#modal", display="block")) == [
        ["toggle", {"display": "block", "to": "#modal"}]
    ]
    assert ops(JS.toggle(display="any-display-value")) == [
        ["toggle", {"display": "any-display-value"}]
    ]


def test_toggle_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.toggle(to="#modal", bad="opt")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"JS\.toggle: invalid scope for to: 'bad'"):
        JS.toggle(to={"bad": "123"})
    with pytest.raises(TypeError, match=r"JS\.toggle: in_ must be a str of classes"):
        JS.toggle(in_=["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"JS\.toggle: out must be a str of classes"):
        JS.toggle(out=1)  # type: ignore[arg-type]


def test_toggle_composability() -> None:
    js = JS.toggle(to="#modal").toggle(to="#keyboard", time=123)
    assert ops(js) == [["toggle", {"to": "#modal"}], ["toggle", {"to": "#keyboard", "time": 123}]]


def test_toggle_encoding() -> None:
    assert str(JS.toggle(to="#modal")) == '[["toggle",{"to":"#modal"}]]'


# -- show and hide --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["show", "hide"])
def test_show_hide_with_defaults(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command(to="#modal")) == [[kind, {"to": "#modal"}]]
    assert ops(command(to={"inner": ".modal"})) == [[kind, {"to": {"inner": ".modal"}}]]
    assert ops(command(to={"closest": "a"})) == [[kind, {"to": {"closest": "a"}}]]
    assert ops(command()) == [[kind, {}]]


@pytest.mark.parametrize("kind", ["show", "hide"])
def test_show_hide_transition_classes(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command(to="#modal", transition="fade-in d-block")) == [
        [kind, {"transition": [["fade-in", "d-block"], [], []], "to": "#modal"}]
    ]
    transition = ("fade-in d-block", "opacity-0 -translate-x-full", "opacity-100 translate-x-0")
    assert ops(command(to="#modal", transition=transition)) == [
        [kind, {
            "transition": [
                ["fade-in", "d-block"],
                ["opacity-0", "-translate-x-full"],
                ["opacity-100", "translate-x-0"],
            ],
            "to": "#modal",
        }]
    ]


@pytest.mark.parametrize("kind", ["show", "hide"])
def test_show_hide_custom_time(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command(to="#modal", time=123)) == [[kind, {"time": 123, "to": "#modal"}]]
    assert ops(command(to="#modal", time=0)) == [[kind, {"time": 0, "to": "#modal"}]]


def test_show_custom_display() -> None:
    assert ops(JS.show(to="#modal", display="block")) == [
        ["show", {"display": "block", "to": "#modal"}]
    ]


@pytest.mark.parametrize("kind", ["show", "hide"])
def test_show_hide_raise_with_unknown_options(kind: str) -> None:
    command = getattr(JS, kind)
    with pytest.raises(TypeError, match="bad"):
        command(to="#modal", bad="opt")
    with pytest.raises(ValueError, match=rf"JS\.{kind}: invalid scope for to: 'bad'"):
        command(to={"bad": "#modal"})


def test_hide_takes_no_display_as_in_phoenix() -> None:
    with pytest.raises(TypeError, match="display"):
        JS.hide(display="block")  # type: ignore[call-arg]


@pytest.mark.parametrize("kind", ["show", "hide"])
def test_show_hide_composability(kind: str) -> None:
    js = getattr(getattr(JS, kind)(to="#modal"), kind)(to="#keyboard", time=123)
    assert ops(js) == [[kind, {"to": "#modal"}], [kind, {"to": "#keyboard", "time": 123}]]


def test_show_encoding() -> None:
    assert str(JS.show(to="#modal")) == '[["show",{"to":"#modal"}]]'


def test_hide_encoding() -> None:
    assert str(JS.hide(to="#modal")) == '[["hide",{"to":"#modal"}]]'


# -- transition -----------------------------------------------------------------------------------

def test_transition_with_defaults() -> None:
    assert ops(JS.transition("shake")) == [["transition", {"transition": [["shake"], [], []]}]]
    assert ops(JS.transition("shake", to="#modal")) == [
        ["transition", {"transition": [["shake"], [], []], "to": "#modal"}]
    ]
    assert ops(JS.transition("shake", to={"inner": "a"})) == [
        ["transition", {"transition": [["shake"], [], []], "to": {"inner": "a"}}]
    ]
    assert ops(JS.transition("shake swirl", to="#modal")) == [
        ["transition", {"transition": [["shake", "swirl"], [], []], "to": "#modal"}]
    ]
    assert ops(JS.transition(("shake swirl", "opacity-0 a", "opacity-100 b"), to="#modal")) == [
        ["transition", {
            "transition": [["shake", "swirl"], ["opacity-0", "a"], ["opacity-100", "b"]],
            "to": "#modal",
        }]
    ]


def test_transition_custom_time() -> None:
    assert ops(JS.transition("shake", to="#modal", time=123)) == [
        ["transition", {"transition": [["shake"], [], []], "time": 123, "to": "#modal"}]
    ]


def test_transition_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.transition("shake", to="#modal", bad="opt")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"JS\.transition: invalid scope for to: 'bad'"):
        JS.transition("shake", to={"bad": "#modal"})
    with pytest.raises(TypeError, match=r"JS\.transition: transition is required"):
        JS.transition(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'transition'"):
        JS.transition()  # type: ignore[call-arg]


def test_transition_composability() -> None:
    js = JS.transition("shake", to="#modal").transition("hl", to="#keyboard", time=123)
    assert ops(js) == [
        ["transition", {"to": "#modal", "transition": [["shake"], [], []]}],
        ["transition", {"to": "#keyboard", "transition": [["hl"], [], []], "time": 123}],
    ]


def test_transition_encoding() -> None:
    assert str(JS.transition("shake", to="#modal")) == \
        '[["transition",{"to":"#modal","transition":[["shake"],[],[]]}]]'


# -- set_attribute, remove_attribute, toggle_attribute, ignore_attributes -----------------------

def test_set_attribute_with_defaults() -> None:
    assert ops(JS.set_attribute(("aria-expanded", "true"))) == [
        ["set_attr", {"attr": ["aria-expanded", "true"]}]
    ]
    assert ops(JS.set_attribute(("aria-expanded", "true"), to="#dropdown")) == [
        ["set_attr", {"attr": ["aria-expanded", "true"], "to": "#dropdown"}]
    ]
    assert ops(JS.set_attribute(("aria-expanded", "true"), to={"inner": ".dropdown"})) == [
        ["set_attr", {"attr": ["aria-expanded", "true"], "to": {"inner": ".dropdown"}}]
    ]


def test_set_attribute_composability() -> None:
    js = (JS.set_attribute(("expanded", "true"))
          .set_attribute(("has-popup", "true"))
          .set_attribute(("has-popup", "true"), to="#dropdown"))
    assert ops(js) == [
        ["set_attr", {"attr": ["expanded", "true"]}],
        ["set_attr", {"attr": ["has-popup", "true"]}],
        ["set_attr", {"to": "#dropdown", "attr": ["has-popup", "true"]}],
    ]


def test_set_attribute_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.set_attribute(("disabled", ""), bad="opt")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"JS\.set_attribute: invalid scope for to: 'bad'"):
        JS.set_attribute(("disabled", ""), to={"bad": "#modal"})
    with pytest.raises(TypeError, match=r"JS\.set_attribute: attr must be a tuple \(name, value\)"):
        JS.set_attribute("disabled")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"JS\.set_attribute: attr must be a tuple"):
        JS.set_attribute(("a", "b", "c"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"JS\.set_attribute: attr values must be str"):
        JS.set_attribute(("tabindex", 0))  # type: ignore[arg-type]


def test_set_attribute_encoding() -> None:
    assert str(JS.set_attribute(("disabled", "true"))) == \
        '[["set_attr",{"attr":["disabled","true"]}]]'


def test_remove_attribute_with_defaults() -> None:
    assert ops(JS.remove_attribute("aria-expanded")) == [
        ["remove_attr", {"attr": "aria-expanded"}]
    ]
    assert ops(JS.remove_attribute("aria-expanded", to="#dropdown")) == [
        ["remove_attr", {"attr": "aria-expanded", "to": "#dropdown"}]
    ]


def test_remove_attribute_composability() -> None:
    js = (JS.remove_attribute("expanded")
          .remove_attribute("has-popup")
          .remove_attribute("has-popup", to="#dropdown"))
    assert ops(js) == [
        ["remove_attr", {"attr": "expanded"}],
        ["remove_attr", {"attr": "has-popup"}],
        ["remove_attr", {"to": "#dropdown", "attr": "has-popup"}],
    ]


def test_remove_attribute_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.remove_attribute("disabled", bad="opt")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"JS\.remove_attribute: attr must be a str"):
        JS.remove_attribute(("disabled", "true"))  # type: ignore[arg-type]


def test_remove_attribute_encoding() -> None:
    assert str(JS.remove_attribute("disabled")) == '[["remove_attr",{"attr":"disabled"}]]'


def test_toggle_attribute_with_defaults() -> None:
    assert ops(JS.toggle_attribute(("open", "true"))) == [
        ["toggle_attr", {"attr": ["open", "true"]}]
    ]
    assert ops(JS.toggle_attribute(("open", "true"), to="#dropdown")) == [
        ["toggle_attr", {"attr": ["open", "true"], "to": "#dropdown"}]
    ]
    assert ops(JS.toggle_attribute(("aria-expanded", "true", "false"), to="#dropdown")) == [
        ["toggle_attr", {"attr": ["aria-expanded", "true", "false"], "to": "#dropdown"}]
    ]
    assert ops(JS.toggle_attribute(("aria-expanded", "true", "false"),
                                   to={"inner": ".dropdown"})) == [
        ["toggle_attr", {"attr": ["aria-expanded", "true", "false"],
                         "to": {"inner": ".dropdown"}}]
    ]


def test_toggle_attribute_composability() -> None:
    js = (JS.toggle_attribute(("aria-expanded", "true", "false"))
          .toggle_attribute(("open", "true"))
          .toggle_attribute(("disabled", "true"), to="#dropdown"))
    assert ops(js) == [
        ["toggle_attr", {"attr": ["aria-expanded", "true", "false"]}],
        ["toggle_attr", {"attr": ["open", "true"]}],
        ["toggle_attr", {"to": "#dropdown", "attr": ["disabled", "true"]}],
    ]


def test_toggle_attribute_raises_with_unknown_options() -> None:
    with pytest.raises(TypeError, match="bad"):
        JS.toggle_attribute(("disabled", "true"), bad="opt")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"JS\.toggle_attribute: invalid scope for to: 'bad'"):
        JS.toggle_attribute(("disabled", "true"), to={"bad": "123"})
    with pytest.raises(TypeError, match=r"attr must be a tuple \(name, value\) or "
                                        r"\(name, value1, value2\)"):
        JS.toggle_attribute(("disabled",))  # type: ignore[arg-type]


def test_toggle_attribute_encoding() -> None:
    assert str(JS.toggle_attribute(("disabled", "true"))) == \
        '[["toggle_attr",{"attr":["disabled","true"]}]]'
    assert str(JS.toggle_attribute(("aria-expanded", "true", "false"))) == \
        '[["toggle_attr",{"attr":["aria-expanded","true","false"]}]]'


def test_ignore_attributes() -> None:
    assert ops(JS.ignore_attributes("open")) == [["ignore_attrs", {"attrs": ["open"]}]]
    assert ops(JS.ignore_attributes(["open", "data-*"], to="#my-dialog")) == [
        ["ignore_attrs", {"attrs": ["open", "data-*"], "to": "#my-dialog"}]
    ]
    assert str(JS.ignore_attributes("open")) == '[["ignore_attrs",{"attrs":["open"]}]]'
    with pytest.raises(TypeError, match=r"JS\.ignore_attributes: attrs must be a list of str"):
        JS.ignore_attributes(["open", None])  # type: ignore[list-item]


# -- focus ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["focus", "focus_first", "push_focus"])
def test_focus_commands_with_defaults(kind: str) -> None:
    command = getattr(JS, kind)
    assert ops(command()) == [[kind, {}]]
    assert ops(command(to="input")) == [[kind, {"to": "input"}]]
    assert ops(command(to={"inner": "input"})) == [[kind, {"to": {"inner": "input"}}]]


@pytest.mark.parametrize("kind", ["focus", "focus_first", "push_focus"])
def test_focus_commands_composability(kind: str) -> None:
    js = getattr(JS.set_attribute(("expanded", "true")), kind)()
    assert ops(js) == [["set_attr", {"attr": ["expanded", "true"]}], [kind, {}]]


@pytest.mark.parametrize("kind", ["focus", "focus_first", "push_focus"])
def test_focus_commands_raise_with_unknown_options(kind: str) -> None:
    command = getattr(JS, kind)
    with pytest.raises(TypeError, match="bad"):
        command(bad="opt")
    with pytest.raises(ValueError, match=rf"JS\.{kind}: invalid scope for to: 'bad'"):
        command(to={"bad": "a"})


@pytest.mark.parametrize("kind", ["focus", "focus_first", "push_focus", "pop_focus"])
def test_focus_commands_encoding(kind: str) -> None:
    assert str(getattr(JS, kind)()) == f'[["{kind}",{{}}]]'


def test_pop_focus() -> None:
    assert ops(JS.pop_focus()) == [["pop_focus", {}]]
    js = JS.set_attribute(("expanded", "true")).pop_focus()
    assert ops(js) == [["set_attr", {"attr": ["expanded", "true"]}], ["pop_focus", {}]]
    with pytest.raises(TypeError):
        JS.pop_focus(to="#a")  # type: ignore[call-arg]


# -- to -----------------------------------------------------------------------------------------

def test_to_rejects_malformed_targets() -> None:
    with pytest.raises(TypeError, match=r"JS\.show: to must be a CSS selector or a"):
        JS.show(to=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"JS\.show: to must be a CSS selector or a"):
        JS.show(to=("closest", "a"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"JS\.show: to must have one scope"):
        JS.show(to={"closest": "a", "inner": "b"})
    with pytest.raises(TypeError, match=r"JS\.show: to\['inner'\] must be a str"):
        JS.show(to={"inner": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"JS\.show: to must not be empty"):
        JS.show(to="")


# -- concat ---------------------------------------------------------------------------------------

def test_concat_combines_multiple_js_values() -> None:
    js1 = JS.push("inc", value={"one": 1, "two": 2})
    js2 = JS.add_class("show", to="#modal", time=100)
    js3 = JS.remove_class("show")
    expected = [
        ["push", {"event": "inc", "value": {"one": 1, "two": 2}}],
        ["add_class", {"names": ["show"], "time": 100, "to": "#modal"}],
        ["remove_class", {"names": ["show"]}],
    ]
    assert ops(js1.concat(js2).concat(js3)) == expected
    assert ops(js1.concat(js2, js3)) == expected
    assert ops(JS.concat(js1, js2, js3)) == expected
    assert ops(js1) == expected[:1]
    with pytest.raises(TypeError, match=r"JS\.concat: expected JS values"):
        js1.concat('[["focus",{}]]')  # type: ignore[arg-type]
