"""The counter page of ``bench/live.py`` on pyview (PyPI ``pyview-web``), the Python peer of
Hearth's live pages: the smallest app its README's "Simple Counter" makes.

Runs with the benchmark's own virtualenv (``bench/.venv-peers``), never the project's:
``python bench/peers/pyview_counter.py HOST PORT`` serves ``/counter`` with uvicorn (uvloop,
httptools, its default WebSocket implementation; no access log), prints
``{"port": ..., "pid": ...}`` on one line once it listens, and serves until its stdin closes.
The template is ``pyview_counter.html`` beside this file (pyview finds it by the module's
name): ``Count: N`` with a ``-`` and a ``+`` button sending ``dec`` and ``inc``, as Hearth's
``/counter`` (``web/live/counter.py``) does.

The handlers are annotated as the README's example is, with no ``from __future__ import
annotations``: pyview reads each handler's type hints on every event to bind its arguments,
and string annotations would cost it an ``eval`` each time.
"""

import asyncio
import json
import os
import resource
import secrets
import socket
import sys
from typing import Any, TypedDict

import uvicorn
import uvloop
from pyview import LiveView, LiveViewSocket, PyView


class CountContext(TypedDict):
    count: int


class CounterLiveView(LiveView[CountContext]):
    async def mount(self, socket: LiveViewSocket[CountContext], session: Any) -> None:
        socket.context = {"count": 0}
        socket.live_title = "Counter"

    async def handle_event(self, event: str, payload: Any,
                           socket: LiveViewSocket[CountContext]) -> None:
        socket.context["count"] += {"inc": 1, "dec": -1}[event]


def app() -> PyView:
    served = PyView()
    served.add_live_view("/counter", CounterLiveView)
    return served


async def serve(host: str, port: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app(), loop="none", http="httptools", log_level="warning",
                            access_log=False, lifespan="on", backlog=4096)
    server = uvicorn.Server(config)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    print(json.dumps({"port": sock.getsockname()[1], "pid": os.getpid()}), flush=True)
    await done
    os._exit(0)  # tearing thousands of connections down one by one is not what is measured


if __name__ == "__main__":
    os.environ.setdefault("PYVIEW_SECRET", secrets.token_urlsafe(16))
    uvloop.run(serve(sys.argv[1], int(sys.argv[2])))
