"""Async work (assign_async, start_async) and live components, through the LiveViewTest:
loading, ok, failed, superseded, cancelled, work that dies or outlives its view, and
component instances that keep to themselves."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import otp
from hearth.testing import Conn
from live import (
    LiveSocket,
    LiveView,
    NoReply,
    Ok,
    Template,
    assign,
    assign_async,
    cancel_async,
    start_async,
    update,
)
from live.components import LiveComponent, live_component, send_update
from live.router import LiveRouter, LiveSession
from live.router import live as live_route
from live.testing import live, render_async

# -- async work -----------------------------------------------------------------------------------


class Gates:
    """What the test releases, and the tasks' pids, per test (reset by a fixture)."""

    def __init__(self) -> None:
        self.load = asyncio.Event()
        self.first = asyncio.Event()
        self.pids: list[otp.Pid] = []
        self.blocking = threading.Event()


GATES = Gates()


@pytest.fixture(autouse=True)
def _gates() -> None:
    global GATES
    GATES = Gates()


async def load_ok() -> dict[str, Any]:
    GATES.pids.append(otp.self())
    await GATES.load.wait()
    return {"total": 42, "label": "answers"}


async def load_raises() -> dict[str, Any]:
    raise RuntimeError("the store is down")


async def load_error() -> tuple[str, str]:
    return ("error", "no figures today")


async def load_forever() -> dict[str, Any]:
    GATES.pids.append(otp.self())
    await asyncio.Event().wait()
    return {}


def load_blocking() -> dict[str, Any]:
    GATES.blocking.wait(10)
    return {"total": 7, "label": "dirty"}


LOADERS = {"ok": load_ok, "raises": load_raises, "error": load_error,
           "forever": load_forever, "blocking": load_blocking}


