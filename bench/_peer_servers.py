"""The peers ``bench/run_all.py`` measures Hearth against, each run alone in its own process.

Runs with the benchmark's own virtualenv (``bench/.venv-peers``, made by ``run_all.py`` from
``bench/requirements-peers.txt``), never the project's:

``python bench/_peer_servers.py KIND HOST [REDIS_PORT]`` listens on ``HOST`` (port chosen by
the OS), prints ``{"port": ..., "pid": ...}`` on one line and serves until its stdin closes.
Each kind is the smallest faithful implementation of the workload ``bench/_channels_server.py``
serves for Hearth and the bare aiohttp floor: clients join topics; ``new_message`` from a
client is broadcast to every member of its topic (the sender included) and acknowledged;
``GET /bench/stats?gc=1`` answers the resident set after ``gc.collect()``.

- **socketio**: python-socketio's ``AsyncServer`` attached to an aiohttp application on
  uvloop, WebSocket transport. ``join`` puts the client in the room named by the topic and
  acknowledges; ``new_message`` (``{"topic", "payload"}``) is emitted to that room with
  ``sio.emit`` (the library encodes it once for the room) and acknowledged ``"ok"``.
- **socketio_redis** (``bench/cluster.py``): the same, one of several nodes sharing rooms
  through python-socketio's ``AsyncRedisManager`` on the redis-server at ``REDIS_PORT``.
- **channels_memory** / **channels_redis**: Django Channels, an ``AsyncWebsocketConsumer`` at
  ``/ws/`` served by uvicorn (its default WebSocket implementation, uvloop), with
  ``InMemoryChannelLayer`` or ``channels_redis``' ``RedisChannelLayer`` on the redis-server at
  ``REDIS_PORT``. A join is ``group_add`` (a topic's colons become dots: group names allow
  no colon); a ``new_message`` is encoded once with orjson by the sender and handed to
  ``group_send``, and each member's consumer sends that text on. uvicorn was picked over
  daphne because it runs on uvloop like every other server here.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import socket
import sys
from typing import Any

import orjson
import uvloop

BACKLOG = 4096


def raise_nofile() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def stats(query: str) -> bytes:
    if "gc=1" in query:
        gc.collect()
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return orjson.dumps({"rss_kb": rss, "open_fds": len(os.listdir("/proc/self/fd"))})


def announce(port: int) -> None:
    print(orjson.dumps({"port": port, "pid": os.getpid(), "nofile": raise_nofile()}).decode(),
          flush=True)


async def until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(sys.stdin.fileno(), readable)
    await done
    os._exit(0)  # tearing thousands of connections down one by one is not what is measured


# -- python-socketio ----------------------------------------------------------------------------


async def serve_socketio(host: str, redis_url: str | None = None) -> None:
    import socketio
    from aiohttp import web

    # socketio_redis (bench/cluster.py): one node of several sharing rooms through Redis,
    # python-socketio's own AsyncRedisManager (each emit published once, fanned out by
    # every node to its members).
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*",
                               transports=["websocket"], client_manager=manager)

    @sio.on("join")
    async def join(sid: str, topic: str) -> str:
        await sio.enter_room(sid, topic)
        return "ok"

    @sio.on("new_message")
    async def new_message(sid: str, data: dict[str, Any]) -> str:
        await sio.emit("new_message", data, room=data["topic"])
        return "ok"

    async def bench_stats(request: web.Request) -> web.Response:
        return web.Response(body=stats(request.query_string), content_type="application/json")

    app = web.Application()
    sio.attach(app)
    app.router.add_get("/bench/stats", bench_stats)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, backlog=BACKLOG)
    await site.start()
    announce(runner.addresses[0][1])
    await until_stdin_closes()


# -- Django Channels ----------------------------------------------------------------------------


async def serve_channels(host: str, layer: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["*"], INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={"default": layer},
    )
    django.setup()

    import uvicorn
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class Room(AsyncWebsocketConsumer):
        async def connect(self) -> None:
            self.topics: set[str] = set()
            await self.accept()

        async def receive(self, text_data: str | None = None,
                          bytes_data: bytes | None = None) -> None:
            msg = orjson.loads(text_data or b"{}")
            event, topic = msg.get("event"), msg.get("topic", "")
            group = topic.replace(":", ".")
            if event == "join":
                await self.channel_layer.group_add(group, self.channel_name)
                self.topics.add(group)
            elif event == "new_message" and group in self.topics:
                text = orjson.dumps({"topic": topic, "event": "new_message",
                                     "payload": msg.get("payload")}).decode()
                await self.channel_layer.group_send(group, {"type": "room.message",
                                                            "text": text})
            await self.send(text_data=orjson.dumps({"ref": msg.get("ref"),
                                                    "status": "ok"}).decode())

        async def room_message(self, event: dict[str, Any]) -> None:
            await self.send(text_data=event["text"])

        async def disconnect(self, code: int) -> None:
            for group in self.topics:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = stats(scope.get("query_string", b"").decode())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    app = ProtocolTypeRouter({
        "http": http,
        "websocket": URLRouter([path("ws/", Room.as_asgi())]),
    })
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(BACKLOG)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                            backlog=BACKLOG)
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    announce(sock.getsockname()[1])
    await until_stdin_closes()


def main() -> None:
    # bench/channels.py would shadow the ``channels`` package (Django Channels) otherwise.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    raise_nofile()
    logging.basicConfig(level=logging.WARNING)
    kind, host = sys.argv[1], sys.argv[2]
    if kind == "socketio":
        coro = serve_socketio(host)
    elif kind == "socketio_redis":
        coro = serve_socketio(host, f"redis://127.0.0.1:{int(sys.argv[3])}/0")
    elif kind == "channels_memory":
        coro = serve_channels(host, {"BACKEND": "channels.layers.InMemoryChannelLayer"})
    elif kind == "channels_redis":
        coro = serve_channels(host, {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [("127.0.0.1", int(sys.argv[3]))]},
        })
    else:
        raise SystemExit(f"unknown server kind {kind!r}")
    uvloop.run(coro)


if __name__ == "__main__":
    main()
