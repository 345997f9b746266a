"""The application's socket as the node serves it at ``/socket``: refusals before the
upgrade, logging out closing a user's sockets, page tokens that end with their session, API
tokens whose revocation closes their sockets, and the long-poll fallback through the node's
middlewares."""

from __future__ import annotations

import html
import re
from typing import Any

import aiohttp
import orjson
import pytest

from actors.user_socket import SALT
from channels import token
from hearth.secrets import load_secret_key
from hearth.testing import Conn, TestNode, insert, json_response, log_in

from .test_pages_auth import NEW_PASSWORD, latest_mail_to, reset_path

WAIT = 5.0
_TOKEN = re.compile(r'<meta name="socket-token" content="([^"]*)">')


def ws_url(node: TestNode, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {**params, "vsn": "2.0.0"}.items())
    return f"{node.url.replace('http', 'ws', 1)}/socket/websocket?{query}"


async def page_token(browser: Conn, path: str = "/rooms/lobby") -> str:
    """The socket token the room page rendered for the signed-in browser."""
    page = await browser.get(path)
    found = _TOKEN.search(page.text)
    assert found, page.text
    return html.unescape(found.group(1))


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int:
    """Read until the server's close frame; the code in it (what a browser reports, even
    when the server drops the connection before the client's answering close frame)."""
    while True:
        msg = await ws.receive(timeout=WAIT)
        if msg.type is aiohttp.WSMsgType.CLOSE:
            code: int = msg.data
            return code
        assert msg.type is not aiohttp.WSMsgType.CLOSED, "closed without a close frame"


async def join(ws: aiohttp.ClientWebSocketResponse, topic: str) -> Any:
    await ws.send_str(orjson.dumps(["1", "1", topic, "phx_join", {}]).decode())
    frame = orjson.loads((await ws.receive(timeout=WAIT)).data)
    assert frame[:4] == ["1", "1", topic, "phx_reply"], frame
    return frame[4]


async def assert_served(ws: aiohttp.ClientWebSocketResponse) -> None:
    """The socket still answers a heartbeat."""
    await ws.send_str('[null,"9","phoenix","heartbeat",{}]')
    while True:  # presence pushes may come first (others leaving, the state)
        frame = orjson.loads((await ws.receive(timeout=WAIT)).data)
        if frame[2] == "phoenix":
            break
        assert frame[3] in ("presence_state", "presence_diff"), frame
    assert frame[1:4] == ["9", "phoenix", "phx_reply"]


