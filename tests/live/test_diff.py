"""The diffs, in the shapes Phoenix's diff_test.exs and the client's rendered_test.ts expect,
and each one checked by the client's own merge rules (``live.testing.rendered``): what the
client builds from the join and the diffs is what the server renders."""

from __future__ import annotations

from typing import Any

from live.diff import Prints, render, to_html
from live.streams import Streams
from live.template import Assigns, Template
from live.testing.rendered import Rendered


class Client:
    """A server-side render state and the client's tree, stepped together."""

    def __init__(self, template: Template, **assigns: Any) -> None:
        self.template = template
        self.assigns = Assigns(assigns)
        first, self.prints = render(template(self.assigns), None, None)
        assert first is not None
        self.first = first
        self.client = Rendered("phx-test", first)

    def change(self, **changes: Any) -> dict[str, Any] | None:
        self.assigns = Assigns({**self.assigns, **changes})
        prints: Prints = self.prints
        diff, self.prints = render(self.template(self.assigns), prints,
                                   frozenset(changes))
        if diff is not None:
            self.client.merge(diff)
        return diff

    def html(self) -> str:
        return self.client.to_html()


def test_the_first_render_sends_statics_and_every_dynamic() -> None:
    client = Client(Template("<div><h1>{@title}</h1><p>{@body}</p></div>"), title="Hi",
                    body="there")

    assert client.first == {"0": "Hi", "1": "there", "s": ["<div><h1>", "</h1><p>", "</p></div>"]}
    assert "r" not in client.first  # at the top level "r" is the hook reply
    assert client.html() == "<div><h1>Hi</h1><p>there</p></div>"


def test_a_change_sends_only_its_slot_and_no_change_sends_nothing() -> None:
    client = Client(Template("<div><h1>{@title}</h1><p>{@body}</p></div>"), title="Hi",
                    body="there")

    assert client.change(title="Hello") == {"0": "Hello"}
    assert client.change(other=1) is None
    assert client.html() == "<div><h1>Hello</h1><p>there</p></div>"


def test_the_counters_click_is_one_slot() -> None:
    client = Client(Template("<section>Count: {@count}</section>"), count=0)

    assert client.change(count=1) == {"0": "1"}


NAMES = Template('<div><h1>{@title}</h1><p :for={n in @names} :key={n}><br/>{n}</p></div>')


def test_a_keyed_comprehension_first_render_and_appends() -> None:
    client = Client(NAMES, title="Users", names=["ann", "bob"])

    assert client.first["1"] == {"s": ["<p><br>", "</p>"],
                                 "k": {"0": {"0": "ann"}, "1": {"0": "bob"}, "kc": 2}}
    assert client.change(names=["ann", "bob", "carl"]) == {"1": {"k": {"2": {"0": "carl"},
                                                                       "kc": 3}}}
    assert client.html() == "<div><h1>Users</h1><p><br>ann</p><p><br>bob</p><p><br>carl</p></div>"


def test_a_keyed_comprehension_moves_by_index_and_drops_past_the_count() -> None:
    client = Client(NAMES, title="Users", names=["ann", "bob", "carl"])

    moved = client.change(names=["carl", "ann"])

    assert moved == {"1": {"k": {"0": 2, "1": 0, "kc": 2, "km": True}}}
    assert client.html() == "<div><h1>Users</h1><p><br>carl</p><p><br>ann</p></div>"


def test_an_entry_that_moved_and_changed_is_a_pair() -> None:
    template = Template('<ul><li :for={u in @users} :key={u["id"]}>{u["name"]}</li></ul>')
    client = Client(template, users=[{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}])

    diff = client.change(users=[{"id": 2, "name": "rob"}, {"id": 1, "name": "ann"}])

    assert diff == {"0": {"k": {"0": [1, {"0": "rob"}], "1": 0, "kc": 2, "km": True}}}
    assert client.html() == "<ul><li>rob</li><li>ann</li></ul>"


def test_an_entry_changed_in_place_sends_only_its_changed_slot() -> None:
    template = Template('<ul><li :for={u in @users} :key={u["id"]} id={u["id"]}>'
                        '{u["name"]}</li></ul>')
    client = Client(template, users=[{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}])

    diff = client.change(users=[{"id": 1, "name": "ann"}, {"id": 2, "name": "rob"}])

    assert diff == {"0": {"k": {"1": {"1": "rob"}, "kc": 2}}}


def test_emptying_a_comprehension_keeps_the_count() -> None:
    client = Client(NAMES, title="Users", names=["ann"])

    assert client.change(names=[]) == {"1": {"k": {"kc": 0}}}
    assert client.html() == "<div><h1>Users</h1></div>"


