"""The servers ``bench/channels.py`` measures, each run alone in its own process on uvloop.

``python bench/_channels_server.py KIND HOST`` listens on ``HOST`` (port chosen by the OS),
prints ``{"port": ...}`` on one line and serves until its stdin closes. Both kinds speak the
Phoenix V2 protocol the load generator speaks, at ``/socket/websocket``:

- **hearth**: ``mount_socket`` with a SocketHandler routing ``room:*`` to a Channel whose
  ``new_message`` broadcasts the payload to the topic and replies ok (any other event is
  just answered ok): a session process and a channel process per joined connection,
  PubSub, fastlane broadcasts.
- **aiohttp**: the floor, a bare aiohttp WebSocket handler with no channel layer: a dict of
  topic -> set of WebSocketResponse; a broadcast is encoded once with orjson and sent with
  ``await ws.send_frame`` to each member in turn; joins, heartbeats and replies answered
  inline. What a careful hand-written server costs, and no more.

``hearth-gc`` is the hearth server with the node's collector policy (``otp.GcPolicy()``, or
the fields given as JSON in a third argument); ``hearth`` keeps the interpreter's collector,
its pauses measured alike. ``hearth-cluster REDIS_PORT NODE`` is one node of a cluster
(``bench/cluster.py``): the hearth server, with the node's collector policy, its PubSub on
``otp.RedisAdapter`` over the redis-server at ``REDIS_PORT``.

``GET /bench/stats?gc=1`` answers the server's resident set (after ``gc.collect()`` when
asked), its process count (hearth) and its open descriptors; with ``fanouts=1`` also the
timings of the broadcast fan-outs and of the cyclic garbage collector since last asked;
``pauses=1``: the collector's pause histogram since last asked (hearth kinds);
``types=1``: the tracked objects by type; ``garbage=1``: the cyclic garbage a collection
finds now, by type; ``frozen_garbage=1``: the same after unfreezing everything (what
freezing kept from the collector).

With ``HEARTH_GC_TRACE=1`` in its environment, every full collection over 20 ms (or
``HEARTH_GC_TRACE_MS``) is written to stderr: its wall and CPU milliseconds, and the three
generations' sizes and counts when it began (a ``gc.get_objects`` walk before the pause is
timed).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import orjson
import uvloop
from aiohttp import WSMsgType, web

BACKLOG = 4096
RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", 1)
FANOUTS: list[tuple[str, int, int, int, int]] = []
"""(topic, members, wall ns, CPU ns, of which kernel ns) of every timed broadcast the
server fanned out: the loop that writes the frame to each member, timed inside the server."""


GC: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}
"""The cyclic collector's automatic runs, per generation: how many, total ms, longest ms
(since last asked; the ``gc.collect()`` of a stats request is not counted)."""
_gc_t0 = [0]
_gc_manual = [False]


_TRACE = bool(os.environ.get("HEARTH_GC_TRACE"))
_TRACE_MS = float(os.environ.get("HEARTH_GC_TRACE_MS", "20"))
_gc_sizes: list[int] = []
_gc_cpu0 = [0]
_gc_counts: list[int] = []


def _gc_watch(phase: str, info: dict[str, Any]) -> None:
    if _gc_manual[0]:
        return
    if phase == "start":
        if _TRACE and info["generation"] == 2:
            _gc_sizes[:] = [len(gc.get_objects(g)) for g in range(3)]
            _gc_counts[:] = gc.get_count()
        _gc_cpu0[0] = time.thread_time_ns()
        _gc_t0[0] = time.perf_counter_ns()
        return
    ms = (time.perf_counter_ns() - _gc_t0[0]) / 1e6
    if _TRACE and info["generation"] == 2 and ms > _TRACE_MS:
        cpu = (time.thread_time_ns() - _gc_cpu0[0]) / 1e6
        print(f"gc-trace {sys.argv[1]} gen2 {ms:.1f} ms cpu {cpu:.1f} sizes {_gc_sizes} "
              f"counts {_gc_counts} collected {info['collected']} at {time.monotonic():.2f}",
              file=sys.stderr, flush=True)
    row = GC[info["generation"]]
    row[0] += 1
    row[1] += ms
    row[2] = max(row[2], ms)


def started() -> tuple[int, Any]:
    return time.perf_counter_ns(), resource.getrusage(RUSAGE_THREAD)


def timed(topic: str, members: Any, t0: tuple[int, Any]) -> None:
    """Record a fan-out that :func:`started` ``t0``; ``members()`` counts them."""
    wall = time.perf_counter_ns() - t0[0]
    ru = resource.getrusage(RUSAGE_THREAD)
    user = ru.ru_utime - t0[1].ru_utime
    system = ru.ru_stime - t0[1].ru_stime
    FANOUTS.append((topic, members(), wall, int((user + system) * 1e9), int(system * 1e9)))


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_kb(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- hearth -------------------------------------------------------------------------------------


def hearth_app() -> web.Application:
    import otp
    from channels.channel import Channel, broadcast
    from channels.handler import Limits, SocketHandler
    from otp import Ok, PubSub, Reply
    from web.sockets import SocketMount, mount_socket

    class Room(Channel):
        def join(self, topic: str, payload: dict[str, Any], socket: Any) -> Any:
            return Ok(socket)

        def handle_in(self, event: str, payload: Any, socket: Any) -> Any:
            if event == "new_message":
                if "r" in payload:  # a timed broadcast round (chat messages are not timed)
                    t0 = started()
                    broadcast(socket, "new_message", payload)
                    timed(socket.topic,
                          lambda: len(PubSub.subscribers(socket.pubsub, socket.topic)), t0)
                else:
                    broadcast(socket, "new_message", payload)
                return Reply("ok", socket)
            return Reply("ok", socket)  # "ping": a push answered by the channel

    class Handler(SocketHandler):
        channels = [("room:*", Room)]

    app = web.Application()
    mount_socket(app, "/socket", SocketMount(Handler(), Limits(), longpoll=False))

    def counts() -> dict[str, int]:
        return {"processes": otp.process_count()}

    app["counts"] = counts
    return app


async def hearth_start(redis_url: str | None = None, node: str = "bench") -> None:
    import otp
    from otp import DynamicSupervisor, PubSub, RedisAdapter

    otp.trap_exit(True)
    # hearth-cluster (bench/cluster.py): one node of several, its PubSub on Redis as a
    # served node's is with [cluster].
    adapter = RedisAdapter(redis_url, node, b"bench-cluster-secret-0123456789abcdef",
                           prefix="bench") if redis_url else None
    await PubSub.start_link(name="hearth.pubsub", adapter=adapter)
    await DynamicSupervisor.start_link(name="hearth.sessions")


# -- the aiohttp floor --------------------------------------------------------------------------


def aiohttp_app() -> web.Application:
    rooms: dict[str, set[web.WebSocketResponse]] = {}
    TEXT = WSMsgType.TEXT

    async def reply(ws: web.WebSocketResponse, join_ref: Any, ref: Any, topic: str,
                    status: str, response: Any) -> None:
        data = orjson.dumps([join_ref, ref, topic, "phx_reply",
                             {"status": status, "response": response}])
        await ws.send_frame(data, TEXT)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("phoenix",), compress=False,
                                   max_msg_size=1_000_000)
        await ws.prepare(request)
        joined: dict[str, Any] = {}
        try:
            async for msg in ws:
                if msg.type is not TEXT:
                    break
                try:
                    join_ref, ref, topic, event, payload = orjson.loads(msg.data)[:5]
                except (orjson.JSONDecodeError, ValueError, TypeError):
                    continue
                if event == "heartbeat" and topic == "phoenix":
                    await reply(ws, None, ref, topic, "ok", {})
                elif event == "phx_join":
                    joined[topic] = join_ref
                    rooms.setdefault(topic, set()).add(ws)
                    await reply(ws, join_ref, ref, topic, "ok", {})
                elif topic not in joined:
                    await reply(ws, None, ref, topic, "error", {"reason": "unmatched topic"})
                elif event == "new_message":
                    t0 = started()
                    frame = orjson.dumps([None, None, topic, "new_message", payload])
                    members = tuple(rooms.get(topic, ()))
                    for member in members:
                        if not member.closed:
                            await member.send_frame(frame, TEXT)
                    if "r" in payload:
                        timed(topic, members.__len__, t0)
                    await reply(ws, joined[topic], ref, topic, "ok", {})
                else:  # "ping"
                    await reply(ws, joined[topic], ref, topic, "ok", {})
        finally:
            for topic in joined:
                room = rooms.get(topic)
                if room is not None:
                    room.discard(ws)
                    if not room:
                        del rooms[topic]
        return ws

    app = web.Application()
    app.router.add_get("/socket/websocket", handler)
    app["counts"] = dict
    return app


def _garbage() -> dict[str, Any]:
    """The cyclic garbage a full collection finds now: how many objects, and their types,
    most common first."""
    from collections import Counter

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    return {"objects": sum(found.values()), "types": found.most_common(30)}


def _frozen_garbage() -> dict[str, Any]:
    """Unfreeze everything and collect: what the frozen objects held that was garbage (what
    freezing kept from the collector), by type. Pauses the server for a full collection."""
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    return {"frozen": frozen, "garbage": _garbage()}


# -- serving ------------------------------------------------------------------------------------


async def serve(kind: str, host: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    if kind in ("hearth", "hearth-gc"):
        await hearth_start()
        app = hearth_app()
    elif kind == "hearth-cluster":
        await hearth_start(f"redis://127.0.0.1:{int(sys.argv[3])}/0", sys.argv[4])
        app = hearth_app()
    elif kind == "aiohttp":
        app = aiohttp_app()
    else:
        raise SystemExit(f"unknown server kind {kind!r}")

    async def stats(request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        if request.query.get("types"):
            from collections import Counter

            body["types"] = Counter(f"{type(o).__module__}.{type(o).__qualname__}"
                                    for o in gc.get_objects()).most_common(80)
        if request.query.get("garbage"):
            body["garbage"] = _garbage()
        if request.query.get("gc"):
            _gc_manual[0] = True
            try:
                t0 = time.perf_counter_ns()
                body["gc_found"] = gc.collect()
                body["gc_collect_ms"] = (time.perf_counter_ns() - t0) / 1e6
            finally:
                _gc_manual[0] = False
            body["gc_tracked"] = len(gc.get_objects())
            body["gc_frozen"] = gc.get_freeze_count()
        body.update({"rss_kb": rss_kb(), "open_fds": len(os.listdir("/proc/self/fd")),
                     **app["counts"]()})
        if request.query.get("pauses"):
            from otp import gc_stats

            # The frozen count walks every frozen object: fine here, never on /health.
            body["pauses"] = {**gc_stats(reset=True), "frozen": gc.get_freeze_count()}
        if request.query.get("frozen_garbage"):
            body["frozen_garbage"] = _frozen_garbage()
        if request.query.get("fanouts"):
            body["fanouts"] = FANOUTS[:]
            FANOUTS.clear()
            body["gc"] = {g: row[:] for g, row in GC.items()}
            for row in GC.values():
                row[:] = [0, 0.0, 0.0]
        return web.json_response(body)

    app.router.add_get("/bench/stats", stats)
    gc.callbacks.append(_gc_watch)
    if kind.startswith("hearth"):
        # What the node does once its tree is up: hearth-gc with the node's policy (or the
        # one given), hearth with the interpreter's collector, its pauses measured alike.
        from otp import GcPolicy, apply_gc_policy

        given = orjson.loads(sys.argv[3]) if len(sys.argv) > 3 and kind == "hearth-gc" else {}
        if "thresholds" in given and given["thresholds"] is not None:
            given["thresholds"] = tuple(given["thresholds"])
        on = GcPolicy(**given) if kind != "hearth" else GcPolicy(freeze=False, tick_ms=0,
                                                                 thresholds=None)
        apply_gc_policy(on)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, backlog=BACKLOG)
    await site.start()
    port = runner.addresses[0][1]
    print(orjson.dumps({"port": port, "pid": os.getpid(),
                        "nofile": raise_nofile()}).decode(), flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def stdin_readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(sys.stdin.fileno(), stdin_readable)
    await done  # stdin readable: the parent closed it (or wrote to it): stop
    os._exit(0)  # tearing 50k connections down one by one is not what is measured


def main() -> None:
    raise_nofile()
    kind, host = sys.argv[1], sys.argv[2]
    uvloop.run(serve(kind, host))


if __name__ == "__main__":
    main()