class LoadLive(LiveView):
    template = Template("""
      <main>
        <p id="total" :if={@total.loading}>Loading…</p>
        <p id="total" :if={@total.ok}>{@total.result} {@label.result}</p>
        <p id="failed" :if={@total.failed is not None}>failed: {repr(@total.failed)}</p>
        <p id="clicks">{@clicks}</p>
        <button id="click" phx-click="click">click</button>
      </main>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        kind = params["kind"]
        assign(socket, clicks=0)
        assign_async(socket, ["total", "label"], LOADERS[kind], dirty=kind == "blocking")
        return Ok(socket)

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        return NoReply(update(socket, "clicks", lambda n: n + 1))


async def search_first() -> str:
    GATES.pids.append(otp.self())
    await GATES.first.wait()
    return "first"


async def search_second() -> str:
    return "second"


class SearchLive(LiveView):
    template = Template("""
      <main><p id="result">{@result}</p>
        <button id="first" phx-click="first">1</button>
        <button id="second" phx-click="second">2</button>
        <button id="cancel" phx-click="cancel">x</button></main>
    """)

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(assign(socket, result="none"))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event == "cancel":
            return NoReply(cancel_async(socket, "search", "user cancelled"))
        fn = search_first if event == "first" else search_second
        return NoReply(start_async(socket, "search", fn))

    def handle_async(self, name: Any, result: tuple[str, Any], socket: LiveSocket) -> Any:
        return NoReply(assign(socket, result=f"{name}: {result[0]} {result[1]}"))


# -- components -----------------------------------------------------------------------------------


class Counter(LiveComponent):
    template = Template("""
      <div class="counter" id={@id}><span class="n">{@n}</span> <span>{@label}</span>
        <button phx-click="inc" phx-target={@myself}>+</button></div>
    """)

    def mount(self, socket: LiveSocket) -> Any:
        return Ok(assign(socket, n=0))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        return NoReply(update(socket, "n", lambda n: n + 1))


BATCHES: list[list[str]] = []


class Badge(LiveComponent):
    """Loads what all its instances of a render need at once, as a query would."""

    template = Template('<span class="badge" id={@id}>{@text}</span>')

    def update_many(self, batch: list[tuple[dict[str, Any], LiveSocket]]) -> list[LiveSocket]:
        BATCHES.append([assigns["id"] for assigns, _ in batch])
        return [assign(socket, assigns, text=assigns["id"].upper())
                for assigns, socket in batch]


class BadgesLive(LiveView):
    template = Template("""
      <main><b :for={name in ["ann", "bob", "cat"]}>{live_component(Badge, id=name)}</b></main>
    """, globals={"live_component": live_component, "Badge": Badge})


class TwoRoots(LiveComponent):
    template = Template("<p>one</p><p>two</p>")


class CountersLive(LiveView):
    template = Template("""
      <main>
        {live_component(Counter, id="a", label=@label)}
        {live_component(Counter, id="b", label=@label) if @show_b else ""}
        <button id="toggle" phx-click="toggle">toggle</button>
        <button id="relabel" phx-click="relabel">relabel</button>
        <button id="reset-a" phx-click="reset_a">reset a</button>
      </main>
    """, globals={"live_component": live_component, "Counter": Counter})

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(assign(socket, label="clicks", show_b=True))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event == "toggle":
            return NoReply(assign(socket, show_b=not socket.assigns["show_b"]))
        if event == "relabel":
            return NoReply(assign(socket, label="taps"))
        send_update(Counter, "a", n=100)
        return NoReply(socket)


class BrokenLive(LiveView):
    template = Template("<main>{live_component(TwoRoots, id=1)}</main>",
                        globals={"live_component": live_component, "TwoRoots": TwoRoots})


ROUTER = LiveRouter([LiveSession("tests", [
    live_route("/load/{kind}", LoadLive),
    live_route("/search", SearchLive),
    live_route("/counters", CountersLive),
    live_route("/broken", BrokenLive),
    live_route("/badges", BadgesLive),
])])

pytestmark = pytest.mark.hearth_config({"live.router": f"{__name__}:ROUTER"})


# -- the tests: async work -------------------------------------------------------------------------


async def test_assign_async_shows_loading_then_the_result(conn: Conn) -> None:
    view, html = await live(conn, "/load/ok")
    assert "Loading…" in html

    GATES.load.set()
    html = await render_async(view)

    assert view.element("#total").text == "42 answers"


async def test_events_are_answered_while_a_load_runs(conn: Conn) -> None:
    view, _ = await live(conn, "/load/ok")

    await view.element("#click").render_click()

    assert view.element("#clicks").text == "1" and view.has_element("#total", "Loading")
    GATES.load.set()
    await render_async(view)
    assert view.element("#total").text == "42 answers"


@pytest.mark.parametrize(("kind", "shown"), [
    ("raises", "failed: RuntimeError('the store is down')"),
    ("error", "failed: 'no figures today'"),
])
async def test_a_load_that_fails_says_why(conn: Conn, kind: str, shown: str) -> None:
    view, _ = await live(conn, f"/load/{kind}")

    await render_async(view)

    assert view.element("#failed").text == shown
    assert not view.has_element("#total")


async def test_a_load_whose_task_dies_fails_with_its_exit(conn: Conn) -> None:
    view, _ = await live(conn, "/load/forever")
    await view.wait_for(lambda _html: bool(GATES.pids))

    otp.exit(GATES.pids[0], "kill")
    await render_async(view)

    assert view.element("#failed").text == "failed: ('exit', 'killed')"


async def test_blocking_work_on_the_dirty_pool_leaves_the_view_answering(conn: Conn) -> None:
    view, _ = await live(conn, "/load/blocking")

    await view.element("#click").render_click()  # the load blocks a dirty thread meanwhile
    assert view.element("#clicks").text == "1"
    GATES.blocking.set()
    await render_async(view)

    assert view.element("#total").text == "7 dirty"


async def test_a_view_that_exits_takes_its_tasks_with_it(conn: Conn) -> None:
    view, _ = await live(conn, "/load/forever")
    await view.wait_for(lambda _html: bool(GATES.pids))
    task = GATES.pids[0]
    ref = otp.monitor(task)

    await view.close()

    down = await otp.receive(timeout=5, match=lambda m: type(m) is otp.Down and m.ref == ref)
    assert down.pid == task


async def test_start_async_superseded_drops_the_late_result(conn: Conn) -> None:
    view, _ = await live(conn, "/search")
    await view.element("#first").render_click()
    await view.wait_for(lambda _html: bool(GATES.pids))

    await view.element("#second").render_click()
    await render_async(view)
    assert view.element("#result").text == "search: ok second"
    assert not otp.is_alive(GATES.pids[0])  # superseded: stopped, its result never comes

    GATES.first.set()
    await view.element("#second").render_click()
    await render_async(view)
    assert view.element("#result").text == "search: ok second"


async def test_cancel_async_tells_handle_async(conn: Conn) -> None:
    view, _ = await live(conn, "/search")
    await view.element("#first").render_click()

    await view.element("#cancel").render_click()

    assert view.element("#result").text == "search: exit user cancelled"


# -- the tests: components ------------------------------------------------------------------------


async def test_each_instance_keeps_its_own_state_and_sends_only_its_diff(conn: Conn) -> None:
    view, _ = await live(conn, "/counters")
    cids = [int(el.get("data-phx-component")) for el in view.document.select(".counter")]
    assert len(set(cids)) == 2

    await view.element("#a button").render_click()
    await view.element("#a button").render_click()
    reply = await view.push("event", {"type": "click", "event": "inc", "value": {},
                                      "cid": cids[1]})

    assert reply.response == {"diff": {"c": {str(cids[1]): {"1": "1"}}}}  # its count only
    assert [el.text for el in view.document.select(".n")] == ["2", "1"]
    await view.element("#relabel").render_click()  # the parent changes what both get
    assert view.document.select(".counter span")[1].text == "taps"
    assert [el.text for el in view.document.select(".n")] == ["2", "1"]


async def test_send_update_reaches_one_instance(conn: Conn) -> None:
    view, _ = await live(conn, "/counters")

    await view.element("#reset-a").render_click()
    await view.wait_for(lambda _html: view.element("#a .n").text == "100")

    assert view.element("#b .n").text == "0"


async def test_an_instance_removed_from_the_page_is_forgotten_after_the_handshake(
    conn: Conn,
) -> None:
    view, _ = await live(conn, "/counters")
    b = int(view.element("#b").find().get("data-phx-component"))
    await view.element("#b button").render_click()

    # Gone from the page: the client (here the LiveViewTest, as phoenix_live_view does) sends
    # cids_will_destroy and cids_destroyed, and the view forgets the instance.
    await view.element("#toggle").render_click()
    assert not view.has_element("#b")
    await view.element("#toggle").render_click()

    again = int(view.element("#b").find().get("data-phx-component"))
    assert again != b  # a new instance, a new cid: never reused
    assert view.element("#b .n").text == "0"


async def test_an_instance_rendered_again_before_it_is_destroyed_is_kept(conn: Conn) -> None:
    view, _ = await live(conn, "/counters")
    b = int(view.element("#b").find().get("data-phx-component"))
    await view.push("cids_will_destroy", {"cids": [b]})

    await view.element("#relabel").render_click()  # the view renders it again meanwhile
    destroyed = await view.push("cids_destroyed", {"cids": [b]})

    assert destroyed.response == {"cids": []}
    await view.element("#b button").render_click()
    assert int(view.element("#b").find().get("data-phx-component")) == b
    assert view.element("#b .n").text == "1"


async def test_update_many_updates_the_instances_of_a_render_at_once(conn: Conn) -> None:
    BATCHES.clear()

    view, _ = await live(conn, "/badges")

    assert [el.text for el in view.document.select(".badge")] == ["ANN", "BOB", "CAT"]
    assert BATCHES == [["ann", "bob", "cat"], ["ann", "bob", "cat"]]  # HTTP render, join


async def test_a_component_with_two_roots_is_refused(
    conn: Conn, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AssertionError, match="GET /broken: status 500"):
        await live(conn, "/broken")

    assert "TwoRoots must render exactly one root element" in caplog.text
