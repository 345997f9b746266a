"""Live pages: Hearth's ``/counter`` beside pyview's, in one run.

Run: ``.venv/bin/python bench/live.py`` (about three minutes; ``--quick`` for 1,000
views and one short click window, its report and plot going to a temporary folder instead of
BENCHMARKS.md and bench/plots/).

Two servers, each alone in its own process, alive side by side for the run and driven by the
same load generator:

- **hearth**: ``hearth serve`` on a temporary database and config (no demo data, no access
  log, log level warning; every other setting as shipped), serving the application's own
  ``/counter`` (``web/live/counter.py``);
- **pyview**: pyview (PyPI ``pyview-web``, installed into ``bench/.venv-peers`` from
  ``bench/peers/requirements-live.txt``) serving the same counter,
  ``bench/peers/pyview_counter.py``, with uvicorn (uvloop, httptools, its default WebSocket
  implementation, no access log).

The load generator is ``--workers`` processes (4), each an asyncio loop of aiohttp clients,
so the server's process is measured alone. A client is one browser tab: its own cookie jar,
``GET`` of the page (the dead render), the CSRF meta tag, the container's id and
``data-phx-session`` read from it, a WebSocket to ``/live/websocket?_csrf_token=...&vsn=2.0.0``
with the jar's cookies (no permessage-deflate, which Hearth does not offer), ``phx_join`` of
``lv:<id>``, a heartbeat every 30 s as phoenix.js sends, and a reader that answers the
server's pings. Each worker binds its own loopback source address.

Figures, per server:

- **RSS per connected view**: (the server's VmRSS with N views joined - VmRSS before) / N, at
  1,000 and 10,000 views (``--quick``: 1,000), after 100 warm-up views opened and closed and
  once the server's CPU has gone quiet. No collection is forced in either server: both run as
  a user starts them;
- **bytes per click**: the reply frame to one ``inc`` on a fresh view (count 0 -> 1), its
  payload as sent and on the wire (with the WebSocket header), and the diff inside it as
  sent, against Phoenix's ``{"0":"1"}``;
- **click round trips per second**: 1,000 views each with one click in flight (``inc`` and
  ``dec`` in turn, the next once the reply is in), counted over windows that alternate
  between the servers (4 of 2.5 s each; ``--quick``: 1 of 2 s) after a 1 s warm-up; the
  server's CPU per click and the load generator's CPU beside it.

And Hearth alone, in this process, the rounds of the two sizes taking turns:

- the render+diff CPU time of one stream insert on a ``PostsLive`` page
  (``web/live/posts.py``'s template) holding 10 items and 10,000 items;
- one click in one live component on a page of 1 and of 100 (``CountersLive`` and
  ``CounterComponent`` below): the instance's ``handle_event`` and
  ``live.components.render_view(..., only=[instance])``, as ``LiveChannel`` answers a
  component's own event, in CPU time, and the bytes of its diff and reply frame.
  ``--in-process`` runs only these two and prints them.

Then uploads (issue 16), once the two counter servers are stopped, with the same load
generator; a file of 50,000,000 random bytes:

- **upload throughput**: the file sent over the live socket to ``/bench/upload``
  (``bench/peers/hearth_uploads.py``: ``/profile/edit`` without the sign-in, any file up to
  64 MB, the default chunk size of 64,000 bytes) on ``hearth serve`` started as above with
  its live routes from that module (``[live] router``) and ``[channels]`` ``event_rate`` and
  ``event_burst`` lifted, against one multipart ``POST`` of it to a bare aiohttp handler that
  writes it to disk (``bench/peers/aiohttp_upload.py``), 5 runs each (``--quick``: 1) after
  one dropped, the servers taking turns, what a run wrote removed and the page cache written
  out (``sync``) before the next: MB/s, the server's CPU per upload. A live upload is
  what phoenix_live_view's client sends (:class:`UploadTab`): the form's change event with
  ``uploads``, the ``allow_upload`` preflight, ``phx_join`` of ``lvu:0`` with the entry's
  token, binary ``chunk`` pushes one at a time, a ``progress`` push after each chunk that
  raises the whole percent, then the submit, whose reply says the bytes the server counted;
- **RSS with five uploads at once**: the server's VmRSS read every 10 ms while five such
  uploads run, each from its own tab, against its RSS idle just before, for both servers;
  held to 10 times the chunk size times five;
- **as shipped**: one upload of ``/profile/edit``'s largest file (10 MB) and one of 50 MB to
  Hearth with ``[channels]`` as shipped (the socket's event rate); taken, or the chunk where
  it was refused. ``--uploads`` runs only these and prints them.

The run writes the generated part of BENCHMARKS.md's "Live pages" section (between its
markers, nothing else), ``bench/plots/live.png``, and ends with one machine-readable summary
line.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import hashlib
import html
import json
import math
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection, wait
from typing import Any

# The project first: ``live`` is its package, not this file.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aiohttp
import orjson
import uvloop

from channels.serializer import Message, encode, ws_frame
from live import LiveSocket, LiveView, NoReply, Ok, Template, assign, stream, stream_insert, update
from live.channel import new_view_id
from live.components import Components, LiveComponent, live_component, render_view
from live.diff import render
from web.live.posts import PostsLive
from web.live.profile import MAX_BYTES as PROFILE_MAX_BYTES

# isort: split
# After the project's imports: run_all puts bench/ (where this file is) first on sys.path.
from run_all import PEERS_PYTHON, PEERS_VENV, cpu_seconds, ensure_peers_venv, free_port, rss_kb

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
HEARTH = os.path.join(ROOT, ".venv", "bin", "hearth")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
PEERS = os.path.join(BENCH, "peers")
LIVE_REQUIREMENTS = os.path.join(PEERS, "requirements-live.txt")
PLOTS = os.path.join(BENCH, "plots")
BENCHMARKS_MD = os.path.join(ROOT, "BENCHMARKS.md")
SECTION = "## Live pages (`bench/live.py`)"
BEGIN = "<!-- live.py: generated from here -->"
END = "<!-- live.py: generated up to here -->"
HOST = "127.0.0.1"
PATH = "/counter"
TIMES = "\N{MULTIPLICATION SIGN}"

PHOENIX_DIFF = '{"0":"1"}'
"""What Phoenix LiveView answers the counter's first click with, inside the reply."""
WARM_VIEWS = 100
CLICKERS = 1_000
OPENING = 16  # views being opened at once, per worker
HEARTBEAT_S = 30.0  # phoenix.js default
SETTLE_S = 15.0  # at most this long for a server's CPU to go quiet before its RSS is read

GOAL_KB = 30.0
GOAL_CLICKS = 3.0
GOAL_STREAM = 1.2  # "the same": the 10,000-item insert within this factor of the 10-item one
GOAL_COMPONENTS = 1.2  # "the same": a click among 100 components within this factor of 1's

CONFIG = """\
[node]
log_level = "warning"

[server]
host = "{host}"
port = {port}
access_log = false

[database]
path = "{db}"

[auth]
bcrypt_cost = 4

[demo]
seed = false
"""

UPLOAD_PATH = "/bench/upload"
UPLOAD_REF = re.compile(r'data-phx-upload-ref=\\"([^"\\]+)\\"')
"""The upload's ref in a join reply's JSON (the rendered file input's attribute)."""
UPLOAD_BYTES = 50_000_000
UPLOADS_AT_ONCE = 5
UPLOAD_ROUNDS = 5
GOAL_UPLOAD_RSS = 10  # the growth with five uploads at most this many chunks per upload

UPLOAD_CONFIG = """
[live]
router = "hearth_uploads:ROUTER"
"""
UNLIMITED = """
[channels]
event_rate = 1000000.0
event_burst = 1000000
"""
"""The socket's event rate lifted, so the figures do not hang on it: before 4a1b213 every chunk
and ``progress`` push spent a token of it, and the shipped limits (50 a second, bursts of 200)
refused a 10 MB upload; ``shipped`` in :func:`uploads` checks them."""

KINDS = {"hearth": "Hearth", "pyview": "pyview", "aiohttp": "aiohttp"}


# -- the load generator (worker processes) -------------------------------------------------------


def page_info(text: str) -> tuple[str, str, str]:
    """The CSRF meta tag, the container's id and its ``data-phx-session`` from a page."""
    csrf = re.search(r'<meta name="csrf-token" content="([^"]*)"', text)
    tag = re.search(r"<div([^>]*\bdata-phx-main\b[^>]*)>", text)
    if csrf is None or tag is None:
        raise RuntimeError("the page has no csrf-token meta tag or no live container")
    view_id = re.search(r'\bid="([^"]+)"', tag.group(1))
    session = re.search(r'\bdata-phx-session="([^"]*)"', tag.group(1))
    if view_id is None or session is None:
        raise RuntimeError("the live container has no id or no data-phx-session")
    return html.unescape(csrf.group(1)), view_id.group(1), html.unescape(session.group(1))


