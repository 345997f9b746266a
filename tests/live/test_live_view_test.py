"""The LiveView test client against the engine: small views of this module, served by a node.

Every interaction goes over the real wire (the page's HTTP render, a WebSocket to /live, the
join, events, pushes) to real view processes; what is asserted is what the page shows.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from typing import Any

import pytest

from channels.client import JoinError, Reply
from hearth.names import PUBSUB
from hearth.testing import Conn, TestNode, insert, log_in
from live import (  # JS: the templates use it
    JS,  # noqa: F401
    LiveSocket,
    LiveView,
    NoReply,
    Ok,
    Template,
    assign,
    connected,
    push_event,
    push_navigate,
    push_patch,
    put_flash,
    redirect,
    stream,
    stream_delete_by_dom_id,
    stream_insert,
    update,
)
from live.router import LiveRouter, LiveSession
from live.router import live as live_route
from live.testing import (
    LiveClient,
    LiveRedirect,
    PushError,
    ViewCrashed,
    assert_patch,
    assert_push_event,
    assert_redirect,
    assert_reply,
    follow_redirect,
    get_page,
    has_element,
    live,
    page_title,
    render,
    render_patch,
)
from live.testing.rendered import RenderError
from otp import PubSub
from otp import Reply as HookReply

MOUNTS = itertools.count(1)
"""Numbers the connected mounts, so a test sees a fresh one."""
ITEMS_TOPIC = "lvt:items"
CLOSED_SHOPS: set[str] = set()
"""Where ``/lvt/nav?from=<shop>`` now redirects its (re)mounts to."""

FLASHES = """
  <p :for={kind, text in sorted(@flash.items())} id={f"flash-{kind}"} class="flash"
     phx-click={JS.push("lv:clear-flash", value={"key": kind}).hide(to=f"#flash-{kind}")}
     >{text}</p>
"""


class CounterLive(LiveView):
    template = Template(f"""
      <section id="counter">
        {FLASHES}
        <h1>Count: {{@count}}</h1>
        <p id="mount">mount {{@mount}}</p>
        <p id="page">page {{@page}}</p>
        <p id="last">{{@last}}</p>
        <button id="inc" phx-click="inc" phx-value-by="1">+</button>
        <button id="inc-five" phx-click={{JS.push("inc", value={{"by": "5"}})
                                         .add_class("bumped", to="#count")}}>+5</button>
        <button id="crash" phx-click="crash">crash</button>
        <button id="notify" phx-click="notify">notify</button>
        <button id="retitle" phx-click="retitle">retitle</button>
        <button id="patch" phx-click="patch">page 2</button>
        <a id="patch-link" href="/lvt/counter?page=3" data-phx-link="patch"
           data-phx-link-state="push">page 3</a>
        <a id="nav-link" href="/lvt/nav?from=link" data-phx-link="redirect"
           data-phx-link-state="push">nav</a>
        <button id="navigate" phx-click="navigate">navigate</button>
        <button id="navigate-away" phx-click="navigate-away">elsewhere</button>
        <button id="redirect" phx-click="redirect">redirect</button>
        <input id="search" phx-keyup="search" phx-key="Enter" value="hearth">
        <div id="probe" phx-hook="Probe"></div>
      </section>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(assign(socket, count=0, mount=next(MOUNTS) if connected(socket) else 0,
                         page="1", last="", page_title="Counter"))

    def handle_params(self, params: dict[str, Any], uri: str, socket: LiveSocket) -> Any:
        return NoReply(assign(socket, page=params.get("page", "1")))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        assign(socket, last=json.dumps(value, sort_keys=True))
        if event == "inc":
            return NoReply(update(socket, "count", lambda n: n + int(value["by"])))
        if event == "search":
            return NoReply(socket)
        if event == "notify":
            return NoReply(push_event(socket, "highlight", {"id": "count"}))
        if event == "retitle":
            return NoReply(assign(socket, page_title=f"Counter at {socket.assigns['count']}"))
        if event == "patch":
            return NoReply(push_patch(socket, "/lvt/counter?page=2"))
        if event == "navigate":
            put_flash(socket, "info", "Navigated.")
            return NoReply(push_navigate(socket, "/lvt/nav?from=counter"))
        if event == "navigate-away":
            put_flash(socket, "info", "Went elsewhere.")
            return NoReply(push_navigate(socket, "/lvt/elsewhere"))
        if event == "redirect":
            put_flash(socket, "info", "Redirected.")
            return NoReply(redirect(socket, "/lvt/nav?from=redirect"))
        if event == "ping":
            return HookReply({"pong": value["n"]}, socket)
        if event == "crash":
            raise RuntimeError("the view was asked to crash")
        return super().handle_event(event, value, socket)


