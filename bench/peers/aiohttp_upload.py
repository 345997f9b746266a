"""The plain upload ``bench/live.py`` measures Hearth's live uploads against: a bare aiohttp
handler taking one multipart file and writing it to disk, nothing else (no session, no
middleware, no access log).

``python bench/peers/aiohttp_upload.py HOST PORT SPOOL`` (the project's virtualenv: the
aiohttp and uvloop Hearth runs on) serves ``POST /upload``, prints ``{"port": ..., "pid":
...}`` on one line once it listens, and serves until its stdin closes. The handler is
aiohttp's own documented example (``request.multipart()``, then ``read_chunk()`` of 8,192
bytes, each written to the file as it comes) with a fresh name per upload in ``SPOOL``; it
answers the bytes written.
"""

import asyncio
import json
import os
import secrets
import socket
import sys

import uvloop
from aiohttp import BodyPartReader, web

SPOOL = web.AppKey("spool", str)


async def upload(request: web.Request) -> web.Response:
    reader = await request.multipart()
    field = await reader.next()
    if not isinstance(field, BodyPartReader) or field.name != "file":
        raise web.HTTPBadRequest(text="one multipart field named file")
    size = 0
    path = os.path.join(request.app[SPOOL], "upload-" + secrets.token_hex(8))
    # As the documented example does: plain writes on the loop, no thread (the cost compared).
    with open(path, "wb") as f:  # noqa: ASYNC230
        while chunk := await field.read_chunk():
            size += len(chunk)
            f.write(chunk)
    return web.json_response({"size": size})


async def serve(host: str, port: int, spool: str) -> None:
    app = web.Application()
    app[SPOOL] = spool
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    await web.SockSite(runner, sock).start()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
    print(json.dumps({"port": sock.getsockname()[1], "pid": os.getpid()}), flush=True)
    await done
    await runner.cleanup()


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