BRANCHES = Template('<div><p :if={@mode == "a"} class="a">A {@x}</p>'
                    '<p :if={@mode == "b"} class="b">B {@x}</p></div>')


def test_a_conditional_switching_branch_sends_the_new_branch_with_statics() -> None:
    client = Client(BRANCHES, mode="a", x=1)

    assert client.first["0"] == {"0": "1", "s": ['<p class="a">A ', "</p>"], "r": 1}
    assert client.first["1"] == ""
    assert client.change(x=2) == {"0": {"0": "2"}}
    assert client.change(mode="b") == {"0": "", "1": {"0": "2", "s": ['<p class="b">B ', "</p>"],
                                                      "r": 1}}
    assert client.html() == '<div><p class="b">B 2</p></div>'


def test_nested_conditionals() -> None:
    template = Template('<div :if={@outer}><span :if={@inner}>{@v}</span></div>')
    client = Client(template, outer=True, inner=True, v="x")

    assert client.change(inner=False) == {"0": {"0": ""}}
    assert client.change(inner=True, v="y") == {"0": {"0": {"0": "y",
                                                            "s": ["<span>", "</span>"],
                                                            "r": 1}}}
    assert client.change(outer=False) == {"0": ""}
    assert client.change(outer=True) == {"0": {"0": {"0": "y", "s": ["<span>", "</span>"],
                                                     "r": 1},
                                               "s": ["<div>", "</div>"], "r": 1}}
    assert client.html() == "<div><span>y</span></div>"


# -- streams ---------------------------------------------------------------------------------


STREAM = Template('<ul id="items" phx-update="stream">'
                  '<li :for={dom_id, item in @streams.items} id={dom_id}>{item["name"]}</li></ul>')


def with_stream(items: list[dict[str, Any]], **options: Any) -> tuple[Streams, Client]:
    streams = Streams()
    streams.configure("items", items, **options)
    client = Client(STREAM, streams=streams)
    streams.prune()
    return streams, client


def test_a_stream_sends_its_items_once_with_the_insert_tuples() -> None:
    _, client = with_stream([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], limit=10)

    assert client.first["0"] == {
        "s": ["<li", ">", "</li>"],
        "k": {"0": {"0": ' id="items-1"', "1": "a"}, "1": {"0": ' id="items-2"', "1": "b"},
              "kc": 2},
        "stream": ["0", [["items-1", -1, 10, False], ["items-2", -1, 10, False]], []],
    }


def test_an_insert_sends_only_the_new_item_and_a_delete_only_its_id() -> None:
    streams, client = with_stream([{"id": 1, "name": "a"}])

    streams.get("items").insert({"id": 3, "name": "c"}, at=0, limit=-50)
    inserted = client.change(streams=streams)
    streams.prune()
    streams.get("items").delete_by_dom_id("items-1")
    deleted = client.change(streams=streams)
    streams.prune()

    assert inserted == {"0": {"k": {"0": {"0": ' id="items-3"', "1": "c"}, "kc": 1},
                              "stream": ["0", [["items-3", 0, -50, False]], []]}}
    assert deleted == {"0": {"k": {"kc": 0}, "stream": ["0", [], ["items-1"]]}}
    assert client.change(streams=streams) is None  # nothing queued: nothing sent


def test_a_reset_is_the_fourth_element_and_update_only_is_sent() -> None:
    streams, client = with_stream([{"id": 1, "name": "a"}])

    streams.configure("items", [{"id": 2, "name": "b"}], reset=True)
    reset = client.change(streams=streams)
    streams.prune()
    streams.get("items").insert({"id": 2, "name": "B"}, update_only=True)
    updated = client.change(streams=streams)

    assert reset is not None and reset["0"]["stream"] == ["0", [["items-2", -1, None, False]],
                                                          [], True]
    assert updated is not None and updated["0"]["stream"] == ["0", [["items-2", -1, None,
                                                                     True]], []]


def test_the_view_keeps_no_stream_items_after_a_render() -> None:
    streams, client = with_stream([{"id": n, "name": str(n)} for n in range(1000)])

    assert streams.get("items").pending() == ([], [], False)
    assert client.prints.slots[0].__class__.__name__ == "_Streamed"


def test_the_http_render_has_the_same_html_as_the_client_builds() -> None:
    assigns = Assigns(title="Users", names=["ann", "bob"])
    first, _ = render(NAMES(assigns), None, None)
    assert first is not None

    assert Rendered("phx-test", first).to_html() == to_html(NAMES(assigns))