class NavLive(LiveView):
    template = Template(f"""
      <section id="nav">
        {FLASHES}
        <h1>Nav from {{@origin}}</h1>
      </section>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        origin = params.get("from", "nowhere")
        if origin in CLOSED_SHOPS:
            put_flash(socket, "error", f"{origin} is closed.")
            return Ok(redirect(socket, "/lvt/counter"))
        return Ok(assign(socket, origin=origin, page_title="Nav"))


class ElsewhereLive(LiveView):
    template = Template(f"""
      <section id="elsewhere">{FLASHES}<h1>Elsewhere</h1></section>
    """)


class GuardLive(LiveView):
    """``?when=always`` redirects the HTTP render (to ``?to=``); ``connected`` and
    ``navigate`` only the connected mount (a redirect, or a live navigation); ``patch``
    patches from the connected ``handle_params``."""

    template = Template("<h1>Guarded: {@when}</h1>")

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        when = params.get("when")
        if when == "always" or (when == "connected" and connected(socket)):
            put_flash(socket, "error", "Not here.")
            return Ok(redirect(socket, params.get("to", "/lvt/nav?from=guard")))
        if when == "navigate" and connected(socket):
            put_flash(socket, "info", "Over there.")
            return Ok(push_navigate(socket, "/lvt/nav?from=guard"))
        return Ok(socket)

    def handle_params(self, params: dict[str, Any], uri: str, socket: LiveSocket) -> Any:
        assign(socket, when=params.get("when"))
        if params.get("when") == "patch" and connected(socket):
            return NoReply(push_patch(socket, "/lvt/guard?when=patched"))
        return NoReply(socket)


class ItemsLive(LiveView):
    """A stream of at most three items, newest first, driven by PubSub."""

    template = Template("""
      <section id="items-page">
        <div id="items" phx-update="stream">
          <p :for={dom_id, item in @streams.items} id={dom_id} class="item">{item["name"]}</p>
        </div>
        <p id="note">{@note}</p>
      </section>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        if connected(socket):
            PubSub.subscribe(PUBSUB, ITEMS_TOPIC)
        stream(socket, "items", [{"id": 2, "name": "two"}, {"id": 1, "name": "one"}], limit=3)
        return Ok(assign(socket, note="", page_title="Items"))

    def handle_params(self, params: dict[str, Any], uri: str, socket: LiveSocket) -> Any:
        if params.get("page") == "gone":
            put_flash(socket, "info", "No such page.")
            return NoReply(redirect(socket, "/lvt/nav?from=params"))
        return NoReply(socket)

    def handle_info(self, msg: Any, socket: LiveSocket) -> Any:
        kind, data = msg
        if kind == "insert":
            stream_insert(socket, "items", data, at=0, limit=3)
        elif kind == "update":
            stream_insert(socket, "items", data, update_only=True)
        elif kind == "delete":
            stream_delete_by_dom_id(socket, "items", f"items-{data}")
        elif kind == "reset":
            stream(socket, "items", data, reset=True)
        elif kind == "note":
            assign(socket, note=data, page_title=f"Items: {data}")
        elif kind == "patch":
            push_patch(socket, data)
        elif kind == "redirect":
            put_flash(socket, "info", "Items moved.")
            redirect(socket, data)
        return NoReply(socket)


class ActionLive(LiveView):
    """One view at two routes, ``@live_action`` telling which."""

    template = Template("""<p id="action">action {@live_action}</p>""")

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        return NoReply(push_patch(socket, "/lvt/act/b"))


class BrokenLive(LiveView):
    """Renders, after ``break``, a container the client cannot patch."""

    template = Template("""<div id="box" phx-update={@mode}>box</div>""")

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(assign(socket, mode="replace"))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        return NoReply(assign(socket, mode="append"))


class FormLive(LiveView):
    template = Template(f"""
      <section id="form-page">
        {FLASHES}
        <form id="item-form" phx-change="validate" phx-submit="save" phx-value-source="test">
          <input id="item_name" name="item[name]" value={{@values.get("name", "")}}>
          <span :for={{message in @errors.get("name", [])}} class="error"
                data-field="name">{{message}}</span>
          <input type="hidden" name="item[kind]" value="gadget">
          <select name="item[size]">
            <option value="s">S</option><option value="m" selected={{True}}>M</option>
          </select>
          <textarea name="item[note]">{{@values.get("note", "")}}</textarea>
          <span :for={{message in @errors.get("note", [])}} class="error"
                data-field="note">{{message}}</span>
          <input type="checkbox" name="item[tags][]" value="red" checked={{True}}>
          <input type="checkbox" name="item[tags][]" value="blue">
          <button type="submit">Save</button>
        </form>
        <pre id="seen">{{@seen}}</pre>
      </section>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(assign(socket, values={}, errors={}, seen=""))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        item = value.get("item", {})
        errors = {field: ["can't be blank"] for field in ("name", "note")
                  if not item.get(field)}
        assign(socket, seen=json.dumps(value, sort_keys=True), values=item)
        if event == "validate":
            touched = {k: v for k, v in errors.items() if f"_unused_{k}" not in item}
            return NoReply(assign(socket, errors=touched))
        if errors:
            return NoReply(assign(socket, errors=errors))
        put_flash(socket, "info", f"Saved {item['name']}.")
        return NoReply(redirect(socket, "/lvt/nav?from=form"))


ROUTER = LiveRouter([
    LiveSession("lvt", [
        live_route("/lvt/counter", CounterLive),
        live_route("/lvt/nav", NavLive),
        live_route("/lvt/guard", GuardLive),
        live_route("/lvt/items", ItemsLive),
        live_route("/lvt/form", FormLive),
        live_route("/lvt/act/a", ActionLive, action="a"),
        live_route("/lvt/act/b", ActionLive, action="b"),
        live_route("/lvt/broken", BrokenLive),
    ]),
    LiveSession("elsewhere", [live_route("/lvt/elsewhere", ElsewhereLive)]),
])


# The node serves this module's live routes in place of the application's.
pytestmark = pytest.mark.hearth_config({"live.router": f"{__name__}:ROUTER"})


def seen(view: Any) -> Any:
    """The params the form view last handled, as it shows them."""
    return json.loads(view.element("#seen").text)


# -- mount and events ---------------------------------------------------------------------------


async def test_live_joins_the_page_and_returns_the_connected_render(conn: Conn) -> None:
    page = await get_page(conn, "/lvt/counter")
    assert 'id="mount">mount 0<' in page.html  # the HTTP render is not connected

    view, html = await live(conn, "/lvt/counter")

    assert "Count: 0" in html
    assert "mount 0" not in html and view.has_element("#mount", "mount ")
    assert view.joins == 1 and view.state == "joined"
    assert render(view) == html


async def test_a_click_sends_the_phx_values_and_the_element_value(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    html = await view.element("button", re.compile(r"^\+$")).render_click()

    assert "Count: 1" in html
    assert json.loads(view.element("#last").text) == {"by": "1", "value": ""}
    await view.element("#inc").render_click({"by": "2", "extra": "x"})
    assert "Count: 3" in view.render()
    assert json.loads(view.element("#last").text) == {"by": "2", "extra": "x", "value": ""}


async def test_js_commands_run_their_push(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    html = await view.element("#inc-five").render_click()

    assert "Count: 5" in html


async def test_keyup_is_sent_for_the_phx_key_only(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")
    search = view.element("#search")

    await search.render_keyup({"key": "a"})
    assert view.element("#last").text == ""

    await search.render_keyup({"key": "Enter"})
    assert json.loads(view.element("#last").text) == {"key": "Enter", "value": "hearth"}


async def test_a_hook_event_gets_the_views_reply(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    await view.element("#probe").render_hook("ping", {"n": 7})

    await assert_reply(view, {"pong": 7})
    with pytest.raises(AssertionError, match="no phx-hook"):
        await view.element("#inc").render_hook("ping", {"n": 1})


async def test_push_event_reaches_the_client(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    await view.element("#notify").render_click()

    await assert_push_event(view, "highlight", {"id": "count"})
    with pytest.raises(AssertionError, match="highlight"):
        await assert_push_event(view, "highlight", {"id": "count"}, timeout=0.05)


async def test_page_title_follows_the_views_page_title(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")
    assert page_title(view) == "Counter · Hearth"

    await view.element("#inc").render_click()
    await view.element("#retitle").render_click()

    assert page_title(view) == "Counter at 1 · Hearth"


async def test_clicking_a_flash_clears_it(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")
    with pytest.raises(LiveRedirect) as redirected:
        await view.element("#redirect").render_click()
    nav, html = await follow_redirect(redirected.value, conn)
    assert "Redirected." in html

    html = await nav.element("#flash-info").render_click()

    assert "Redirected." not in html and not nav.has_element(".flash")


# -- params and navigation ----------------------------------------------------------------------


async def test_handle_params_runs_on_mount_and_on_each_patch(conn: Conn) -> None:
    view, html = await live(conn, "/lvt/counter?page=4")
    assert "page 4" in html

    await view.element("#patch").render_click()
    assert await assert_patch(view) == "/lvt/counter?page=2"
    assert view.has_element("#page", "page 2")

    assert "page 3" in await view.element("#patch-link").render_click()
    assert "page 5" in await render_patch(view, "/lvt/counter?page=5")
    assert view.url.endswith("/lvt/counter?page=5")
    assert "Count: 0" in view.render()  # the same view all along


async def test_push_navigate_joins_the_next_view_on_the_same_socket(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    with pytest.raises(LiveRedirect) as navigated:
        await view.element("#navigate").render_click()
    assert navigated.value.kind == "live_redirect"
    assert navigated.value.to == "/lvt/nav?from=counter"
    assert navigated.value.flash == {"info": "Navigated."}
    nav, html = await follow_redirect(navigated.value, conn)

    assert "Nav from counter" in html and "Navigated." in html
    assert nav.client is view.client and nav.id == view.id
    assert await assert_redirect(view, "/lvt/nav?from=counter") == {"info": "Navigated."}
    assert page_title(nav) == "Nav · Hearth"


async def test_a_live_link_navigates_and_render_patch_to_another_view_too(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    with pytest.raises(LiveRedirect) as linked:
        await view.element("#nav-link").render_click()
    nav, html = await follow_redirect(linked.value, conn)
    assert "Nav from link" in html and nav.client is view.client

    with pytest.raises(LiveRedirect) as patched:
        await render_patch(nav, "/lvt/counter")
    assert patched.value.kind == "live_redirect"


async def test_navigation_to_another_live_session_loads_the_page(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    with pytest.raises(LiveRedirect) as navigated:
        await view.element("#navigate-away").render_click()
    elsewhere, html = await follow_redirect(navigated.value, conn)

    # The join over the socket is refused (unauthorized); the page is loaded instead, the
    # flash riding the cookie.
    assert "Elsewhere" in html and "Went elsewhere." in html
    assert elsewhere.client is not view.client


async def test_a_redirect_carries_the_flash_to_the_next_page(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    with pytest.raises(LiveRedirect) as redirected:
        await view.element("#redirect").render_click()
    assert redirected.value.kind == "redirect"
    nav, html = await follow_redirect(redirected.value, conn)

    assert "Nav from redirect" in html and "Redirected." in html
    assert nav.client is not view.client
    _again, html = await live(conn, "/lvt/nav")
    assert "Redirected." not in html  # shown once


async def test_a_mount_that_redirects(conn: Conn) -> None:
    with pytest.raises(LiveRedirect) as on_http:
        await live(conn, "/lvt/guard?when=always")
    assert on_http.value.to == "/lvt/nav?from=guard"
    assert on_http.value.flash == {"error": "Not here."}
    _view, html = await follow_redirect(on_http.value, conn)
    assert "Not here." in html

    with pytest.raises(LiveRedirect) as on_join:
        await live(conn, "/lvt/guard?when=connected")
    assert on_join.value.kind == "redirect" and on_join.value.flash == {"error": "Not here."}
    _view, html = await follow_redirect(on_join.value, conn)
    assert "Nav from guard" in html and "Not here." in html

    with pytest.raises(LiveRedirect) as navigating:
        await live(conn, "/lvt/guard?when=navigate")
    assert navigating.value.kind == "live_redirect"
    _view, html = await follow_redirect(navigating.value, conn)
    assert "Over there." in html


async def test_a_patch_changes_the_live_action(conn: Conn) -> None:
    view, html = await live(conn, "/lvt/act/a")
    assert "action a" in html

    assert "action b" in await render_patch(view, "/lvt/act/b")
    assert "action a" in await render_patch(view, "/lvt/act/a")


async def test_push_patch_to_another_route_of_the_view_changes_the_live_action(
        conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/act/a")

    html = await view.render_hook("switch", {})

    assert await assert_patch(view) == "/lvt/act/b"
    assert "action b" in html


async def test_a_patch_from_the_connected_handle_params_rides_the_join_reply(
        conn: Conn) -> None:
    view, html = await live(conn, "/lvt/guard?when=patch")

    assert "Guarded: patched" in html
    assert await assert_patch(view, "/lvt/guard?when=patched") == "/lvt/guard?when=patched"
    assert view.url.endswith("/lvt/guard?when=patched")


# -- streams and PubSub --------------------------------------------------------------------------


def item_names(view: Any) -> list[str]:
    """The stream's items as the page shows them, in order."""
    return [el.text_content() for el in view.document.select("#items .item")]


async def test_streams_insert_delete_and_reset_with_a_limit(conn: Conn) -> None:
    view, _html = await live(conn, "/lvt/items")
    assert item_names(view) == ["two", "one"]

    for n, name in ((3, "three"), (4, "four")):
        PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("insert", {"id": n, "name": name}))
    await view.wait_for(lambda html: "four" in html)
    assert item_names(view) == ["four", "three", "two"]  # "one" dropped off the end

    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("update", {"id": 3, "name": "THREE"}))
    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("update", {"id": 1, "name": "gone"}))
    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("delete", 2))
    await view.wait_for(lambda html: "items-2" not in html)
    assert item_names(view) == ["four", "THREE"]

    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("reset", [{"id": 9, "name": "nine"}]))
    await view.wait_for(lambda html: "nine" in html)
    assert item_names(view) == ["nine"]


