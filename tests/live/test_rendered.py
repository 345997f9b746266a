"""The client's rendering side: diffs merged as rendered.js merges them, HTML as the page shows.

The shapes are those of Phoenix's assets/test/rendered_test.ts and diff_test.exs; streams and
phx-update="ignore" as dom_patch.ts leaves the DOM.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from live.testing.rendered import (
    Document,
    PushedEvent,
    Rendered,
    RenderError,
    StreamOp,
)

VIEW = "phx-F1"

THERMOSTAT: dict[str, Any] = {
    "0": "cooling",
    "1": "cooling",
    "2": "07:15:03 PM",
    "s": [
        '<div class="thermostat">\n  <div class="bar ',
        '">\n    <a href="#" phx-click="toggle-mode">',
        "</a>\n    <span>",
        "</span>\n  </div>\n</div>\n",
    ],
}


def joined(rendered: dict[str, Any], html: str = "") -> tuple[Rendered, Document]:
    tree = Rendered(VIEW, rendered)
    doc = Document(VIEW, html)
    doc.join(tree)
    return tree, doc


def ids(doc: Document, css: str) -> list[str]:
    return [el.get("id") for el in doc.select(css)]


def texts(doc: Document, css: str) -> list[str]:
    return [el.text_content() for el in doc.select(css)]


# -- merging and rendering -------------------------------------------------------------------

def test_first_render_interleaves_statics_and_dynamics() -> None:
    assert Rendered(VIEW, THERMOSTAT).to_html() == (
        '<div class="thermostat">\n  <div class="bar cooling">\n'
        '    <a href="#" phx-click="toggle-mode">cooling</a>\n'
        "    <span>07:15:03 PM</span>\n  </div>\n</div>\n"
    )


def test_a_changed_slot_merges_into_the_tree() -> None:
    tree = Rendered(VIEW, THERMOSTAT)
    tree.merge({"2": "07:15:04 PM"})
    assert "<span>07:15:04 PM</span>" in tree.to_html()
    assert 'class="bar cooling"' in tree.to_html()


def test_events_title_and_reply_are_taken_off_before_merging() -> None:
    tree = Rendered(VIEW, {**THERMOSTAT, "t": "Mounted", "e": [["hello", {"n": 1}]]})
    assert tree.join_extras.title == "Mounted"
    assert tree.join_extras.events == [PushedEvent("hello", {"n": 1})]

    extras = tree.merge({"0": "heating", "r": {"ok": True},
                         "e": [["scroll", {}], ["focus", {"to": "#x"}, True]]})
    assert extras.reply == {"ok": True}
    assert extras.events == [PushedEvent("scroll", {}), PushedEvent("focus", {"to": "#x"}, True)]
    assert extras.title is None
    assert "e" not in tree.tree and "r" not in tree.tree and "t" not in tree.tree
    assert 'class="bar heating"' in tree.to_html()


def test_merging_leaves_the_callers_diff_alone() -> None:
    diff: dict[str, Any] = {"2": "later", "e": [["x", {}]]}
    Rendered(VIEW, THERMOSTAT).merge(diff)
    assert diff == {"2": "later", "e": [["x", {}]]}


def test_a_node_with_new_statics_replaces_the_old_one() -> None:
    # A conditional switching branch sends the new branch whole, with its statics.
    tree = Rendered(VIEW, {"0": {"0": "Ann", "s": ["<p>Hello ", "!</p>"]},
                           "s": ["<main>", "</main>"]})
    assert tree.to_html() == "<main><p>Hello Ann!</p></main>"

    tree.merge({"0": {"0": "3", "1": "Bob", "s": ["<b>", " new for ", "</b>"]}})
    assert tree.to_html() == "<main><b>3 new for Bob</b></main>"

    tree.merge({"0": {"1": "Cy"}})
    assert tree.to_html() == "<main><b>3 new for Cy</b></main>"

    tree.merge({"0": ""})
    assert tree.to_html() == "<main></main>"

    tree.merge({"0": {"0": "Dee", "s": ["<p>Hello ", "!</p>"]}})
    assert tree.to_html() == "<main><p>Hello Dee!</p></main>"


def test_nested_conditionals_switch_inner_branch_only() -> None:
    tree = Rendered(VIEW, {
        "0": {"0": {"0": "on", "s": ["<i>", "</i>"]}, "1": "x", "s": ["<div>", "|", "</div>"]},
        "s": ["", ""],
    })
    tree.merge({"0": {"0": {"s": ["<u>off</u>"]}}})
    assert tree.to_html() == "<div><u>off</u>|x</div>"
    tree.merge({"0": {"1": "y"}})
    assert tree.to_html() == "<div><u>off</u>|y</div>"


def test_shared_statics_from_p_at_the_root_and_in_comprehensions() -> None:
    # diff_test.exs "comprehensions": the root's statics and the comprehension's are indexes.
    tree = Rendered(VIEW, {
        "0": "Users",
        "1": {"s": 0, "k": {"0": {"0": "phoenix"}, "1": {"0": "elixir"}, "kc": 2}},
        "s": 1,
        "p": {"0": ["<br>", ""], "1": ["<div><h1>", "</h1>", "</div>"]},
    })
    assert tree.to_html() == "<div><h1>Users</h1><br>phoenix<br>elixir</div>"

    tree.merge({"1": {"k": {"2": {"0": "erlang"}, "kc": 3}}})
    assert tree.to_html() == "<div><h1>Users</h1><br>phoenix<br>elixir<br>erlang</div>"

    # A later diff's table is its own: index 0 means something else now.
    tree.merge({"0": {"0": "!", "s": 0}, "p": {"0": ["<em>", "</em>"]}})
    assert tree.to_html() == "<div><h1><em>!</em></h1><br>phoenix<br>elixir<br>erlang</div>"


def test_empty_comprehension_fills_and_empties() -> None:
    # diff_test.exs "empty comprehensions": "" first, statics on the first entries, kc 0 after.
    tree = Rendered(VIEW, {"0": "Users", "1": "", "s": 0,
                           "p": {"0": ["<div><h1>", "</h1>", "</div>"]}})
    assert tree.to_html() == "<div><h1>Users</h1></div>"

    tree.merge({"1": {"s": 0, "k": {"0": {"0": "phoenix"}, "1": {"0": "elixir"}, "kc": 2}},
                "p": {"0": ["<br>", ""]}})
    assert tree.to_html() == "<div><h1>Users</h1><br>phoenix<br>elixir</div>"

    tree.merge({"1": {"k": {"kc": 0}}})
    assert tree.to_html() == "<div><h1>Users</h1></div>"


def test_nested_comprehensions_share_a_table() -> None:
    tree = Rendered(VIEW, {
        "0": "Users",
        "1": {
            "k": {
                "0": {"0": "phoenix", "1": {"k": {"0": {"0": "1"}, "1": {"0": "2"}, "kc": 2},
                                            "s": 0}},
                "1": {"0": "elixir", "1": {"k": {"0": {"0": "1"}, "kc": 1}, "s": 0}},
                "kc": 2,
            },
            "s": 1,
        },
        "p": {"0": ["<i>", "</i>"], "1": ["<li>", ":", "</li>"],
              "2": ["<h1>", "</h1><ul>", "</ul>"]},
        "s": 2,
    })
    assert tree.to_html() == (
        "<h1>Users</h1><ul><li>phoenix:<i>1</i><i>2</i></li><li>elixir:<i>1</i></li></ul>"
    )


# -- keyed comprehensions ----------------------------------------------------------------------

ITEMS: dict[str, Any] = {
    "0": {
        "k": {"0": {"0": "0", "1": "First"}, "1": {"0": "0", "1": "Second"}, "kc": 2},
        "s": 0,
    },
    "p": {"0": ["<li>", " ", "</li>"], "1": ["<ul>", "</ul>"]},
    "s": 1,
}


def test_keyed_entries_move_merge_and_get_added() -> None:
    # diff_test.exs "change tracking with minimal diff updates".
    tree = Rendered(VIEW, ITEMS)
    assert tree.to_html() == "<ul><li>0 First</li><li>0 Second</li></ul>"

    tree.merge({"0": {"k": {"0": 1, "1": 0, "kc": 2, "km": True}}})
    assert tree.to_html() == "<ul><li>0 Second</li><li>0 First</li></ul>"

    tree.merge({"0": {"k": {"0": {"0": "1"}, "1": {"0": "1"}, "kc": 2}}})
    assert tree.to_html() == "<ul><li>1 Second</li><li>1 First</li></ul>"

    tree.merge({"0": {"k": {"0": 1, "1": {"0": "1", "1": "Third"}, "kc": 2, "km": True}}})
    assert tree.to_html() == "<ul><li>1 First</li><li>1 Third</li></ul>"

    tree.merge({"0": {"k": {"2": {"0": "2", "1": "Fourth"}, "kc": 3}}})
    assert tree.to_html() == "<ul><li>1 First</li><li>1 Third</li><li>2 Fourth</li></ul>"


def test_keyed_pairs_move_an_entry_and_merge_into_it() -> None:
    # diff_test.exs "resolves moved comprehensions": entry 2 dropped by kc, a pair merges.
    tree = Rendered(VIEW, {
        "0": {
            "k": {
                "0": {"0": "A", "1": ""},
                "1": {"0": "B", "1": ""},
                "2": {"0": "C", "1": {"0": "var1", "s": ["(", ")"]}},
                "kc": 3,
            },
            "s": ["<p>", "", "</p>"],
        },
        "s": ["<div>", "</div>"],
    })
    assert tree.to_html() == "<div><p>A</p><p>B</p><p>C(var1)</p></div>"

    tree.merge({"0": {"k": {"0": 1, "1": [2, {"1": {"0": "var2"}}], "kc": 2, "km": True}}})
    assert tree.to_html() == "<div><p>B</p><p>C(var2)</p></div>"

    tree.merge({"0": {"k": {"kc": 0}}})
    assert tree.to_html() == "<div></div>"


def test_keyed_moves_read_the_positions_before_the_diff() -> None:
    # rendered_test.ts: a swap where entry 0 takes old 1 merged, entry 1 takes old 0.
    tree = Rendered(VIEW, {
        "0": {"k": {"0": {"0": "first", "1": "unchanged"}, "1": {"0": "second", "1": "old"},
                    "kc": 2},
              "s": ["<b>", ":", "</b>"]},
        "s": ["", ""],
    })
    tree.merge({"0": {"k": {"0": [1, {"1": "updated"}], "1": 0, "kc": 2, "km": True}}})
    assert tree.to_html() == "<b>second:updated</b><b>first:unchanged</b>"


def test_a_moved_nested_keyed_comprehension() -> None:
    tree = Rendered(VIEW, {
        "0": {
            "k": {"0": {"0": "outer", "1": {"k": {"0": {"0": "first"}, "1": {"0": "second"},
                                                  "kc": 2},
                                            "s": ["<i>", "</i>"]}},
                  "kc": 1},
            "s": ["<p>", " ", "</p>"],
        },
        "s": ["", ""],
    })
    tree.merge({"0": {"k": {"0": {"1": {"k": {"0": 1, "1": 0, "kc": 2, "km": True}}},
                            "kc": 1}}})
    assert tree.to_html() == "<p>outer <i>second</i><i>first</i></p>"


def test_a_move_without_km_is_an_error() -> None:
    tree = Rendered(VIEW, ITEMS)
    with pytest.raises(RenderError, match="km"):
        tree.merge({"0": {"k": {"0": 1, "1": 0, "kc": 2}}})


# -- components --------------------------------------------------------------------------------

STATIC_REUSE: dict[str, Any] = {
    "0": {
        "k": {
            "kc": 2,
            "0": {"0": "foo",
                  "1": {"k": {"kc": 2, "0": {"0": "0", "1": 1}, "1": {"0": "1", "1": 2}}, "s": 0}},
            "1": {"0": "bar",
                  "1": {"k": {"kc": 2, "0": {"0": "0", "1": 3}, "1": {"0": "1", "1": 4}}, "s": 0}},
        },
        "s": ["<p>", "", "</p>"],
        "r": 1,
        "p": {"0": ["<span>", ": ", "</span>"]},
    },
    "c": {
        "1": {"0": "index_1", "1": "world", "s": ["<b>FROM ", " ", "</b>"], "r": 1},
        "2": {"0": "index_2", "1": "world", "s": 1, "r": 1},
        "3": {"0": "index_1", "1": "world", "s": 1, "r": 1},
        "4": {"0": "index_2", "1": "world", "s": 3, "r": 1},
    },
    "s": ["<div>", "</div>"],
}


def component(cid: int, inner: str) -> str:
    return f'<b data-phx-component="{cid}" data-phx-view="{VIEW}">{inner}</b>'


def test_components_root_carries_its_cid_and_view() -> None:
    # rendered_test.ts "reuses static in components and comprehensions" (positive "s").
    assert Rendered(VIEW, STATIC_REUSE).to_html() == (
        "<div>"
        f"<p>foo<span>0: {component(1, 'FROM index_1 world')}</span>"
        f"<span>1: {component(2, 'FROM index_2 world')}</span></p>"
        f"<p>bar<span>0: {component(3, 'FROM index_1 world')}</span>"
        f"<span>1: {component(4, 'FROM index_2 world')}</span></p>"
        "</div>"
    )


def test_components_share_statics_with_new_and_held_components() -> None:
    # rendered_test.ts "merges components whole tree considering old and new links".
    tree = Rendered(VIEW, {
        "0": 1, "1": "", "2": "", "3": "", "4": "", "s": ["", "", "", "", "", ""],
        "c": {"1": {"0": {"s": ["<i>nested</i>"]}, "s": ["<b>old ", "</b>"], "r": 1}},
    })
    tree.merge({
        "1": 2, "2": 3, "3": 4, "4": 5,
        "c": {
            "1": {"0": {"s": ["<i>nested</i>"]}, "s": ["<b>new ", "</b>"], "r": 1},
            "2": {"0": {"s": ["<i>replaced</i>"]}, "s": -1},
            "3": {"0": {"s": ["<i>replaced</i>"]}, "s": 1},
            "4": {"s": -1},
            "5": {"s": 1},
        },
    })
    assert tree.to_html() == "".join([
        component(1, "new <i>nested</i>"),
        component(2, "old <i>replaced</i>"),
        component(3, "new <i>replaced</i>"),
        component(4, "old <i>nested</i>"),
        component(5, "new <i>nested</i>"),
    ])


def test_negative_sharing_copies_a_component_already_held() -> None:
    # rendered_test.ts "expands shared static from cids": a later cid copies cid 2.
    tree = Rendered(VIEW, {
        "0": {"k": {"0": {"0": 1}, "1": {"0": 2}, "kc": 2}, "s": ["", ""]},
        "c": {"1": {"0": "1008", "1": "My post", "s": ["<p id=\"p", "\">", "</p>"], "r": 1},
              "2": {"0": "1007", "1": "Other", "s": 1}},
        "s": ["<main>", "</main>"],
    })
    tree.merge({"0": {"k": {"2": {"0": 3}, "kc": 3}},
                "c": {"3": {"0": "1009", "1": "New", "s": -2}}})
    tree_html = tree.to_html()
    assert tree.cids == [1, 2, 3]
    assert (f'<p data-phx-component="3" data-phx-view="{VIEW}" id="p1009">New</p>' in tree_html)
    assert tree_html.count("<p ") == 3


def test_a_component_diff_merges_into_the_held_component() -> None:
    tree, doc = joined({
        "0": 1, "1": "a",
        "c": {"1": {"0": "0", "s": ['<button id="b">Clicks: ', "</button>"], "r": 1}},
        "s": ["<div>", "<span>", "</span></div>"],
    })
    result = doc.update(tree, {"c": {"1": {"0": "1"}}})
    assert result.removed_cids == []
    assert doc.find("#b").text_content() == "Clicks: 1"
    assert doc.find("#b").get("data-phx-component") == "1"
    assert doc.html() == (f'<div><button data-phx-component="1" data-phx-view="{VIEW}" '
                          'id="b">Clicks: 1</button><span>a</span></div>')


def test_a_component_with_two_roots_is_an_error() -> None:
    tree = Rendered(VIEW, {"0": 1, "s": ["<div>", "</div>"],
                           "c": {"1": {"0": "x", "s": ["<p>", "</p><p>two</p>"], "r": 1}}})
    with pytest.raises(RenderError, match="malformed html"):
        tree.to_html()


def test_a_component_rendering_text_is_malformed_html() -> None:
    tree = Rendered(VIEW, {"0": 1, "s": ["<div>", "</div>"],
                           "c": {"1": {"0": "x", "s": ["just ", " text"], "r": 1}}})
    with pytest.raises(RenderError, match="malformed html"):
        tree.to_html()


def test_a_component_may_sit_between_comments_and_whitespace() -> None:
    tree = Rendered(VIEW, {"0": 1, "s": ["<div>", "</div>"],
                           "c": {"1": {"s": ["\n<!-- @caller x.ex:1 -->\n<p>one</p>\n"], "r": 1}}})
    assert tree.to_html() == (f'<div>\n<!-- @caller x.ex:1 -->\n<p data-phx-component="1" '
                              f'data-phx-view="{VIEW}">one</p>\n</div>')


def test_pruned_components_are_gone_and_leaving_the_page_is_reported() -> None:
    tree, doc = joined({
        "0": {"0": 1, "s": ["<section>", "</section>"]},
        "c": {"1": {"s": ['<p id="c1">component</p>'], "r": 1}},
        "s": ["<div>", "</div>"],
    })
    assert doc.component_cids() == [1]

    result = doc.update(tree, {"0": {"s": ["<section>none</section>"]}})
    assert result.removed_cids == [1]
    assert doc.select("#c1") == []

    tree.prune_cids([1])
    assert tree.cids == []
    tree.merge({"0": {"0": 1, "s": ["<section>", "</section>"]}})
    with pytest.raises(RenderError, match="missing component: 1"):
        tree.to_html()


# -- streams -----------------------------------------------------------------------------------

def songs(*entries: tuple[str, str], inserts: list[list[Any]], deletes: list[str] | None = None,
          reset: bool = False, statics: bool = False) -> dict[str, Any]:
    stream: list[Any] = ["0", inserts, deletes or []]
    if reset:
        stream.append(True)
    node: dict[str, Any] = {
        "k": {**{str(i): {"0": dom_id, "1": name} for i, (dom_id, name) in enumerate(entries)},
              "kc": len(entries)},
        "stream": stream,
    }
    if statics:
        node["s"] = ['<li id="', '">', "</li>"]
    return node


def song_view(*entries: tuple[str, str], inserts: list[list[Any]]) -> dict[str, Any]:
    return {
        "0": "2",
        "1": songs(*entries, inserts=inserts, statics=True),
        "s": ["<p>count: ", '</p><ul id="songs" phx-update="stream">', "</ul>"],
    }


def append(dom_id: str, limit: int | None = None) -> list[Any]:
    return [dom_id, -1, limit, False]


def test_stream_inserts_stay_on_the_page_across_renders() -> None:
    tree, doc = joined(song_view(("songs-1", "one"), ("songs-2", "two"),
                                 inserts=[append("songs-1"), append("songs-2")]))
    assert texts(doc, "#songs > li") == ["one", "two"]
    assert doc.html() == (
        '<p>count: 2</p><ul id="songs" phx-update="stream">'
        '<li id="songs-1" data-phx-stream="0">one</li>'
        '<li id="songs-2" data-phx-stream="0">two</li></ul>'
    )

    # A diff that does not touch the stream leaves its children where they are.
    doc.update(tree, {"0": "3"})
    assert doc.find("p").text_content() == "count: 3"
    assert texts(doc, "#songs > li") == ["one", "two"]

    doc.update(tree, {"1": songs(("songs-3", "three"), inserts=[append("songs-3")])})
    doc.update(tree, {"1": songs(("songs-0", "zero"), inserts=[["songs-0", 0, None, False]])})
    assert ids(doc, "#songs > li") == ["songs-0", "songs-1", "songs-2", "songs-3"]


def test_the_tree_holds_only_the_last_diffs_stream_entries() -> None:
    tree, doc = joined(song_view(("songs-1", "one"), inserts=[append("songs-1")]))
    assert "songs-1" not in tree.to_html()

    tree.merge({"1": songs(("songs-2", "two"), inserts=[append("songs-2")])})
    assert re.findall(r'id="(songs-\d)"', tree.to_html()) == ["songs-2"]

    output = tree.render()
    assert output.streams == [StreamOp.from_wire(["0", [append("songs-2")], []])]
    assert "songs-2" not in tree.to_html()
    doc.apply(output.html, output.streams)
    assert ids(doc, "#songs > li") == ["songs-1", "songs-2"]


def test_stream_insert_at_an_index() -> None:
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"), ("s-3", "c"),
                                 inserts=[append("s-1"), append("s-2"), append("s-3")]))
    doc.update(tree, {"1": songs(("s-9", "new"), inserts=[["s-9", 1, None, False]])})
    assert ids(doc, "#songs > li") == ["s-1", "s-9", "s-2", "s-3"]

    doc.update(tree, {"1": songs(("s-8", "far"), inserts=[["s-8", 99, None, False]])})
    assert ids(doc, "#songs > li") == ["s-1", "s-9", "s-2", "s-3", "s-8"]


def test_stream_delete_by_dom_id() -> None:
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"), ("s-3", "c"),
                                 inserts=[append("s-1"), append("s-2"), append("s-3")]))
    doc.update(tree, {"1": songs(inserts=[], deletes=["s-2"])})
    assert texts(doc, "#songs > li") == ["a", "c"]


def test_an_existing_stream_item_is_updated_where_it_is() -> None:
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"),
                                 inserts=[append("s-1"), append("s-2")]))
    doc.update(tree, {"1": songs(("s-2", "b, edited"), inserts=[["s-2", 0, None, False]])})
    assert texts(doc, "#songs > li") == ["a", "b, edited"]


def test_stream_reset_removes_the_old_children_before_inserting() -> None:
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"), ("s-3", "c"),
                                 inserts=[append("s-1"), append("s-2"), append("s-3")]))
    doc.update(tree, {"1": songs(("s-3", "c again"), ("s-4", "d"),
                                 inserts=[append("s-3"), append("s-4")], reset=True)})
    assert texts(doc, "#songs > li") == ["c again", "d"]

    # A reset with nothing to insert empties the stream.
    doc.update(tree, {"1": songs(inserts=[], reset=True)})
    assert doc.select("#songs > li") == []


def test_stream_limit_positive_keeps_the_first_n() -> None:
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"),
                                 inserts=[append("s-1"), append("s-2")]))
    doc.update(tree, {"1": songs(("s-0", "new"), inserts=[["s-0", 0, 2, False]])})
    assert ids(doc, "#songs > li") == ["s-0", "s-1"]

    # Appending past a positive limit drops what was appended.
    doc.update(tree, {"1": songs(("s-5", "late"), inserts=[append("s-5", limit=2)])})
    assert ids(doc, "#songs > li") == ["s-0", "s-1"]


def test_stream_limit_negative_keeps_the_last_n() -> None:
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"),
                                 inserts=[append("s-1"), append("s-2")]))
    doc.update(tree, {"1": songs(("s-3", "c"), ("s-4", "d"),
                                 inserts=[append("s-3", limit=-3), append("s-4", limit=-3)])})
    assert ids(doc, "#songs > li") == ["s-2", "s-3", "s-4"]


def test_an_item_a_limit_drops_is_not_brought_back_by_the_same_diff() -> None:
    # morphdom matches the later insert to the element on the page when the patch began,
    # which the limit has already taken out.
    tree, doc = joined(song_view(("s-1", "a"), ("s-2", "b"), ("s-3", "c"),
                                 inserts=[append("s-1"), append("s-2"), append("s-3")]))
    doc.update(tree, {"1": songs(("s-0", "new"), ("s-3", "c2"),
                                 inserts=[["s-0", 0, 3, False], append("s-3")])})
    assert ids(doc, "#songs > li") == ["s-0", "s-1", "s-2"]


def test_stream_update_only_touches_existing_items() -> None:
    tree, doc = joined(song_view(("s-1", "a"), inserts=[append("s-1")]))
    doc.update(tree, {"1": songs(("s-1", "a2"), ("s-2", "b"),
                                 inserts=[["s-1", -1, None, True], ["s-2", -1, None, True]])})
    assert texts(doc, "#songs > li") == ["a2"]


def test_the_join_clears_stream_children_of_the_dead_render() -> None:
    dead = ('<p>count: 2</p><ul id="songs" phx-update="stream">'
            '<li id="songs-1">one</li><li id="stale">gone</li></ul>')
    _tree, doc = joined(song_view(("songs-1", "one"), inserts=[append("songs-1")]), dead)
    assert ids(doc, "#songs > li") == ["songs-1"]


def test_stream_children_need_ids() -> None:
    tree = Rendered(VIEW, {"0": {"s": ["<li>", "</li>"], "k": {"0": {"0": "x"}, "kc": 1},
                                 "stream": ["0", [], []]},
                           "s": ['<ul id="s" phx-update="stream">', "</ul>"]})
    with pytest.raises(RenderError, match="requires setting an ID on each child"):
        Document(VIEW).join(tree)

    nameless = Rendered(VIEW, {"s": ['<ul phx-update="stream"></ul>']})
    with pytest.raises(RenderError, match="requires setting an ID on the container"):
        Document(VIEW).join(nameless)


def test_a_component_diff_patches_a_component_inside_a_stream_item() -> None:
    # The stream entry left the tree once rendered; only the DOM still has the component.
    tree, doc = joined({
        "0": {"s": ['<li id="', '">', "</li>"], "k": {"0": {"0": "s-1", "1": 1}, "kc": 1},
              "stream": ["0", [append("s-1")], []]},
        "c": {"1": {"0": "draft", "s": ['<span id="c1">', "</span>"], "r": 1}},
        "s": ['<ul id="s" phx-update="stream">', "</ul>"],
    })
    doc.update(tree, {"c": {"1": {"0": "published"}}})
    assert doc.find("#s-1 #c1").text_content() == "published"
    assert doc.find("#s-1").get("data-phx-stream") == "0"


# -- phx-update="ignore" -----------------------------------------------------------------------

def test_ignored_containers_keep_their_content_and_take_data_attributes() -> None:
    tree, doc = joined({
        "0": "1", "1": "a",
        "s": ['<div id="chart" phx-update="ignore" class="c" data-v="',
              '"><canvas></canvas></div><p>', "</p>"],
    })
    doc.find("#chart canvas").text = "drawn by a hook"
    doc.update(tree, {"0": "2", "1": "b"})
    chart = doc.find("#chart")
    assert chart.get("data-v") == "2"
    assert doc.find("#chart canvas").text_content() == "drawn by a hook"
    assert doc.find("p").text_content() == "b"


# -- finding elements ---------------------------------------------------------------------------

def test_select_and_find_with_a_text_filter() -> None:
    _tree, doc = joined(song_view(("s-1", "Blue Monday"), ("s-2", "Blue   Moon"),
                                  inserts=[append("s-1"), append("s-2")]))
    assert len(doc.select("li")) == 2
    assert ids(doc, "li") == ["s-1", "s-2"]
    assert doc.find("li", "Blue Moon").get("id") == "s-2"
    assert doc.find("li", re.compile(r"Mon\w+")).get("id") == "s-1"
    assert doc.select("li", "Blue") == doc.select("li")

    with pytest.raises(LookupError, match="but got 2"):
        doc.find("li")
    with pytest.raises(LookupError, match="none matched the text filter"):
        doc.find("li", "Yellow")
    with pytest.raises(LookupError, match="but got none"):
        doc.find("table")
