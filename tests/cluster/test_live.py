"""A live page rendered by one node and connected to another: the page's session token, the
browser's cookie and its CSRF token verify on every node of the cluster."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from hearth.testing import Conn, log_in_with_password, redirected_to
from hearth.testing.redis_server import RedisServer
from web.session import COOKIE

from ._cluster import WAIT, cluster, sign_up

_VIEW = re.compile(r'<div id="(phx-[^"]+)" data-phx-main data-phx-session="([^"]+)"')
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


async def _reply(ws: aiohttp.ClientWebSocketResponse, ref: str) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=WAIT)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        _join_ref, got, _topic, event, payload = json.loads(msg.data)
        if got == ref and event == "phx_reply":
            return dict(payload)


async def test_a_live_page_rendered_on_a_runs_on_b(tmp_path: Path, redis: RedisServer) -> None:
    async with cluster(tmp_path, redis, "a", "b") as nodes:
        await sign_up(nodes["a"], "ann")
        async with Conn(nodes["a"]) as browser:
            await browser.get(redirected_to(
                await log_in_with_password(browser, "ann@example.com")))
            page = (await browser.get("/counter")).text
            cookie = browser.cookie
        view = _VIEW.search(page)
        csrf = _CSRF.search(page)
        assert view and csrf and cookie, page
        view_id, session = view.group(1), html.unescape(view.group(2))
        topic = f"lv:{view_id}"

        url = (f"{nodes['b'].url}/live/websocket?vsn=2.0.0"
               f"&_csrf_token={html.unescape(csrf.group(1))}")
        headers = {"Cookie": f"{COOKIE}={cookie}"}
        async with aiohttp.ClientSession(headers=headers) as http, \
                http.ws_connect(url, origin=nodes["b"].url) as ws:
            await ws.send_str(json.dumps(["1", "1", topic, "phx_join", {
                "url": f"{nodes['b'].url}/counter", "params": {"_mounts": 0},
                "session": session, "static": ""}]))
            joined = await _reply(ws, "1")
            await ws.send_str(json.dumps(["1", "2", topic, "event", {
                "type": "click", "event": "inc", "value": {}}]))
            clicked = await _reply(ws, "2")

    assert joined["status"] == "ok", joined
    assert "Count: " in json.dumps(joined["response"]["rendered"])
    assert clicked["status"] == "ok", clicked
    assert clicked["response"]["diff"] == {"1": "1"}  # "Count: {@count}" is now 1