class View:
    """One browser tab on the page: a cookie jar, a WebSocket joined to ``lv:<id>``, and the
    reply it waits for (one push in flight at a time)."""

    __slots__ = ("closed", "http", "join_bytes", "reader", "ref", "topic", "waiting", "want",
                 "ws")

    def __init__(self) -> None:
        self.http: Any = None
        self.ws: Any = None
        self.topic = ""
        self.ref = 1
        self.want = ""
        self.waiting: asyncio.Future[str] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.closed = False
        self.join_bytes = 0

    async def open(self, connector: Any, base: str) -> None:
        self.http = aiohttp.ClientSession(connector=connector, connector_owner=False,
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with self.http.get(base + PATH) as r:
            text = await r.text()
            if r.status != 200:
                raise RuntimeError(f"GET {PATH}: {r.status}")
        csrf, view_id, session = page_info(text)
        self.ws = await self.http.ws_connect(
            base + "/live/websocket", params={"_csrf_token": csrf, "vsn": "2.0.0"},
            compress=0, autoping=True)
        self.topic = f"lv:{view_id}"
        await self.ws.send_str(orjson.dumps(["1", "1", self.topic, "phx_join", {
            "url": base + PATH, "params": {"_csrf_token": csrf, "_mounts": 0},
            "session": session, "static": None}]).decode())
        msg = await self.ws.receive(timeout=60)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"join: {msg.type.name} {msg.data!r}")
        reply = orjson.loads(msg.data)
        if reply[3] != "phx_reply" or reply[4].get("status") != "ok":
            raise RuntimeError(f"join refused: {msg.data[:200]}")
        self.join_bytes = len(msg.data.encode())
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        try:
            async for msg in self.ws:  # pings are answered inside aiohttp's receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    waiting = self.waiting
                    if waiting is not None and not waiting.done() \
                            and orjson.loads(msg.data)[1] == self.want:
                        waiting.set_result(msg.data)
        finally:
            self.closed = True
            if self.waiting is not None and not self.waiting.done():
                self.waiting.set_exception(ConnectionError("the view's socket closed"))

    async def push(self, event: str, payload: Any) -> str:
        """Send one push on the view's topic and wait for its reply (the frame's text)."""
        self.ref += 1
        self.want = str(self.ref)
        self.waiting = asyncio.get_running_loop().create_future()
        await self.ws.send_str(orjson.dumps(["1", self.want, self.topic, event,
                                             payload]).decode())
        return await self.waiting

    async def click(self, name: str) -> str:
        return await self.push("event", {"type": "click", "event": name, "value": {}})

    async def heartbeat(self, ref: str) -> None:
        if not self.closed:
            await self.ws.send_str(f'[null,"{ref}","phoenix","heartbeat",{{}}]')

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader
        if self.http is not None:
            await self.http.close()


class UploadTab:
    """One browser tab on the upload page sending one file, as phoenix_live_view's client
    does: the form's change event names the file, ``allow_upload`` gives it a token,
    ``lvu:0`` is joined with it, the file goes as binary ``chunk`` pushes of the preflight's
    ``chunk_size`` (one in flight, the next once the last is acknowledged), each chunk that
    raises the whole percent is followed by a ``progress`` push on the view's topic (not
    waited for, as the client does not), and the form's submit ends it."""

    def __init__(self) -> None:
        self.ws: Any = None
        self.ref = 0
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    _join_ref, ref, topic, event, payload = orjson.loads(msg.data)
                    waiting = self.replies.pop(ref, None) if event == "phx_reply" else None
                    if waiting is not None and not waiting.done():
                        waiting.set_result(payload)
                    elif event == "phx_error":  # a channel crashed: nothing will answer
                        self.fail(ConnectionError(f"{topic} crashed"))
        finally:
            self.fail(ConnectionError("the upload's socket closed"))

    def fail(self, error: Exception) -> None:
        """Every push still waiting for its reply gets ``error`` (and a ``progress`` push
        nobody awaits after a refusal says nothing about it: ``exception()`` marks it seen)."""
        for waiting in self.replies.values():
            if not waiting.done():
                waiting.set_exception(error)
                waiting.exception()

    async def send(self, join_ref: str | None, topic: str, event: str,
                   payload: Any) -> asyncio.Future[dict[str, Any]]:
        """One push (a binary frame for bytes: protocol.md §1.2); its reply, to wait for.
        ``join_ref`` None: the push is a join, its own ref the channel's join ref."""
        self.ref += 1
        ref = str(self.ref)
        join_ref = ref if join_ref is None else join_ref
        waiting = self.replies[ref] = asyncio.get_running_loop().create_future()
        if isinstance(payload, bytes):
            parts = [s.encode() for s in (join_ref, ref, topic, event)]
            await self.ws.send_bytes(bytes((0, *map(len, parts))) + b"".join(parts) + payload)
        else:
            await self.ws.send_str(orjson.dumps([join_ref, ref, topic, event,
                                                 payload]).decode())
        return waiting

    async def call(self, join_ref: str | None, topic: str, event: str,
                   payload: Any) -> dict[str, Any]:
        """One push and its reply's response; an error reply raises."""
        reply = await asyncio.wait_for(await self.send(join_ref, topic, event, payload), 60)
        if reply.get("status") != "ok":
            raise RuntimeError(f"{event} on {topic}: {reply}"[:300])
        response: dict[str, Any] = reply.get("response") or {}
        return response

    async def upload(self, connector: Any, base: str, path: str, size: int) -> dict[str, Any]:
        """The file at ``path`` (``size`` bytes) sent; its timings, or where it was refused
        (``refused``: the chunk, the chunks it needed, the server's reason)."""
        async with aiohttp.ClientSession(connector=connector, connector_owner=False,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(base + UPLOAD_PATH) as r:
                text = await r.text()
                if r.status != 200:
                    raise RuntimeError(f"GET {UPLOAD_PATH}: {r.status}")
            csrf, view_id, session = page_info(text)
            self.ws = await http.ws_connect(
                base + "/live/websocket", params={"_csrf_token": csrf, "vsn": "2.0.0"},
                compress=0, autoping=True, max_msg_size=0)
            reader = asyncio.get_running_loop().create_task(self.read())
            try:
                return await self._upload(base, view_id, csrf, session, path, size)
            finally:
                await self.ws.close()
                await asyncio.gather(reader, return_exceptions=True)

    async def _upload(self, base: str, view_id: str, csrf: str, session: str, path: str,
                      size: int) -> dict[str, Any]:
        lv = f"lv:{view_id}"
        joined = await self.call(None, lv, "phx_join", {
            "url": base + UPLOAD_PATH, "params": {"_csrf_token": csrf, "_mounts": 0},
            "session": session, "static": None})
        lv_ref = str(self.ref)
        found = UPLOAD_REF.search(orjson.dumps(joined).decode())
        if found is None:
            raise RuntimeError("the joined page has no live file input")
        upload_ref = found.group(1)
        entry = {"path": "file", "ref": "0", "name": "bench.bin", "relative_path": "",
                 "type": "application/octet-stream", "size": size, "last_modified": 1}
        t0 = time.perf_counter()
        await self.call(lv_ref, lv, "event", {
            "type": "form", "event": "validate", "value": "", "meta": {"_target": "file"},
            "uploads": {upload_ref: [entry]}})
        preflight = await self.call(lv_ref, lv, "allow_upload",
                                    {"ref": upload_ref, "entries": [entry]})
        if "0" not in preflight.get("entries", {}):
            raise RuntimeError(f"the preflight refused the file: {preflight}"[:300])
        chunk_size = preflight["config"]["chunk_size"]
        await self.call(None, "lvu:0", "phx_join", {"token": preflight["entries"]["0"]})
        lvu_ref = str(self.ref)
        t1 = time.perf_counter()
        sent = percent = chunks = 0
        progress = []
        # Read as a browser reads a file's slices: here from the page cache, the client's
        # cost kept as small as it can be.
        with open(path, "rb") as f:  # noqa: ASYNC230
            while data := f.read(chunk_size):
                reply = await asyncio.wait_for(
                    await self.send(lvu_ref, "lvu:0", "chunk", data), 60)
                if reply.get("status") != "ok":
                    return {"bytes": size, "refused": {
                        "chunk": chunks + 1, "chunks": -(-size // chunk_size),
                        "chunk_size": chunk_size, "reply": reply.get("response")}}
                sent += len(data)
                chunks += 1
                if sent * 100 // size > percent:
                    percent = sent * 100 // size
                    progress.append(await self.send(lv_ref, lv, "progress", {
                        "event": None, "ref": upload_ref, "entry_ref": "0",
                        "progress": percent}))
        t2 = time.perf_counter()
        for reply in await asyncio.wait_for(asyncio.gather(*progress), 60):
            if reply.get("status") != "ok":
                raise RuntimeError(f"progress: {reply}"[:300])
        saved = await self.call(lv_ref, lv, "event",
                                {"type": "form", "event": "save", "value": ""})
        took = time.perf_counter() - t0
        counted = saved.get("diff", {}).get("r", {}).get("saved")
        if counted != [size]:
            raise RuntimeError(f"the submit consumed {counted!r}, not one file of {size} bytes")
        return {"bytes": size, "seconds": took, "chunk_seconds": t2 - t1, "chunks": chunks,
                "chunk_size": chunk_size, "progress_pushes": len(progress)}


async def plain_upload(connector: Any, base: str, path: str, size: int) -> dict[str, Any]:
    """The same file as one multipart ``POST`` to the bare aiohttp handler."""
    async with aiohttp.ClientSession(connector=connector, connector_owner=False) as http:
        with open(path, "rb") as f:  # noqa: ASYNC230 (aiohttp reads it on its executor)
            form = aiohttp.FormData()
            form.add_field("file", f, filename="bench.bin",
                           content_type="application/octet-stream")
            t0 = time.perf_counter()
            async with http.post(base + "/upload", data=form) as r:
                answer = await r.json()
            took = time.perf_counter() - t0
    if r.status != 200 or answer.get("size") != size:
        raise RuntimeError(f"POST /upload: {r.status} {answer}"[:300])
    return {"bytes": size, "seconds": took}


class Worker:
    """A load-generator process: the views it holds per server, its commands on a pipe."""

    def __init__(self, pipe: Connection, source: str) -> None:
        self.pipe = pipe
        # force_close: the page's GET does not leave a keep-alive connection on the server.
        self.connector = aiohttp.TCPConnector(limit=0, force_close=True,
                                              local_addr=(source, 0))
        self.views: dict[str, list[View]] = {}
        self.done = asyncio.get_running_loop().create_future()
        self.beats = 0

    async def cmd_open(self, kind: str, base: str, count: int) -> tuple[Any, ...]:
        gate = asyncio.Semaphore(OPENING)
        opened: list[View] = []
        errors: list[str] = []

        async def one() -> None:
            async with gate:
                view = View()
                try:
                    await asyncio.wait_for(view.open(self.connector, base), 60)
                    opened.append(view)
                except Exception as e:  # counted and shown: a failed view is a figure
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                    try:
                        await view.close()
                    except Exception:
                        pass

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        took = time.perf_counter() - t0
        self.views.setdefault(kind, []).extend(opened)
        join_bytes = opened[0].join_bytes if opened else 0
        return ("opened", len(opened), len(errors), errors[:3], join_bytes, took)

    async def cmd_close(self, kind: str, keep: int) -> tuple[Any, ...]:
        views = self.views.get(kind, [])
        going, self.views[kind] = views[keep:], views[:keep]
        await asyncio.gather(*(v.close() for v in going), return_exceptions=True)
        return ("closed", len(going))

    async def cmd_probe(self, kind: str) -> tuple[Any, ...]:
        """One ``inc`` on a view that has had none (count 0 -> 1), then a ``dec`` back."""
        view = self.views[kind][0]
        frame = await view.click("inc")
        await view.click("dec")
        return ("probed", frame)

    async def cmd_click(self, kind: str, count: int, start: float, seconds: float
                        ) -> tuple[Any, ...]:
        """``count`` views each keep one click in flight from wall-clock ``start`` for
        ``seconds``; replies received inside the window are counted."""
        end = start + seconds
        lat = array.array("q")
        got = [0, 0]  # replies, their bytes
        errors: list[str] = []

        async def loop(view: View) -> None:
            await asyncio.sleep(max(0.0, start - time.time()))
            names = ("inc", "dec")
            n = 0
            try:
                while time.time() < end:
                    t0 = time.perf_counter_ns()
                    frame = await view.click(names[n & 1])
                    t1 = time.perf_counter_ns()
                    n += 1
                    if time.time() <= end:
                        got[0] += 1
                        got[1] += len(frame)
                        lat.append(t1 - t0)
                if n & 1:  # back to 0, so the next window's frames are the same size
                    await view.click("dec")
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}"[:200])

        views = self.views[kind][:count]
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        try:
            await asyncio.wait_for(asyncio.gather(*(loop(v) for v in views)),
                                   max(0.0, end - time.time()) + 60)
        except TimeoutError:
            errors.append("clicks still unanswered 60 s after the window")
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        return ("clicked", got[0], got[1], lat.tobytes(), errors[:3], len(errors), cpu)

    async def cmd_upload(self, kind: str, base: str, path: str, size: int, count: int
                         ) -> tuple[Any, ...]:
        """``count`` uploads of the file at ``path`` at once, each from a tab of its own: over
        the live socket (``hearth``) or as one multipart ``POST`` (``aiohttp``)."""
        errors: list[str] = []

        async def one() -> dict[str, Any] | None:
            try:
                if kind == "aiohttp":
                    return await plain_upload(self.connector, base, path, size)
                return await UploadTab().upload(self.connector, base, path, size)
            except Exception as e:  # counted and shown: a failed upload is a figure
                errors.append(f"{type(e).__name__}: {e}"[:300])
                return None

        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        done = await asyncio.gather(*(one() for _ in range(count)))
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        return ("uploaded", [d for d in done if d is not None], errors[:3], len(errors), cpu)

    async def heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            self.beats += 1
            for views in list(self.views.values()):
                for v in list(views):
                    try:
                        await v.heartbeat(f"h{self.beats}")
                    except Exception:
                        pass

    async def serve(self, cmd: tuple[Any, ...]) -> None:
        name, *args = cmd
        if name == "quit":
            self.done.set_result(None)
            return
        reply = await getattr(self, f"cmd_{name}")(*args)
        self.pipe.send(reply)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        beating = loop.create_task(self.heartbeats())
        tasks: set[asyncio.Task[None]] = set()

        def readable() -> None:
            while self.pipe.poll():
                try:
                    cmd = self.pipe.recv()
                except EOFError:
                    cmd = ("quit",)
                task = loop.create_task(self.serve(cmd))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                if cmd[0] == "quit":
                    loop.remove_reader(self.pipe.fileno())
                    return

        loop.add_reader(self.pipe.fileno(), readable)
        await self.done
        beating.cancel()
        os._exit(0)  # the views need no goodbye: their servers are stopped next


def worker_main(pipe: Connection, source: str) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def main() -> None:
        await Worker(pipe, source).run()

    uvloop.run(main())


class Load:
    """The worker processes, driven from here one command each at a time."""

    def __init__(self, n: int) -> None:
        ctx = mp.get_context("fork")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        self.pids: list[int] = []
        for i in range(n):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(there, f"127.0.0.{2 + i}"),
                               daemon=True)
            proc.start()
            self.pipes.append(here)
            self.procs.append(proc)
            self.pids.append(proc.pid)

    def all(self, cmds: list[tuple[Any, ...]], timeout: float = 900) -> list[tuple[Any, ...]]:
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            pipe.send(cmd)
        out = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError(f"a worker did not answer {cmds[0][0]!r} in {timeout} s")
            out.append(pipe.recv())
        return out

    def stop(self) -> None:
        for p in self.pipes:
            try:
                p.send(("quit",))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# -- the servers ---------------------------------------------------------------------------------