async def refused_status(http: aiohttp.ClientSession, url: str) -> int:
    """The HTTP status a connection to ``url`` is refused with."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(url)
    return refused.value.status


# Where a test has browsers of its own, its sockets connect from ``conn``, on which nobody
# signs in: the token alone says who a socket is.


async def test_a_bad_token_is_refused_before_the_upgrade(
    hearth_node: TestNode, conn: Conn
) -> None:
    secret = load_secret_key(hearth_node.config)
    user = await insert("user", email="ann@example.com", display_name="Ann")
    async with Conn(hearth_node) as browser:
        good = await page_token(await log_in(browser, user))
        # The same token, but made long ago for a minute.
        expired = token.encrypt(secret, SALT, token.decrypt(secret, SALT, good),
                                signed_at=1_000_000.0, max_age=60)

        for bad in ("garbage", expired, token.sign(secret, SALT, user.id)):
            assert await refused_status(conn.http, ws_url(hearth_node, token=bad)) == 403

        async with conn.http.ws_connect(ws_url(hearth_node, token=good)) as ws:
            assert (await join(ws, f"user:{user.id}"))["status"] == "ok"
        async with conn.http.ws_connect(ws_url(hearth_node)) as anonymous:
            reply = await join(anonymous, f"user:{user.id}")
            assert reply == {"status": "error", "response": {"reason": "unauthorized"}}


async def test_the_page_token_is_the_signed_in_users(conn: Conn) -> None:
    user = await insert("user", email="ann@example.com", display_name="Ann")
    await log_in(conn, user)

    raw = await page_token(conn)

    data = token.decrypt(load_secret_key(conn.node.config), SALT, raw)
    assert (data["u"], data["r"]) == (user.id, "user")


# -- page tokens end with their session ------------------------------------------------------


async def test_a_page_token_is_refused_once_its_session_logged_out(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user", email="ann@example.com", display_name="Ann")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as phone:
        await log_in(laptop, ann)
        await log_in(phone, ann)
        laptop_token, phone_token = await page_token(laptop), await page_token(phone)

        await laptop.post("/logout")

        assert await refused_status(conn.http, ws_url(hearth_node, token=laptop_token)) == 403
        # The phone's session is still live: its tab reconnects as before.
        async with conn.http.ws_connect(ws_url(hearth_node, token=phone_token)) as ws:
            assert (await join(ws, "room:lobby"))["status"] == "ok"


async def test_logging_out_everywhere_else_closes_the_other_sessions_sockets(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user", email="ann@example.com", display_name="Ann")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as phone:
        await log_in(laptop, ann)
        await log_in(phone, ann)
        phone_token = await page_token(phone)
        phone_tab = await conn.http.ws_connect(ws_url(hearth_node, token=phone_token))
        assert (await join(phone_tab, "room:lobby"))["status"] == "ok"

        await laptop.get("/account")
        await laptop.post("/account/sessions/end", follow=True)

        assert await closed_with(phone_tab) == 1001
        assert await refused_status(conn.http, ws_url(hearth_node, token=phone_token)) == 403
        laptop_token = await page_token(laptop)
        async with conn.http.ws_connect(ws_url(hearth_node, token=laptop_token)) as ws:
            assert (await join(ws, "room:lobby"))["status"] == "ok"


async def test_a_page_token_is_refused_after_a_password_reset(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user", email="ann@example.com", display_name="Ann")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as other:
        old = await page_token(await log_in(laptop, ann))

        await other.get("/password/forgot")
        await other.post("/password/forgot", {"email": "ann@example.com"})
        link = reset_path(await latest_mail_to("ann@example.com"))
        await other.get(link)
        await other.post(link, {"password": NEW_PASSWORD}, follow=True)

        assert await refused_status(conn.http, ws_url(hearth_node, token=old)) == 403
        new = await page_token(other)
        async with conn.http.ws_connect(ws_url(hearth_node, token=new)) as ws:
            assert (await join(ws, "room:lobby"))["status"] == "ok"


async def test_a_page_token_is_refused_after_a_role_change(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user", email="ann@example.com", display_name="Ann")
    async with Conn(hearth_node) as laptop:
        old = await page_token(await log_in(laptop, ann))

        await hearth_node.accounts.set_role("ann@example.com", "moderator")

        assert await refused_status(conn.http, ws_url(hearth_node, token=old)) == 403
        # The page, loaded again, hands out a token for who Ann is now.
        new = await page_token(laptop)
        async with conn.http.ws_connect(ws_url(hearth_node, token=new)) as ws:
            assert (await join(ws, "room:lobby"))["status"] == "ok"


# -- API tokens ------------------------------------------------------------------------------


async def test_revoking_an_api_token_closes_the_sockets_opened_with_it(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user")
    laptop = (await hearth_node.tokens.issue(ann)).access_token
    script = (await hearth_node.tokens.issue(ann)).access_token
    revoked = await conn.http.ws_connect(ws_url(hearth_node, token=laptop))
    kept = await conn.http.ws_connect(ws_url(hearth_node, token=script))
    for ws in (revoked, kept):
        assert (await join(ws, "room:lobby"))["status"] == "ok"

    answer = await conn.delete("/api/v1/auth/token", token=laptop)

    assert answer.status == 204
    assert await closed_with(revoked) == 1001
    assert await refused_status(conn.http, ws_url(hearth_node, token=laptop)) == 403
    # Another login of the same account is another family: its socket stays.
    await assert_served(kept)
    await kept.close()


async def test_a_spent_refresh_token_used_again_closes_its_logins_sockets(
    hearth_node: TestNode, conn: Conn
) -> None:
    spent = (await hearth_node.tokens.issue(await insert("user"))).refresh_token
    fresh = await conn.post("/api/v1/auth/refresh", json={"refresh_token": spent})
    access = json_response(fresh, 200)["access_token"]
    ws = await conn.http.ws_connect(ws_url(hearth_node, token=access))
    assert (await join(ws, "room:lobby"))["status"] == "ok"

    # Someone else holds the spent token: the whole login is revoked.
    reuse = await conn.post("/api/v1/auth/refresh", json={"refresh_token": spent})

    assert reuse.status == 401
    assert await closed_with(ws) == 1001


async def test_logging_out_closes_every_socket_of_the_user_with_1001(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user", email="ann@example.com", display_name="Ann")
    bob = await insert("user", email="bob@example.com", display_name="Bob")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as phone, Conn(hearth_node) as bobs:
        await log_in(laptop, ann)
        await log_in(phone, ann)
        await log_in(bobs, bob)
        ann_tab = await conn.http.ws_connect(ws_url(hearth_node, token=await page_token(laptop)))
        ann_phone = await conn.http.ws_connect(ws_url(hearth_node, token=await page_token(phone)))
        bob_tab = await conn.http.ws_connect(ws_url(hearth_node, token=await page_token(bobs)))
        anonymous = await conn.http.ws_connect(ws_url(hearth_node))
        for ws in (ann_tab, ann_phone, bob_tab, anonymous):
            assert (await join(ws, "room:lobby"))["status"] == "ok"

        await laptop.post("/logout")

        assert await closed_with(ann_tab) == 1001
        assert await closed_with(ann_phone) == 1001
        # Bob's socket and the anonymous one are still open and served.
        for ws in (bob_tab, anonymous):
            await assert_served(ws)
            await ws.close()


async def test_resetting_the_password_closes_the_users_sockets(
    hearth_node: TestNode, conn: Conn
) -> None:
    ann = await insert("user", email="ann@example.com", display_name="Ann")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as other:
        await log_in(laptop, ann)
        tab = await conn.http.ws_connect(ws_url(hearth_node, token=await page_token(laptop)))
        assert (await join(tab, "room:lobby"))["status"] == "ok"

        await other.get("/password/forgot")
        await other.post("/password/forgot", {"email": "ann@example.com"})
        link = reset_path(await latest_mail_to("ann@example.com"))
        await other.get(link)
        done = await other.post(link, {"password": NEW_PASSWORD}, follow=True)

        assert done.user == "Ann"
        assert await closed_with(tab) == 1001


async def test_the_long_poll_fallback_works_through_the_nodes_middlewares(
    hearth_node: TestNode, conn: Conn
) -> None:
    longpoll = "/socket/longpoll"
    session = (await conn.get(longpoll, params={"vsn": "2.0.0"})).json()
    assert session["status"] == 410

    # A POST as phoenix.js sends it: the long-poll token, no CSRF token, a same-site Origin.
    join_frame = orjson.dumps(["1", "1", "room:lobby", "phx_join", {}]).decode()
    posted = await conn.post(
        longpoll, params={"vsn": "2.0.0", "token": session["token"]}, data=join_frame,
        headers={"Content-Type": "application/x-ndjson", "Origin": hearth_node.url}, csrf="",
    )
    assert (posted.status, posted.json()) == (200, {"status": 200})
    polled = (await conn.get(longpoll, params={"vsn": "2.0.0", "token": session["token"]})).json()

    assert polled["status"] == 200
    reply, *after = [orjson.loads(m) for m in polled["messages"]]
    assert [m[3] for m in after] in ([], ["presence_state"])  # a reader's view of who is in
    assert reply[:4] == ["1", "1", "room:lobby", "phx_reply"]
    assert reply[4] == {"status": "ok", "response": {"messages": []}}
