"""Live uploads over the socket, on the wire as the stock client speaks it: the form's change
registers the files, ``allow_upload`` gives each a token, ``lvu:<ref>`` takes the chunks,
``progress`` reports them, the submit consumes them; and every bad input refused."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

import pytest

from channels.client import JoinError
from hearth.testing import Conn
from live import LiveSocket, LiveView, NoReply, Ok, Template, assign
from live.router import LiveRouter, LiveSession
from live.router import live as live_route
from live.testing import View, live
from live.uploads import (
    allow_upload,
    consume_uploaded_entries,
    live_file_input,
    upload_errors,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 92  # 100 bytes that start as a PNG does
SAVED: list[bytes] = []


class DocsLive(LiveView):
    template = Template("""
      <main><form id="f" phx-change="validate" phx-submit="save">
        {live_file_input(@uploads.docs)}
        <p :for={e in @uploads.docs.entries} :key={e.ref} id={f"e-{e.ref}"}
           >{e.client_name} {e.progress} {"done" if e.done else ""} {",".join(e.errors)}</p>
        <p id="errors">{",".join(upload_errors(@uploads.docs))}</p>
      </form></main>
    """, globals={"live_file_input": live_file_input, "upload_errors": upload_errors})

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        timeout = int(params.get("timeout", "10000"))
        return Ok(allow_upload(socket, "docs", accept=[".png"], max_entries=2,
                               max_file_size=1000, chunk_size=50, chunk_timeout=timeout))

    async def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event == "save":
            def keep(meta: dict[str, Any], entry: Any) -> str:
                with open(meta["path"], "rb") as f:
                    SAVED.append(f.read())
                return str(meta["path"])

            assign(socket, consumed=await consume_uploaded_entries(socket, "docs", keep))
        return NoReply(socket)


ROUTER = LiveRouter([LiveSession("uploads", [live_route("/docs", DocsLive)])])
pytestmark = pytest.mark.hearth_config({"live.router": f"{__name__}:ROUTER"})


def input_of(view: View) -> Any:
    return view.document.select("input[type=file]")[0]


async def choose(view: View, *files: tuple[str, int]) -> dict[str, Any]:
    """The form's change event with ``files`` (name, declared size) chosen, as the client
    sends it; then the preflight, as on submit: its reply."""
    ref = input_of(view).get("data-phx-upload-ref")
    entries = [{"path": "docs", "ref": str(n), "name": name, "relative_path": "",
                "type": "image/png", "size": size, "last_modified": 1}
               for n, (name, size) in enumerate(files)]
    await view.push("event", {"type": "form", "event": "validate",
                              "value": urlencode({"_unused": ""}), "uploads": {ref: entries}})
    reply = await view.push("allow_upload", {"ref": ref, "entries": entries})
    assert reply.status == "ok", reply
    response: dict[str, Any] = reply.response
    return response


async def send(view: View, token: str, entry_ref: str, data: bytes, chunk: int = 50) -> list[Any]:
    """Join the entry's channel and push ``data`` in chunks; each chunk's reply."""
    channel = view.client.socket.channel(f"lvu:{entry_ref}", {"token": token})
    await channel.join()
    replies = []
    for i in range(0, len(data), chunk):
        replies.append(await channel.push("chunk", data[i:i + chunk]))
    return replies


async def test_a_file_goes_up_in_chunks_and_the_submit_consumes_it(conn: Conn) -> None:
    SAVED.clear()
    view, _ = await live(conn, "/docs")

    answer = await choose(view, ("a.png", len(PNG)))
    replies = await send(view, answer["entries"]["0"], "0", PNG)
    await view.push("progress", {"event": None, "ref": answer["ref"], "entry_ref": "0",
                                 "progress": 100})
    await view.wait_for(lambda _html: "done" in view.element("#e-0").text)
    await view.form("#f").render_submit()

    assert answer["config"] == {"chunk_size": 50, "chunk_timeout": 10000, "max_entries": 2,
                                "max_file_size": 1000}
    assert [r.status for r in replies] == ["ok", "ok"]
    assert SAVED == [PNG]
    assert not view.document.select("#e-0")
    assert input_of(view).get("data-phx-active-refs") == ""


async def test_more_bytes_than_declared_are_refused_and_nothing_stays(conn: Conn) -> None:
    view, _ = await live(conn, "/docs")
    answer = await choose(view, ("a.png", 60))

    replies = await send(view, answer["entries"]["0"], "0", PNG)

    assert replies[-1].status == "error"
    assert replies[-1].response == {"reason": "file_size_limit_exceeded", "limit": 1000}
    await view.wait_for(lambda _html: "file_size_limit_exceeded" in view.element("#e-0").text)


async def test_the_preflight_refuses_too_large_not_accepted_and_too_many(conn: Conn) -> None:
    view, _ = await live(conn, "/docs")

    answer = await choose(view, ("big.png", 5000), ("notes.txt", 10), ("a.png", 100),
                          ("b.png", 100))

    assert answer["errors"]["0"] == ["too_large"]
    assert answer["errors"]["1"] == ["not_accepted"]
    assert set(answer["entries"]) == {"2", "3"}
    assert view.element("#errors").text == "too_many_files"


async def test_a_png_name_on_other_bytes_is_not_accepted(conn: Conn) -> None:
    view, _ = await live(conn, "/docs")
    answer = await choose(view, ("a.png", 100))

    await send(view, answer["entries"]["0"], "0", b"<html>" + b"x" * 94)

    await view.wait_for(lambda _html: "not_accepted" in view.element("#e-0").text)


async def test_forged_reused_and_foreign_tokens_are_refused(
    conn: Conn, hearth_node: Any
) -> None:
    view, _ = await live(conn, "/docs")
    answer = await choose(view, ("a.png", 100))
    token = answer["entries"]["0"]

    with pytest.raises(JoinError, match="invalid_token"):
        await view.client.socket.channel("lvu:0", {"token": token[:-4] + "AAAA"}).join()
    await view.client.socket.channel("lvu:0", {"token": token}).join()
    # Used again (on the same socket a second join also ends the first one's upload).
    with pytest.raises(JoinError, match=r"already_registered|disallowed"):
        await view.client.socket.channel("lvu:0", {"token": token}).join()
    async with Conn(hearth_node) as other:
        view_b, _ = await live(other, "/docs")
        with pytest.raises(JoinError, match="invalid_token"):  # another browser session
            await view_b.client.socket.channel("lvu:0", {"token": token}).join()


async def test_an_abandoned_upload_times_out_and_its_file_is_removed(conn: Conn) -> None:
    view, _ = await live(conn, "/docs?timeout=200")
    answer = await choose(view, ("a.png", 100))
    await send(view, answer["entries"]["0"], "0", PNG[:50])

    await view.wait_for(lambda _html: "timeout" in view.element("#e-0").text, timeout=5)

    assert not [f for f in os.listdir(tmp_dir()) if f.startswith("hearth-upload-")
                and os.stat(os.path.join(tmp_dir(), f)).st_size == 50]


async def test_a_view_that_exits_mid_upload_leaves_no_temporary_file(conn: Conn) -> None:
    view, _ = await live(conn, "/docs")
    answer = await choose(view, ("a.png", 100))
    before = set(os.listdir(tmp_dir()))
    await send(view, answer["entries"]["0"], "0", PNG[:50])
    made = {f for f in set(os.listdir(tmp_dir())) - before if f.startswith("hearth-upload-")}
    assert made  # the half-written file exists

    await view.close()
    await view.client.close()
    await _until_gone(made)


def tmp_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


async def _until_gone(names: set[str]) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while names & set(os.listdir(tmp_dir())):
        assert loop.time() < deadline, f"still there: {names & set(os.listdir(tmp_dir()))}"
        await asyncio.sleep(0.01)  # polling the disk: there is no event to wait on


async def test_consume_uploaded_entry_takes_one_and_leaves_the_rest(conn: Conn) -> None:
    from live.testing._functions import _process_of  # the view's process, in this node
    from live.uploads import consume_uploaded_entry

    view, _ = await live(conn, "/docs")
    answer = await choose(view, ("a.png", len(PNG)), ("b.png", len(PNG)))
    for ref in ("0", "1"):
        await send(view, answer["entries"][ref], ref, PNG)
    await view.wait_for(lambda _html: "done" in view.element("#e-1").text)
    socket = _process_of(view).live.socket
    first = socket.assigns["uploads"].docs.entries[0]

    path = await consume_uploaded_entry(socket, first, lambda meta, entry: meta["path"])

    assert os.path.basename(path) not in os.listdir(os.path.dirname(path))  # removed
    assert [e.client_name for e in socket.assigns["uploads"].docs.entries] == ["b.png"]