class Server:
    """One server process on a free port; ``base`` is its URL, ``pid`` the measured process."""

    key = ""
    proc: subprocess.Popen[Any]
    pid: int
    base: str

    def __init__(self) -> None:
        self.out: dict[str, Any] = {"label": KINDS[self.key], "views": 0, "failed": 0,
                                    "errors": [], "open_s": 0.0}

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def settle(self) -> None:
        """Wait (at most SETTLE_S) until the server burns no CPU."""
        deadline = time.monotonic() + SETTLE_S
        before = self.cpu()
        time.sleep(0.5)
        while time.monotonic() < deadline:
            time.sleep(0.25)
            after = self.cpu()
            if after - before < 0.01:
                return
            before = after

    def stop(self) -> None:
        raise NotImplementedError


class Hearth(Server):
    """``hearth serve`` on a temporary config and database."""

    key = "hearth"

    def __init__(self, tmp: str, extra: str = "", env: dict[str, str] | None = None) -> None:
        """``extra`` is added to the config; ``env`` to the environment it inherits."""
        super().__init__()
        port = free_port()
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write(CONFIG.format(host=HOST, port=port, db=os.path.join(tmp, "hearth.db"))
                    + extra)
        self.log = open(os.path.join(tmp, "hearth.log"), "w+")  # noqa: SIM115
        self.proc = subprocess.Popen([HEARTH, "serve", "--config", config], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=tmp,
                                     env={**os.environ, **(env or {})})
        self.pid = self.proc.pid
        self.base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"live: hearth exited ({self.proc.returncode}):\n"
                                 f"{self.log.read()}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("live: hearth did not answer /health in 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Pyview(Server):
    """``bench/peers/pyview_counter.py`` in the peers' virtualenv; stops when its stdin
    closes."""

    key = "pyview"

    def __init__(self) -> None:
        super().__init__()
        self.proc = subprocess.Popen(
            [PEERS_PYTHON, os.path.join(PEERS, "pyview_counter.py"), HOST, str(free_port())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("live: pyview did not start")
        info = json.loads(line)
        self.pid = info["pid"]
        self.base = f"http://{HOST}:{info['port']}"

    def stop(self) -> None:
        stop_by_stdin(self.proc)


def stop_by_stdin(proc: subprocess.Popen[Any]) -> None:
    """Close a peer server's stdin, which stops it; killed if still there in 10 s."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class HearthUploads(Hearth):
    """``hearth serve`` as :class:`Hearth`, its live routes ``bench/peers/hearth_uploads.py``'s
    (``/bench/upload``), its temporary files in ``<tmp>/spool``, and with ``unlimited`` the
    socket's event rate lifted (:data:`UNLIMITED`)."""

    def __init__(self, tmp: str, unlimited: bool = True) -> None:
        self.spool = os.path.join(tmp, "spool")
        os.makedirs(self.spool)
        path = os.pathsep.join(p for p in (PEERS, os.environ.get("PYTHONPATH")) if p)
        super().__init__(tmp, UPLOAD_CONFIG + (UNLIMITED if unlimited else ""),
                         {"PYTHONPATH": path, "TMPDIR": self.spool})


class PlainUpload(Server):
    """``bench/peers/aiohttp_upload.py`` on the project's Python, writing to ``<tmp>/spool``;
    stops when its stdin closes."""

    key = "aiohttp"

    def __init__(self, tmp: str) -> None:
        super().__init__()
        self.spool = os.path.join(tmp, "spool")
        os.makedirs(self.spool)
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(PEERS, "aiohttp_upload.py"), HOST, str(free_port()),
             self.spool], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("live: the aiohttp upload server did not start")
        info = json.loads(line)
        self.pid = info["pid"]
        self.base = f"http://{HOST}:{info['port']}"

    def stop(self) -> None:
        stop_by_stdin(self.proc)


def ensure_pyview() -> None:
    """pyview into bench/.venv-peers from bench/peers/requirements-live.txt, when missing or
    when that file changed since."""
    ensure_peers_venv()
    with open(LIVE_REQUIREMENTS, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(PEERS_VENV, ".installed-live")
    try:
        with open(stamp) as f:
            if f.read().strip() == digest:
                return
    except FileNotFoundError:
        pass
    print("installing pyview into bench/.venv-peers...", flush=True)
    subprocess.run([PEERS_PYTHON, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "-r", LIVE_REQUIREMENTS], check=True)
    with open(stamp, "w") as f:
        f.write(digest + "\n")


# -- workloads -----------------------------------------------------------------------------------


def open_views(load: Load, s: Server, n: int) -> None:
    shares = split(n, len(load.pipes))
    t0 = time.perf_counter()
    got = load.all([("open", s.key, s.base, c) for c in shares])
    s.out["open_s"] += time.perf_counter() - t0
    s.out["views"] += sum(g[1] for g in got)
    s.out["failed"] += sum(g[2] for g in got)
    s.out["errors"] = (s.out["errors"] + [e for g in got for e in g[3]])[:3]
    s.out.setdefault("join_bytes", next((g[4] for g in got if g[4]), 0))


def warm_up(load: Load, s: Server) -> None:
    open_views(load, s, WARM_VIEWS)
    load.all([("close", s.key, 0)] * len(load.pipes))
    s.out.update(views=0, failed=0, errors=[], open_s=0.0)
    s.settle()
    s.out["rss_before_kb"] = s.rss_kb()


def hold(load: Load, s: Server, n: int) -> None:
    """Open views on ``s`` until it holds ``n``; its RSS per view then."""
    open_views(load, s, n - s.out["views"])
    s.settle()
    after = s.rss_kb()
    o = s.out
    held = o["views"]
    per_view = (after - o["rss_before_kb"]) / max(1, held)
    o.setdefault("held", {})[str(n)] = {"views": held, "rss_kb": after, "kb_per_view": per_view}
    failed = f", {o['failed']} failed: {'; '.join(o['errors'])}" if o["failed"] else ""
    print(f"  {s.key}: {held:,} views joined ({held / o['open_s']:,.0f}/s){failed}; RSS "
          f"{o['rss_before_kb'] / 1024:.0f} -> {after / 1024:.0f} MB, {per_view:.2f} KB "
          f"per view", flush=True)


def diff_as_sent(frame: str) -> str:
    """The diff inside a reply frame, exactly as the server wrote it."""
    i = frame.index('"diff"') + len('"diff"')
    i = frame.index(":", i) + 1
    while frame[i] in " \t\r\n":
        i += 1
    _, end = json.JSONDecoder().raw_decode(frame, i)
    return frame[i:end]


def probe(load: Load, s: Server) -> None:
    load.pipes[0].send(("probe", s.key))
    frame: str = load.pipes[0].recv()[1]
    payload = len(frame.encode())
    header = 2 if payload <= 125 else 4 if payload <= 65535 else 10
    diff = diff_as_sent(frame)
    s.out["click"] = {"frame": frame, "frame_bytes": payload, "wire_bytes": payload + header,
                      "diff": diff, "diff_bytes": len(diff.encode())}
    print(f"  {s.key}: first click's reply {payload} bytes ({payload + header} on the wire), "
          f"diff {diff} ({len(diff.encode())} bytes)", flush=True)


def click_window(load: Load, s: Server, seconds: float) -> dict[str, Any]:
    start = time.time() + 0.3
    shares = split(CLICKERS, len(load.pipes))
    for pipe, c in zip(load.pipes, shares, strict=True):
        pipe.send(("click", s.key, c, start, seconds))
    time.sleep(max(0.0, start - time.time()))
    cpu0 = s.cpu()
    time.sleep(seconds)
    cpu1 = s.cpu()
    got = [pipe.recv() for pipe in load.pipes]
    replies = sum(g[1] for g in got)
    lat: list[int] = []
    for g in got:
        a = array.array("q")
        a.frombytes(g[3])
        lat.extend(a)
    lat.sort()
    return {"replies": replies, "bytes": sum(g[2] for g in got), "seconds": seconds,
            "per_s": replies / seconds, "server_cpu_s": cpu1 - cpu0,
            "load_cpu_s": sum(g[6] for g in got),
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "errors": [e for g in got for e in g[4]][:3], "failed": sum(g[5] for g in got)}


def pct(sorted_ns: list[int], p: float) -> float:
    if not sorted_ns:
        return math.nan
    i = min(len(sorted_ns) - 1, max(0, math.ceil(p / 100 * len(sorted_ns)) - 1))
    return sorted_ns[i] / 1e6


def clicks(load: Load, servers: list[Server], windows: int, seconds: float,
           warm_s: float) -> None:
    for s in servers:
        click_window(load, s, warm_s)
    for s in servers:
        s.out["windows"] = []
    for _ in range(windows):
        for s in servers:
            w = click_window(load, s, seconds)
            s.out["windows"].append(w)
            bad = f"; {w['failed']} views failed: {'; '.join(w['errors'])}" if w["failed"] \
                else ""
            print(f"  {s.key}: {w['per_s']:,.0f} clicks/s (p50 {w['p50_ms']:.1f} ms, p99 "
                  f"{w['p99_ms']:.1f} ms; server CPU {w['server_cpu_s'] / seconds:.0%}, "
                  f"load generator {w['load_cpu_s'] / seconds:.0%}){bad}", flush=True)
    for s in servers:
        ws = s.out["windows"]
        replies = sum(w["replies"] for w in ws)
        total_s = sum(w["seconds"] for w in ws)
        s.out["clicks"] = {
            "per_s": replies / total_s, "best_per_s": max(w["per_s"] for w in ws),
            "server_cpu_us": sum(w["server_cpu_s"] for w in ws) / max(1, replies) * 1e6,
            "load_cpu_cores": sum(w["load_cpu_s"] for w in ws) / total_s,
            "server_cpu_cores": sum(w["server_cpu_s"] for w in ws) / total_s,
            "mean_frame_bytes": sum(w["bytes"] for w in ws) / max(1, replies),
            "p50_ms": statistics.median(w["p50_ms"] for w in ws),
            "p99_ms": max(w["p99_ms"] for w in ws),
            "failed": sum(w["failed"] for w in ws),
        }


# -- uploads ---------------------------------------------------------------------------------


def upload_file(tmp: str, size: int) -> str:
    """``size`` random bytes (nothing compresses or dedups them) in a file to send."""
    path = os.path.join(tmp, f"bench-{size}.bin")
    with open(path, "wb") as f:
        for at in range(0, size, 1_000_000):
            f.write(os.urandom(min(1_000_000, size - at)))
    return path


def empty(spool: str) -> None:
    """Remove what an upload left in ``spool``, and write out what the kernel still holds of
    it: the next upload does not share the machine with the last one's writeback."""
    for name in os.listdir(spool):
        os.unlink(os.path.join(spool, name))
    os.sync()


def upload_round(load: Load, s: Server, path: str, size: int, shares: list[int]
                 ) -> dict[str, Any]:
    """The uploads ``shares`` gives each worker, at once, of the ``size`` bytes at ``path``
    to ``s``: those done and those refused, the server's highest RSS meanwhile (KB, read
    every 10 ms), its CPU seconds and the load generator's, the wall time, the first errors
    and how many failed."""
    cpu0 = s.cpu()
    t0 = time.perf_counter()
    for pipe, count in zip(load.pipes, shares, strict=True):
        pipe.send(("upload", s.key, s.base, path, size, count))
    peak = s.rss_kb()
    pending = list(load.pipes)
    got: list[tuple[Any, ...]] = []
    while pending:
        peak = max(peak, s.rss_kb())
        ready = wait(pending, 0.01)
        for pipe in [p for p in pending if p in ready]:
            got.append(pipe.recv())
            pending.remove(pipe)
    took = time.perf_counter() - t0
    cpu = s.cpu() - cpu0
    results = [d for g in got for d in g[1]]
    refused = [d["refused"] for d in results if "refused" in d]
    errors = [f"refused at chunk {r['chunk']} of {r['chunks']}: {r['reply']}" for r in refused]
    errors += [e for g in got for e in g[2]]
    return {"done": [d for d in results if "refused" not in d], "refused": refused,
            "peak_kb": peak, "server_cpu_s": cpu, "client_cpu_s": sum(g[4] for g in got),
            "seconds": took, "errors": errors[:3],
            "failed": len(refused) + sum(g[3] for g in got)}


def uploads(load: Load, tmp: str, rounds: int) -> dict[str, Any]:
    """The upload figures: a file of ``/profile/edit``'s largest size and one of 50 MB sent
    to Hearth as shipped (are they taken?); then 50 MB to each upload server in turn,
    ``rounds`` times after one dropped; then UPLOADS_AT_ONCE at once to each, the server's
    RSS read meanwhile."""
    os.makedirs(tmp)
    path = upload_file(tmp, UPLOAD_BYTES)
    one = [1] + [0] * (len(load.pipes) - 1)
    out: dict[str, Any] = {"bytes": UPLOAD_BYTES, "rounds": rounds, "shipped": {}}
    shipped = HearthUploads(os.path.join(tmp, "shipped"), unlimited=False)
    try:
        for size in (PROFILE_MAX_BYTES, UPLOAD_BYTES):
            sent = path if size == UPLOAD_BYTES else upload_file(tmp, size)
            got = upload_round(load, shipped, sent, size, one)
            out["shipped"][str(size)] = {"ok": not got["failed"], "errors": got["errors"],
                                         "refused": got["refused"][:1]}
            print(f"  hearth as shipped ([channels] event_rate and event_burst), "
                  f"{size / 1e6:.0f} MB: {got['errors'][0] if got['failed'] else 'taken'}",
                  flush=True)
    finally:
        shipped.stop()
    servers: list[Any] = []
    try:
        servers.append(HearthUploads(os.path.join(tmp, "hearth")))
        servers.append(PlainUpload(os.path.join(tmp, "aiohttp")))
        for s in servers:
            out[s.key] = {"runs": [], "rss_start_kb": s.rss_kb()}
        for r in range(rounds + 1):  # the first round warms up, dropped
            for s in servers if r % 2 == 0 else reversed(servers):
                got = upload_round(load, s, path, UPLOAD_BYTES, one)
                empty(s.spool)
                if got["failed"]:
                    raise SystemExit(f"live: an upload to {s.key} failed: {got['errors'][0]}")
                run = {**got["done"][0], "server_cpu_s": got["server_cpu_s"],
                       "client_cpu_s": got["client_cpu_s"], "wall_s": got["seconds"],
                       "mb_s": UPLOAD_BYTES / 1e6 / got["seconds"]}
                if r:
                    out[s.key]["runs"].append(run)
                print(f"  {s.key}{'' if r else ' (warm-up)'}: {UPLOAD_BYTES / 1e6:.0f} MB in "
                      f"{got['seconds']:.2f} s, {run['mb_s']:.1f} MB/s; server CPU "
                      f"{got['server_cpu_s']:.2f} s", flush=True)
        for s in servers:
            o = out[s.key]
            o["mb_s"] = statistics.median(r["mb_s"] for r in o["runs"])
            o["best_mb_s"] = max(r["mb_s"] for r in o["runs"])
            o["server_cpu_s"] = statistics.median(r["server_cpu_s"] for r in o["runs"])
            o["client_cpu_s"] = statistics.median(r["client_cpu_s"] for r in o["runs"])
        out["chunk_size"] = out["hearth"]["runs"][0]["chunk_size"]
        for s in servers:
            s.settle()
            idle = s.rss_kb()
            got = upload_round(load, s, path, UPLOAD_BYTES,
                               split(UPLOADS_AT_ONCE, len(load.pipes)))
            empty(s.spool)
            s.settle()
            out[s.key]["at_once"] = {
                "uploads": len(got["done"]), "failed": got["failed"], "errors": got["errors"],
                "idle_kb": idle, "peak_kb": got["peak_kb"], "after_kb": s.rss_kb(),
                "seconds": got["seconds"], "server_cpu_s": got["server_cpu_s"],
                "mb_s": len(got["done"]) * UPLOAD_BYTES / 1e6 / got["seconds"]}
            bad = f"; {got['failed']} failed: {'; '.join(got['errors'])}" if got["failed"] \
                else ""
            print(f"  {s.key}: {UPLOADS_AT_ONCE} at once in {got['seconds']:.2f} s; RSS idle "
                  f"{idle / 1024:.1f} MB, highest {got['peak_kb'] / 1024:.1f} MB (+"
                  f"{(got['peak_kb'] - idle) * 1024 / 1e6:.2f} MB){bad}", flush=True)
        return out
    finally:
        for s in servers:
            s.stop()


# -- stream inserts, in this process -------------------------------------------------------------


def stream_inserts(sizes: list[int], inserts: int, rounds: int) -> dict[str, Any]:
    """Render+diff CPU time of one stream insert on a PostsLive page holding each size of
    items, the sizes taking turns round by round; µs per insert, median round."""
    def item(i: int) -> dict[str, Any]:  # as web/live/posts.py's _shown makes them
        return {"id": i, "title": f"Benchmark post number {i}", "author": "Ada Lovelace",
                "avatar": None, "created_at": 1_764_000_000 + i, "likes": i % 17}

    pages = {}
    for n in sizes:
        view = PostsLive()
        socket = LiveSocket(f"phx-bench-{n}", True)
        assign(socket, current_user=None, page_title="Posts")
        stream(socket, "posts", [item(i) for i in range(n)])
        t0 = time.process_time_ns()
        diff, prints = render(view.render(socket.assigns), None, None)
        first_ms = (time.process_time_ns() - t0) / 1e6
        first_bytes = len(orjson.dumps(diff))
        socket.assigns["streams"].prune()
        socket.changed.clear()
        pages[n] = {"view": view, "socket": socket, "prints": prints, "next": n,
                    "first_ms": first_ms, "first_bytes": first_bytes, "rounds": [],
                    "diff_bytes": 0}

    def one_round(page: dict[str, Any]) -> float:
        view, socket = page["view"], page["socket"]
        prints = page["prints"]
        spent = 0
        for _ in range(inserts):
            stream_insert(socket, "posts", item(page["next"]), at=0)
            page["next"] += 1
            t0 = time.process_time_ns()
            diff, prints = render(view.render(socket.assigns), prints,
                                  frozenset(socket.changed))
            socket.assigns["streams"].prune()
            socket.changed.clear()
            spent += time.process_time_ns() - t0
        page["prints"] = prints
        page["diff_bytes"] = len(orjson.dumps(diff))
        return spent / inserts / 1e3

    gc.collect()
    for r in range(rounds + 1):  # the first round warms up, dropped
        for n in sizes if r % 2 == 0 else reversed(sizes):
            us = one_round(pages[n])
            if r:
                pages[n]["rounds"].append(us)
    out = {}
    for n in sizes:
        p = pages[n]
        out[str(n)] = {"us_per_insert": statistics.median(p["rounds"]),
                       "best_us": min(p["rounds"]), "rounds_us": p["rounds"],
                       "diff_bytes": p["diff_bytes"], "first_render_ms": p["first_ms"],
                       "first_render_bytes": p["first_bytes"]}
        print(f"  stream insert, {n:,} items on the page: {out[str(n)]['us_per_insert']:.1f} "
              f"µs per insert (median of {rounds} rounds of {inserts}), diff "
              f"{p['diff_bytes']} bytes; the first render of the {n:,} took "
              f"{p['first_ms']:.1f} ms", flush=True)
    return out


# -- live components, in this process ------------------------------------------------------------


class CounterComponent(LiveComponent):
    """A live component as small as ``/counter``: its count, a label its parent gives it, one
    button whose clicks go to the instance (``phx-target``)."""

    template = Template("""
      <div class="counter" id={@id}><span class="n">{@n}</span> <span>{@label}</span>
        <button phx-click="inc" phx-target={@myself}>+</button></div>
    """)

    def mount(self, socket: LiveSocket) -> Any:
        return Ok(assign(socket, n=0))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        return NoReply(update(socket, "n", lambda n: n + 1))


class CountersLive(LiveView):
    """A page of ``@ids`` counter components."""

    template = Template("""
      <main>
        <h1>Counters</h1>
        <section :for={i in @ids} :key={i} class="slot">
          {live_component(CounterComponent, id=f"counter-{i}", label=@label)}
        </section>
      </main>
    """, globals={"live_component": live_component, "CounterComponent": CounterComponent})


def component_clicks(sizes: list[int], clicks: int, rounds: int) -> dict[str, Any]:
    """Render+diff CPU time of one click in one of a page's live components, on pages of
    each size of instances, the sizes taking turns round by round; µs per click, median
    round."""
    return asyncio.run(_component_clicks(sizes, clicks, rounds))


async def _component_clicks(sizes: list[int], clicks: int, rounds: int) -> dict[str, Any]:
    pages: dict[int, dict[str, Any]] = {}
    for n in sizes:
        view_id = new_view_id()
        socket = LiveSocket(view_id, True)
        assign(socket, ids=list(range(n)), label="clicks")
        components = Components(view_id, True)
        t0 = time.process_time_ns()
        diff, _prints = await render_view(CountersLive().render(socket.assigns), None, None,
                                          components)
        first_ms = (time.process_time_ns() - t0) / 1e6
        instance = components.lookup(CounterComponent, f"counter-{n - 1}")
        assert instance is not None and len(components.by_cid) == n
        pages[n] = {"view_id": view_id, "components": components, "cid": instance.cid,
                    "first_ms": first_ms, "first_bytes": len(orjson.dumps(diff)),
                    "rounds": []}

    async def click(page: dict[str, Any]) -> dict[str, Any] | None:
        """One click of the page's last instance, as ``LiveChannel`` answers a component's
        own event: the instance's handle_event, then its render and diff alone."""
        instance = page["components"].by_cid[page["cid"]]
        result = instance.component.handle_event("inc", {}, instance.socket)
        instance.socket = result.state
        diff, _ = await render_view(None, None, None, page["components"], only=[instance])
        return diff

    for n, page in pages.items():  # the first click (0 -> 1), its diff and reply frame
        diff = await click(page)
        if diff is None or list(diff) != ["c"] or list(diff["c"]) != [str(page["cid"])]:
            raise RuntimeError(f"a click among {n} components answered {diff!r}, not the "
                               "diff of its one instance")
        sent = orjson.dumps(diff)
        frame = encode(Message("1", "2", f"lv:{page['view_id']}", "phx_reply",
                               {"status": "ok", "response": {"diff": diff}}), 2)
        page.update(diff=sent.decode(), diff_bytes=len(sent), frame_bytes=len(frame),
                    wire_bytes=len(ws_frame(frame)))

    async def one_round(page: dict[str, Any]) -> float:
        spent = 0
        for _ in range(clicks):
            t0 = time.process_time_ns()
            await click(page)
            spent += time.process_time_ns() - t0
        return spent / clicks / 1e3

    gc.collect()
    for r in range(rounds + 1):  # the first round warms up, dropped
        for n in sizes if r % 2 == 0 else reversed(sizes):
            us = await one_round(pages[n])
            if r:
                pages[n]["rounds"].append(us)
    out = {}
    for n in sizes:
        p = pages[n]
        out[str(n)] = {"us_per_click": statistics.median(p["rounds"]),
                       "best_us": min(p["rounds"]), "rounds_us": p["rounds"], "cid": p["cid"],
                       "diff": p["diff"], "diff_bytes": p["diff_bytes"],
                       "frame_bytes": p["frame_bytes"], "wire_bytes": p["wire_bytes"],
                       "first_render_ms": p["first_ms"], "first_render_bytes": p["first_bytes"]}
        print(f"  one click, {n:,} live {'component' if n == 1 else 'components'} on the page: "
              f"{out[str(n)]['us_per_click']:.1f} µs per click (median of {rounds} rounds of "
              f"{clicks}), diff {p['diff']} ({p['diff_bytes']} bytes; reply frame "
              f"{p['wire_bytes']} on the wire); the first render of the {n:,} took "
              f"{p['first_ms']:.1f} ms", flush=True)
    return out


# -- the report ----------------------------------------------------------------------------------


def x(v: float) -> str:
    return f"{v:.2f}{TIMES}"


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    h = res["servers"]["hearth"]
    p = res["servers"]["pyview"]
    rows = []
    for n, held in h["held"].items():
        kb = held["kb_per_view"]
        rows.append({"goal": f"at most {GOAL_KB:g} KB per connected view ({int(n):,} views)",
                     "figure": f"{kb:.2f} KB", "met": kb <= GOAL_KB})
    d = h["click"]["diff_bytes"]
    rows.append({"goal": f"the counter's diff no larger than Phoenix's `{PHOENIX_DIFF}` "
                         f"({len(PHOENIX_DIFF)} bytes)",
                 "figure": f"`{h['click']['diff']}`, {d} bytes", "met": d <= len(PHOENIX_DIFF)})
    ratio = h["clicks"]["per_s"] / p["clicks"]["per_s"]
    cpu = p["clicks"]["server_cpu_us"] / h["clicks"]["server_cpu_us"]
    rows.append({"goal": f"at least {GOAL_CLICKS:g}{TIMES} pyview's click round trips per "
                         f"second",
                 "figure": f"{x(ratio)} ({h['clicks']['per_s']:,.0f} vs "
                           f"{p['clicks']['per_s']:,.0f}/s; server CPU per click "
                           f"{h['clicks']['server_cpu_us']:.0f} vs "
                           f"{p['clicks']['server_cpu_us']:.0f} µs, {x(cpu)} less)",
                 "met": ratio >= GOAL_CLICKS})
    st = res["stream"]
    lo, hi = st[str(min(map(int, st)))], st[str(max(map(int, st)))]
    r = hi["us_per_insert"] / lo["us_per_insert"]
    rows.append({"goal": f"a stream insert costs the same with {min(map(int, st)):,} items as "
                         f"with {max(map(int, st)):,} on the page (within {GOAL_STREAM:g}"
                         f"{TIMES})",
                 "figure": f"{lo['us_per_insert']:.1f} vs {hi['us_per_insert']:.1f} µs "
                           f"({x(r)})", "met": r <= GOAL_STREAM})
    lo, hi = component_ends(res["components"])
    r = hi["us_per_click"] / lo["us_per_click"]
    b = hi["diff_bytes"] / lo["diff_bytes"]
    rows.append({"goal": f"a click in one live component costs the same with {lo['n']:,} on the "
                         f"page as with {hi['n']:,} (render+diff CPU, within {GOAL_COMPONENTS:g}"
                         f"{TIMES})",
                 "figure": f"{lo['us_per_click']:.1f} vs {hi['us_per_click']:.1f} µs ({x(r)})",
                 "met": r <= GOAL_COMPONENTS})
    rows.append({"goal": f"… and the same bytes (its diff, within {GOAL_COMPONENTS:g}{TIMES})",
                 "figure": f"`{lo['diff']}` {lo['diff_bytes']} vs `{hi['diff']}` "
                           f"{hi['diff_bytes']} bytes ({x(b)}); reply frame {lo['wire_bytes']} "
                           f"vs {hi['wire_bytes']} bytes on the wire",
                 "met": b <= GOAL_COMPONENTS})
    up = res["uploads"]
    hu, au = up["hearth"], up["aiohttp"]
    rows.append({"goal": f"a {up['bytes'] / 1e6:.0f} MB upload over the live socket, against a "
                         "plain aiohttp multipart upload of it (a figure: no target)",
                 "figure": f"{hu['mb_s']:.1f} vs {au['mb_s']:.1f} MB/s "
                           f"({x(hu['mb_s'] / au['mb_s'])})", "met": None})
    five = hu["at_once"]
    growth, bound = upload_growth(up)
    rows.append({"goal": f"the server's RSS with {UPLOADS_AT_ONCE} such uploads at once grows "
                         f"by less than {GOAL_UPLOAD_RSS}{TIMES} the chunk size {TIMES} "
                         f"{UPLOADS_AT_ONCE} ({GOAL_UPLOAD_RSS} {TIMES} {up['chunk_size']:,} "
                         f"{TIMES} {UPLOADS_AT_ONCE} = {bound / 1e6:.1f} MB)",
                 "figure": f"+{growth / 1e6:.2f} MB ({five['idle_kb'] * 1024 / 1e6:.1f} → "
                           f"{five['peak_kb'] * 1024 / 1e6:.1f} MB; {x(growth / bound)} the "
                           f"bound; aiohttp's multipart +"
                           f"{upload_growth(up, 'aiohttp')[0] / 1e6:.2f} MB)",
                 "met": growth < bound})
    return rows


def upload_growth(up: dict[str, Any], key: str = "hearth") -> tuple[float, float]:
    """How much a server's RSS grew with the uploads at once (bytes), and the bound it is held
    to (GOAL_UPLOAD_RSS chunks per upload)."""
    five = up[key]["at_once"]
    return ((five["peak_kb"] - five["idle_kb"]) * 1024,
            GOAL_UPLOAD_RSS * up["chunk_size"] * UPLOADS_AT_ONCE)


def component_ends(comp: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The component rows of the fewest and the most instances, each with its ``n``."""
    lo, hi = min(map(int, comp)), max(map(int, comp))
    return {**comp[str(lo)], "n": lo}, {**comp[str(hi)], "n": hi}


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    sv = res["servers"]
    h, p = sv["hearth"], sv["pyview"]
    out = [f"### {m['date']} ({m['cpus']} CPUs, load average {m['load_before']:.2f} before, "
           f"{m['load_after']:.2f} after; Python {m['python']}; {m['versions']}; at "
           f"{m['commit']}; {res['took_s']:.0f} s{'; --quick' if res['quick'] else ''})", ""]
    out.append(f"{res['workers']} load-generator processes (aiohttp {m['aiohttp']}); "
               f"{CLICKERS:,} views clicking, {res['windows']} "
               f"{'window' if res['windows'] == 1 else 'windows'} of {res['window_s']:g} s per "
               f"server, the servers taking turns. \"Hearth ÷ "
               f"pyview\" above 1 means Hearth's figure is the larger.")
    out += ["", "| figure | Hearth | pyview | Hearth ÷ pyview |", "|---|---:|---:|---:|"]

    def row(name: str, a: float, b: float, fmt: str, ratio: bool = True) -> None:
        out.append(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | "
                   f"{x(a / b) if ratio and b else ''} |")

    for n in h["held"]:
        hh, ph = h["held"][n], p["held"][n]
        out.append(f"| views joined at {int(n):,} (failed) | {hh['views']:,} ({h['failed']}) | "
                   f"{ph['views']:,} ({p['failed']}) | |")
        row(f"RSS per connected view at {int(n):,} (KB)", hh["kb_per_view"],
            ph["kb_per_view"], "{:.2f}")
        row(f"server RSS with {int(n):,} views (MB)", hh["rss_kb"] / 1024,
            ph["rss_kb"] / 1024, "{:.0f}")
    row("views opened per second (GET + WebSocket + join)", h["views"] / h["open_s"],
        p["views"] / p["open_s"], "{:,.0f}")
    row("join reply, the first render (bytes)", h["join_bytes"], p["join_bytes"], "{:,.0f}")
    hc, pc = h["click"], p["click"]
    row("click reply frame, payload (bytes)", hc["frame_bytes"], pc["frame_bytes"], "{:,.0f}")
    row("… on the wire, with the WebSocket header (bytes)", hc["wire_bytes"],
        pc["wire_bytes"], "{:,.0f}")
    out.append(f"| … the diff inside it, as sent (bytes) | `{hc['diff']}` {hc['diff_bytes']} | "
               f"`{pc['diff']}` {pc['diff_bytes']} | {x(hc['diff_bytes'] / pc['diff_bytes'])} |")
    hk, pk = h["clicks"], p["clicks"]
    row("click round trips per second, all windows", hk["per_s"], pk["per_s"], "{:,.0f}")
    out.append("| … each window, in the order run | "
               + " | ".join(" / ".join(f"{w['per_s']:,.0f}" for w in v["windows"])
                            for v in (h, p)) + " | |")
    row("… best window", hk["best_per_s"], pk["best_per_s"], "{:,.0f}")
    row("click round trip p50, median window (ms)", hk["p50_ms"], pk["p50_ms"], "{:.1f}")
    row("click round trip p99, worst window (ms)", hk["p99_ms"], pk["p99_ms"], "{:.1f}")
    row("server CPU per click (µs)", hk["server_cpu_us"], pk["server_cpu_us"], "{:.1f}")
    row("server CPU while clicking (cores)", hk["server_cpu_cores"], pk["server_cpu_cores"],
        "{:.2f}", ratio=False)
    row("load generator CPU while clicking (cores)", hk["load_cpu_cores"],
        pk["load_cpu_cores"], "{:.2f}", ratio=False)
    row("clicking views that failed", hk["failed"], pk["failed"], "{:.0f}", ratio=False)

    st = res["stream"]
    out += ["", "**Stream inserts** (Hearth, in-process: `live.diff.render` of `PostsLive`'s "
                "template, one `stream_insert(at=0)` then one render+diff, CPU time; "
                f"{res['stream_rounds']} rounds of {res['stream_inserts']:,} inserts per size, "
                "the sizes taking turns):", "",
            "| items on the page | µs per insert, median round | best round | diff per insert "
            "(bytes) | first render of the items (ms) | … its diff (bytes) |",
            "|---:|---:|---:|---:|---:|---:|"]
    for n, v in st.items():
        out.append(f"| {int(n):,} | {v['us_per_insert']:.1f} | {v['best_us']:.1f} | "
                   f"{v['diff_bytes']} | {v['first_render_ms']:.1f} | "
                   f"{v['first_render_bytes']:,} |")

    out += ["", "**Live components** (Hearth, in-process: this script's `CountersLive` page of N "
                "`CounterComponent` instances rendered once through "
                "`live.components.render_view`; then one click in the last instance, cid N: its "
                "`handle_event` and `render_view(..., only=[instance])`, as `LiveChannel` answers "
                "a component's own event, CPU time; "
                f"{res['component_rounds']} rounds of {res['component_clicks']:,} clicks per "
                "size, the sizes taking turns; the bytes are the first click's, 0 → 1):", "",
            "| components on the page | µs per click, median round | best round | the click's "
            "diff, as sent | … bytes | reply frame on the wire (bytes) | first render of the "
            "page (ms) | … its diff (bytes) |",
            "|---:|---:|---:|---|---:|---:|---:|---:|"]
    for n, v in res["components"].items():
        out.append(f"| {int(n):,} | {v['us_per_click']:.1f} | {v['best_us']:.1f} | "
                   f"`{v['diff']}` | {v['diff_bytes']} | {v['wire_bytes']} | "
                   f"{v['first_render_ms']:.1f} | {v['first_render_bytes']:,} |")

    out += upload_markdown(res["uploads"])
    out += ["", "**Goals**:", "", "| goal | figure | result |", "|---|---|---|"]
    for g in goals(res):
        result = "figure" if g["met"] is None else "met" if g["met"] else "missed"
        out.append(f"| {g['goal']} | {g['figure']} | {result} |")
    out += ["", f"Plot: `{res['plot']}`.", "", "Summary line:", "",
            f"`{summary_line(res)}`", ""]
    return "\n".join(out)


def upload_markdown(up: dict[str, Any]) -> list[str]:
    h, a = up["hearth"], up["aiohttp"]
    mb = up["bytes"] / 1e6
    out = ["", f"**Uploads** (one file of {up['bytes']:,} random bytes; Hearth: "
               f"`bench/peers/hearth_uploads.py`'s `{UPLOAD_PATH}` on `hearth serve` with "
               "`[channels]` `event_rate` and `event_burst` lifted, the file sent as phoenix.js "
               f"sends it, chunks of {up['chunk_size']:,} bytes one at a time, from the form's "
               "change event to its submit's reply; aiohttp: one multipart `POST` to "
               "`bench/peers/aiohttp_upload.py`'s bare handler writing it to disk; "
               f"{up['rounds']} runs each after one dropped, the servers taking turns, the page "
               "cache written out between runs; then "
               f"{UPLOADS_AT_ONCE} at once, each from its own tab, the server's RSS read every "
               "10 ms; MB are 10⁶ bytes here):", "",
           "| figure | Hearth, live upload | aiohttp, multipart POST | Hearth ÷ aiohttp |",
           "|---|---:|---:|---:|"]

    def row(name: str, u: float, v: float, fmt: str, ratio: bool = True) -> None:
        out.append(f"| {name} | {fmt.format(u)} | {fmt.format(v)} | "
                   f"{x(u / v) if ratio and v else ''} |")

    row(f"one {mb:.0f} MB upload (MB/s, median run)", h["mb_s"], a["mb_s"], "{:.1f}")
    out.append("| … each run, in the order run | "
               + " | ".join(" / ".join(f"{r['mb_s']:.1f}" for r in v["runs"]) for v in (h, a))
               + " | |")
    row("… best run (MB/s)", h["best_mb_s"], a["best_mb_s"], "{:.1f}")
    row("server CPU per upload (s, median run)", h["server_cpu_s"], a["server_cpu_s"],
        "{:.2f}")
    chunks = h["runs"][0]["chunks"]
    out.append(f"| … per chunk of {up['chunk_size']:,} bytes (µs; {chunks} chunks and "
               f"{h['runs'][0]['progress_pushes']} `progress` pushes) | "
               f"{h['server_cpu_s'] / chunks * 1e6:.0f} | | |")
    row("load generator CPU per upload (s, median run)", h["client_cpu_s"], a["client_cpu_s"],
        "{:.2f}", ratio=False)
    hf, af = h["at_once"], a["at_once"]
    row(f"{UPLOADS_AT_ONCE} at once: all done in (s)", hf["seconds"], af["seconds"], "{:.2f}")
    row("… together (MB/s)", hf["mb_s"], af["mb_s"], "{:.1f}")
    row("server RSS at its start (MB)", h["rss_start_kb"] * 1024 / 1e6,
        a["rss_start_kb"] * 1024 / 1e6, "{:.1f}", ratio=False)
    row("… idle, before the five (MB)", hf["idle_kb"] * 1024 / 1e6, af["idle_kb"] * 1024 / 1e6,
        "{:.1f}", ratio=False)
    row("… highest while the five ran (MB)", hf["peak_kb"] * 1024 / 1e6,
        af["peak_kb"] * 1024 / 1e6, "{:.1f}", ratio=False)
    row("… the growth (MB)", upload_growth(up)[0] / 1e6, upload_growth(up, "aiohttp")[0] / 1e6,
        "{:.2f}")
    row("… after, the server quiet again (MB)", hf["after_kb"] * 1024 / 1e6,
        af["after_kb"] * 1024 / 1e6, "{:.1f}", ratio=False)
    row("uploads that failed, of the five", hf["failed"], af["failed"], "{:.0f}", ratio=False)
    out += ["", "Hearth with `[channels]` as shipped (`event_rate` 50 a second, `event_burst` "
                "200), one upload:", "",
            "| file | result |", "|---|---|"]
    for n, v in up["shipped"].items():
        name = f"{int(n) / 1e6:.0f} MB" + (" (`/profile/edit`'s largest)"
                                           if int(n) == PROFILE_MAX_BYTES else "")
        if v["ok"]:
            result = "taken"
        elif v["refused"]:
            r = v["refused"][0]
            result = (f"refused at chunk {r['chunk']} of {r['chunks']}: "
                      f"`{orjson.dumps(r['reply']).decode()}`")
        else:
            result = "failed: " + "; ".join(v["errors"])
        out.append(f"| {name} | {result} |")
    return out


def summary_line(res: dict[str, Any]) -> str:
    sv = res["servers"]
    h, p = sv["hearth"], sv["pyview"]
    parts = ["live:"]
    for n in h["held"]:
        parts += [f"hearth_kb_per_view_{n}={h['held'][n]['kb_per_view']:.2f}",
                  f"pyview_kb_per_view_{n}={p['held'][n]['kb_per_view']:.2f}"]
    parts += [f"hearth_click_frame_bytes={h['click']['frame_bytes']}",
              f"pyview_click_frame_bytes={p['click']['frame_bytes']}",
              f"hearth_diff_bytes={h['click']['diff_bytes']}",
              f"pyview_diff_bytes={p['click']['diff_bytes']}",
              f"phoenix_diff_bytes={len(PHOENIX_DIFF)}",
              f"hearth_clicks_per_s={h['clicks']['per_s']:.0f}",
              f"pyview_clicks_per_s={p['clicks']['per_s']:.0f}",
              f"clicks_vs_pyview={h['clicks']['per_s'] / p['clicks']['per_s']:.2f}x",
              f"hearth_cpu_us_per_click={h['clicks']['server_cpu_us']:.1f}",
              f"pyview_cpu_us_per_click={p['clicks']['server_cpu_us']:.1f}"]
    parts += [f"stream_insert_us_{n}={v['us_per_insert']:.1f}" for n, v in res["stream"].items()]
    for n, v in res["components"].items():
        parts += [f"component_click_us_{n}={v['us_per_click']:.1f}",
                  f"component_diff_bytes_{n}={v['diff_bytes']}"]
    up = res["uploads"]
    parts += [f"upload_hearth_mb_s={up['hearth']['mb_s']:.1f}",
              f"upload_aiohttp_mb_s={up['aiohttp']['mb_s']:.1f}",
              f"upload_vs_aiohttp={up['hearth']['mb_s'] / up['aiohttp']['mb_s']:.2f}x",
              f"upload_rss_growth_mb_{UPLOADS_AT_ONCE}={upload_growth(up)[0] / 1e6:.2f}"]
    parts += [f"upload_shipped_{int(n) // 1_000_000}mb={'ok' if v['ok'] else 'refused'}"
              for n, v in up["shipped"].items()]
    met = [g for g in goals(res) if g["met"] is not None]
    parts.append(f"goals_met={sum(g['met'] for g in met)}/{len(met)}")
    return " ".join(parts)


def write_section(path: str, generated: str) -> None:
    """Put ``generated`` between the markers of the "Live pages" section of ``path``, adding
    the section (heading and markers) at the end of the file if it is not there yet. Nothing
    else in the file changes."""
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        if SECTION not in text:
            text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{BEGIN}\n{END}\n"
        else:  # the heading is there without markers: they go at the end of the section
            i = text.index(SECTION) + len(SECTION)
            j = text.find("\n## ", i)
            j = len(text) if j < 0 else j + 1
            text = text[:j].rstrip("\n") + f"\n\n{BEGIN}\n{END}\n" + ("\n" + text[j:]
                                                                        if text[j:] else "")
    i = text.index(BEGIN) + len(BEGIN)
    j = text.index(END)
    text = text[:i] + "\n\n" + generated + "\n" + text[j:]
    tmp = path + ".live.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def versions() -> tuple[str, str]:
    out = subprocess.run([PEERS_PYTHON, "-m", "pip", "list", "--format=json",
                          "--disable-pip-version-check"], capture_output=True, text=True)
    have = {p["name"].lower(): p["version"] for p in json.loads(out.stdout or "[]")}
    names = ("pyview-web", "starlette", "uvicorn", "websockets", "uvloop")
    return ", ".join(f"{n} {have[n]}" for n in names if n in have), aiohttp.__version__


def commit() -> str:
    """HEAD, and whether the code measured differs from it (others work in this tree)."""
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                            "live", "channels", "otp", "web", "contexts", "hearth", "store"],
                           capture_output=True, text=True, cwd=ROOT)
    changed = " with uncommitted changes" if dirty.stdout.strip() else ""
    return (out.stdout.strip() or "?") + changed


def main() -> None:
    # A SIGTERM stops the run through its ``finally`` blocks: servers and workers go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 views, short windows; report and plot go to a temporary "
                             "folder")
    parser.add_argument("--workers", type=int, default=4, help="load-generator processes")
    parser.add_argument("--windows", type=int, help="click windows per server (default 4, "
                                                    "--quick 1)")
    parser.add_argument("--window-s", type=float, help="seconds per click window (default 2.5, "
                                                       "--quick 2)")
    parser.add_argument("--out", help="folder for the report and plot (default: BENCHMARKS.md "
                                      "and bench/plots/; --quick: a temporary folder)")
    parser.add_argument("--in-process", action="store_true",
                        help="only the in-process figures (stream inserts, live components), "
                             "printed; no servers, nothing written")
    parser.add_argument("--uploads", action="store_true",
                        help="only the upload figures (live uploads against aiohttp's "
                             "multipart), printed; nothing written")
    args = parser.parse_args()

    stream_rounds, stream_n = (3, 500) if args.quick else (7, 2_000)
    upload_rounds = 1 if args.quick else UPLOAD_ROUNDS
    component_rounds, component_n = (3, 500) if args.quick else (7, 2_000)
    if args.in_process:
        print("stream inserts (Hearth, in-process):", flush=True)
        stream_inserts([10, 10_000], stream_n, stream_rounds)
        print("live components (Hearth, in-process):", flush=True)
        component_clicks([1, 100], component_n, component_rounds)
        return
    if args.uploads:
        tmp = tempfile.mkdtemp(prefix="hearth-live-bench-")
        load = Load(args.workers)
        try:
            print(f"uploads of {UPLOAD_BYTES / 1e6:.0f} MB:", flush=True)
            print("\n".join(upload_markdown(uploads(load, os.path.join(tmp, "uploads"),
                                                     upload_rounds))))
        finally:
            load.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        return

    ensure_pyview()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [1_000] if args.quick else [1_000, 10_000]
    windows, window_s, warm_s = (1, 2.0, 0.5) if args.quick else (4, 2.5, 1.0)
    windows = args.windows or windows
    window_s = args.window_s or window_s
    load_before = os.getloadavg()[0]
    print(f"live pages: {os.cpu_count()} CPUs, load average {load_before:.2f}, "
          f"RLIMIT_NOFILE hard limit {hard}, {args.workers} load-generator processes",
          flush=True)
    t0 = time.perf_counter()
    print("stream inserts (Hearth, in-process):", flush=True)
    stream = stream_inserts([10, 10_000], stream_n, stream_rounds)
    print("live components (Hearth, in-process):", flush=True)
    components = component_clicks([1, 100], component_n, component_rounds)

    tmp = tempfile.mkdtemp(prefix="hearth-live-bench-")
    load = Load(args.workers)
    servers: list[Server] = []
    try:
        servers.append(Hearth(tmp))
        servers.append(Pyview())
        print(f"servers: hearth {servers[0].base}, pyview {servers[1].base}", flush=True)
        for s in servers:
            warm_up(load, s)
        print(f"{sizes[0]:,} views each:", flush=True)
        for s in servers:
            hold(load, s, sizes[0])
        print("bytes per click:", flush=True)
        for s in servers:
            probe(load, s)
        print(f"clicks, {CLICKERS:,} views each with one in flight:", flush=True)
        clicks(load, servers, windows, window_s, warm_s)
        for n in sizes[1:]:
            print(f"{n:,} views each:", flush=True)
            for s in servers:
                hold(load, s, n)
        for s in servers:  # done with: the uploads have the machine to themselves
            load.all([("close", s.key, 0)] * len(load.pipes))
            s.stop()
        print(f"uploads of {UPLOAD_BYTES / 1e6:.0f} MB:", flush=True)
        upload_figures = uploads(load, os.path.join(tmp, "uploads"), upload_rounds)
    finally:
        load.stop()
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    took = time.perf_counter() - t0

    peer_versions, aiohttp_version = versions()
    res: dict[str, Any] = {
        "machine": {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "cpus": os.cpu_count(), "load_before": load_before,
                    "load_after": os.getloadavg()[0], "python": platform.python_version(),
                    "versions": peer_versions, "aiohttp": aiohttp_version, "commit": commit()},
        "quick": args.quick, "workers": args.workers, "sizes": sizes, "windows": windows,
        "window_s": window_s, "stream_rounds": stream_rounds, "stream_inserts": stream_n,
        "component_rounds": component_rounds, "component_clicks": component_n,
        "took_s": took, "stream": stream, "components": components,
        "servers": {s.key: s.out for s in servers}, "uploads": upload_figures,
    }
    out_dir = args.out or (tempfile.mkdtemp(prefix="hearth-live-") if args.quick else None)
    plots = os.path.join(out_dir, "plots") if out_dir else PLOTS
    report = os.path.join(out_dir, "BENCHMARKS.md") if out_dir else BENCHMARKS_MD
    os.makedirs(plots, exist_ok=True)
    plot = os.path.join(plots, "live.png")
    res["plot"] = os.path.relpath(plot, ROOT) if not out_dir else plot
    fd, data = tempfile.mkstemp(prefix="hearth-live-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(res, f, indent=1)
    subprocess.run([PEERS_PYTHON, os.path.join(PEERS, "live_plots.py"), data, plot], check=True)
    if out_dir and not os.path.exists(report):
        with open(report, "w") as f:
            f.write("# Benchmarks\n")
    write_section(report, markdown(res))
    print(f"report: {report}; plot: {plot}; figures: {data}", flush=True)
    print(markdown(res))
    print(summary_line(res))


if __name__ == "__main__":
    main()