async def test_handle_info_pushes_diffs_patches_and_redirects(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/items")

    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("note", "hello"))
    assert "hello" in await view.wait_for(lambda html: "hello" in html)
    assert page_title(view) == "Items: hello · Hearth"

    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("patch", "/lvt/items?page=2"))
    assert await assert_patch(view, "/lvt/items?page=2") == "/lvt/items?page=2"

    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("redirect", "/lvt/nav?from=items"))
    assert await assert_redirect(view, "/lvt/nav?from=items") == {"info": "Items moved."}
    assert view.redirect is not None
    _nav, html = await follow_redirect(view.redirect, conn)
    assert "Nav from items" in html and "Items moved." in html


async def test_a_redirect_from_the_handle_params_of_a_pushed_patch_is_followed(
        conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/items")

    PubSub.broadcast(PUBSUB, ITEMS_TOPIC, ("patch", "/lvt/items?page=gone"))

    assert await assert_patch(view) == "/lvt/items?page=gone"
    assert await assert_redirect(view, "/lvt/nav?from=params", timeout=1.0) == {
        "info": "No such page."}


# -- crashes ------------------------------------------------------------------------------------


async def test_a_crash_rejoins_with_a_fresh_mount_while_another_view_carries_on(
        conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")
    other, _ = await live(conn, "/lvt/counter", client=view.client)
    await view.element("#inc").render_click()
    await other.element("#inc-five").render_click()
    first_mount = view.element("#mount").text

    with pytest.raises(ViewCrashed):
        await view.element("#crash").render_click()
    html = await view.wait_for(lambda html: view.joins == 2)

    assert "Count: 0" in html and view.element("#mount").text != first_mount
    assert "Count: 6" in await other.element("#inc").render_click()
    assert other.joins == 1
    assert "Count: 1" in await view.element("#inc").render_click()


async def test_the_pages_flash_is_shown_by_the_first_connected_mount_only(conn: Conn) -> None:
    with pytest.raises(LiveRedirect) as redirected:
        await live(conn, "/lvt/guard?when=always&to=/lvt/counter")
    view, html = await follow_redirect(redirected.value, conn)
    assert "Not here." in html

    with pytest.raises(ViewCrashed):
        await view.element("#crash").render_click()
    html = await view.wait_for(lambda html: view.joins == 2)

    assert "Not here." not in html  # a rejoin is a mount with _mounts 1


async def test_a_rejoin_refused_with_a_redirect_ends_the_view(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/nav?from=shop")
    CLOSED_SHOPS.add("shop")
    try:
        with pytest.raises(ViewCrashed):
            await view.render_hook("no-such-event", {})

        assert await assert_redirect(view, "/lvt/counter") == {"error": "shop is closed."}
    finally:
        CLOSED_SHOPS.discard("shop")
    assert view.state == "refused" and view.joins == 1
    with pytest.raises(LiveRedirect):
        await view.render_hook("anything", {})
    assert view.redirect is not None
    _counter, html = await follow_redirect(view.redirect, conn)
    assert "shop is closed." in html


# -- forms --------------------------------------------------------------------------------------


async def test_a_change_is_encoded_as_the_client_encodes_it(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/form")

    html = await view.form("#item-form").render_change({"item": {"name": "Lamp"}})

    assert seen(view) == {
        "_target": ["item", "name"],
        "source": "test",
        "item": {"name": "Lamp", "kind": "gadget", "size": "m", "note": "",
                 "_unused_note": "", "_unused_size": "", "tags": ["red"],
                 "_unused_tags": [""]},
    }
    assert "can't be blank" not in html  # the note is not touched yet

    await view.form("#item-form", {"item": {"name": "Lamp"}}).render_change(
        {"item": {"note": "", "tags": ["red", "blue"]}}, target="item[note]")
    assert seen(view)["_target"] == ["item", "note"]
    assert seen(view)["item"]["tags"] == ["red", "blue"]
    assert view.has_element('.error[data-field="note"]', "can't be blank")
    assert not view.has_element('.error[data-field="name"]')


async def test_a_submit_sends_every_field_as_used_and_may_redirect(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/form")
    form = view.form("#item-form", {"item": {"name": ""}})

    html = await form.render_submit()
    assert "_unused_" not in json.dumps(seen(view))
    assert "_target" not in seen(view)
    assert html.count("can't be blank") == 2

    with pytest.raises(LiveRedirect) as saved:
        await form.render_submit({"item": {"name": "Lamp", "note": "bright"}})
    assert saved.value.to == "/lvt/nav?from=form"
    _nav, html = await follow_redirect(saved.value, conn)
    assert "Saved Lamp." in html


async def test_a_form_refuses_fields_it_does_not_have(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/form")

    with pytest.raises(AssertionError, match="no field 'item\\[colour\\]'"):
        await view.form("#item-form").render_change({"item": {"colour": "red"}})
    with pytest.raises(AssertionError, match="not a <form>"):
        await view.form("#seen").render_change()


# -- bad input ----------------------------------------------------------------------------------


def tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


async def test_a_tampered_session_token_is_refused_as_stale(conn: Conn) -> None:
    page = await get_page(conn, "/lvt/counter")

    async with LiveClient(conn, page.csrf_token) as client:
        with pytest.raises(JoinError) as refused:
            await client.join(dataclasses.replace(page, session=tampered(page.session)))
        assert refused.value.response == {"reason": "stale"}
        with pytest.raises(JoinError) as elsewhere:  # a good token, for another container
            await client.join(dataclasses.replace(page, view_id="phx-another"))
        assert elsewhere.value.response == {"reason": "stale"}
        _view, html = await client.join(page)  # the socket is fine

    assert "Count: 0" in html


async def test_a_join_for_the_url_of_another_view_is_stale(conn: Conn) -> None:
    page = await get_page(conn, "/lvt/counter")
    elsewhere = page.url.replace("/lvt/counter", "/lvt/nav")

    async with LiveClient(conn, page.csrf_token) as client:
        with pytest.raises(JoinError) as refused:
            await client.join(dataclasses.replace(page, url=elsewhere))

    assert refused.value.response == {"reason": "stale"}


async def test_a_socket_with_a_forged_csrf_token_joins_nothing(conn: Conn) -> None:
    page = await get_page(conn, "/lvt/counter")

    async with LiveClient(conn, "forged") as client:
        with pytest.raises(JoinError) as refused:
            await client.join(page)

    assert refused.value.response == {"reason": "stale"}


async def test_a_token_rendered_for_another_browser_session_is_stale(
        conn: Conn, hearth_node: TestNode) -> None:
    await log_in(conn, await insert("user"))
    alice_page = await get_page(conn, "/lvt/counter")
    async with Conn(hearth_node) as bob:
        await log_in(bob, await insert("user"))
        bob_page = await get_page(bob, "/lvt/counter")

        async with LiveClient(bob, bob_page.csrf_token) as client:
            with pytest.raises(JoinError) as refused:
                await client.join(alice_page)
            _view, html = await client.join(bob_page)

    assert refused.value.response == {"reason": "stale"}
    assert "Count: 0" in html


async def test_an_event_for_a_topic_not_joined_is_answered_with_an_error(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")

    reply = await view.client.push("lv:phx-not-joined", "event",
                                   {"type": "click", "event": "inc", "value": {"by": "1"}})

    assert reply == Reply("error", {"reason": "unmatched topic"})
    assert view.has_element("h1", "Count: 0")
    assert "Count: 1" in await view.element("#inc").render_click()


async def test_an_unknown_event_crashes_the_view_and_the_rejoin_mounts_it_again(
        conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")
    await view.element("#inc").render_click()

    with pytest.raises(ViewCrashed):
        await view.render_hook("no-such-event", {})
    html = await view.wait_for(lambda html: view.joins == 2)

    assert "Count: 0" in html


async def test_malformed_form_encodings_are_refused_and_the_view_lives(
        conn: Conn, hearth_node: TestNode) -> None:
    view, _ = await live(conn, "/lvt/form")
    too_many = "&".join(f"f{n}=1" for n in range(hearth_node.config.live.max_form_fields + 1))

    for value in ["item=1&item[name]=2", "item[]=1&item[name]=2", "a" + "[b]" * 20 + "=1",
                  too_many]:
        reply = await view.push("event", {"type": "form", "event": "validate", "value": value})
        assert reply.status == "error", value
        assert reply.response["reason"].startswith("malformed form values"), value
    reply = await view.push("event", {"type": "form", "event": "validate",
                                      "value": {"item": {"name": "x"}}})
    assert reply.status == "error"

    await view.form("#item-form").render_change({"item": {"name": "still here"}})
    assert seen(view)["item"]["name"] == "still here"
    assert view.joins == 1


async def test_an_oversized_form_is_refused(conn: Conn, hearth_node: TestNode) -> None:
    view, _ = await live(conn, "/lvt/form")
    note = "x" * (hearth_node.config.live.max_event_bytes + 1)

    with pytest.raises(PushError) as refused:
        await view.form("#item-form").render_change({"item": {"note": note}})

    assert "too large" in refused.value.reason
    await view.form("#item-form").render_change({"item": {"note": "short"}})
    assert seen(view)["item"]["note"] == "short"


async def test_a_diff_the_client_cannot_patch_fails_the_call_and_every_read_after(
        conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/broken")

    with pytest.raises(RenderError, match="append"):
        await view.render_hook("break", {})

    with pytest.raises(RenderError, match="append"):
        view.render()


async def test_joining_a_topic_again_closes_the_first_instance(conn: Conn) -> None:
    page = await get_page(conn, "/lvt/counter")
    async with LiveClient(conn, page.csrf_token) as client:
        first, _ = await client.join(page)
        await first.element("#inc").render_click()

        second, html = await client.join(page)

        assert first.state == "closed" and "Count: 0" in html
        assert "Count: 1" in await second.element("#inc").render_click()


# -- lifetime -----------------------------------------------------------------------------------


async def test_closing_a_view_closes_the_socket_live_opened(conn: Conn) -> None:
    view, _ = await live(conn, "/lvt/counter")
    other, _ = await live(conn, "/lvt/nav", client=view.client)

    await other.close()
    assert view.client.connected and other.state == "closed"
    await view.close()

    assert not view.client.connected
    with pytest.raises(RuntimeError, match="closed"):
        await view.element("#inc").render_click()
    assert has_element(view, "h1", "Count: 0")  # the last page shown stays readable
