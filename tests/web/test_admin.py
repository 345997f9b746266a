"""The admin endpoint: off without a token, closed to anyone without it (a user's JWT or an
admin account's included), and telling the truth about the running tree when opened."""

from __future__ import annotations

from typing import Any

import pytest

import otp
from hearth.testing import Conn, Response, TestNode, insert

TOKEN = "an admin token that is long enough to pass"

configured = pytest.mark.hearth_config(admin__token=TOKEN)


async def post(conn: Conn, path: str, body: dict[str, Any], token: str = TOKEN) -> Response:
    """POST to the admin endpoint as an operator's script does: a token, no CSRF token."""
    return await conn.post(path, json=body, token=token)


async def test_without_a_configured_token_the_endpoint_does_not_exist(conn: Conn) -> None:
    answer = await conn.request("GET", "/_admin/stats", token=TOKEN)
    assert answer.status == 404


@configured
async def test_only_the_admin_token_opens_it(hearth_node: TestNode, conn: Conn) -> None:
    admin_jwt = (await hearth_node.tokens.issue(await insert("user", "admin"))).access_token
    for token in (None, "wrong", TOKEN + "x", admin_jwt):
        answer = await conn.request("GET", "/_admin/stats", token=token)
        assert (answer.status, answer.body) == (401, {"error": "unauthorized"}), token
    killed = await post(conn, "/_admin/kill", {"target": "hearth.rate_limiter"}, admin_jwt)
    assert killed.status == 401
    assert otp.process_info("hearth.rate_limiter")["restarts"] == 0  # type: ignore[index]

    opened = await conn.request("GET", "/_admin/stats", token=TOKEN)
    assert opened.status == 200
    assert opened.body["node"] and opened.body["processes"] > 10


@configured
async def test_kill_shows_in_the_tree_as_a_restart(conn: Conn) -> None:
    before = otp.whereis("hearth.rate_limiter")

    killed = await post(conn, "/_admin/kill", {"target": "hearth.rate_limiter"})
    assert killed.status == 200 and killed.body["killed"] == repr(before)

    tree = (await conn.request("GET", "/_admin/tree", token=TOKEN)).body
    (limiter,) = [c for c in tree["children"] if c["id"] == "RateLimiter"]
    assert limiter["restarts"] == 1 and limiter["state"] == "running"
    assert limiter["pid"] != repr(before)
    info = (await conn.request("GET", "/_admin/info?target=hearth.rate_limiter",
                               token=TOKEN)).body
    assert info["pid"] == limiter["pid"] and info["restarts"] == 1


@configured
async def test_info_ps_terminate_and_restart(conn: Conn) -> None:
    missing = await conn.request("GET", "/_admin/info?target=<0.999999.0>", token=TOKEN)
    assert missing.status == 404
    ps = (await conn.request("GET", "/_admin/ps?sort=messages&limit=3", token=TOKEN)).body
    handled = [p["messages_handled"] for p in ps["processes"]]
    assert len(handled) == 3 and handled == sorted(handled, reverse=True)
    bad = await conn.request("GET", "/_admin/ps?sort=colour", token=TOKEN)
    assert bad.status == 400

    mailer = {"supervisor": "hearth.root", "child_id": "Mailer"}
    stopped = await post(conn, "/_admin/terminate", mailer)
    assert stopped.status == 200 and otp.whereis("hearth.mailer") is None
    again = await post(conn, "/_admin/terminate", {"supervisor": "hearth.root",
                                                   "child_id": "Nope"})
    assert again.status == 404
    started = await post(conn, "/_admin/restart", mailer)
    assert started.status == 200 and started.body["pid"] == repr(otp.whereis("hearth.mailer"))
    twice = await post(conn, "/_admin/restart", mailer)
    assert twice.status == 409
