"""The admin endpoint: off without a token, closed to anyone without it (a user's JWT or an
admin account's included), and telling the truth about the running tree when opened."""

from __future__ import annotations

from pathlib import Path

import otp

from ._api import api_node

TOKEN = "an admin token that is long enough to pass"


async def test_without_a_configured_token_the_endpoint_does_not_exist(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("GET", "/_admin/stats", token=TOKEN)
        assert answer.status == 404


async def test_only_the_admin_token_opens_it(tmp_path: Path) -> None:
    async with api_node(tmp_path, admin__token=TOKEN) as node:
        admin_jwt = await node.token("root@example.com", role="admin")
        for token in (None, "wrong", TOKEN + "x", admin_jwt):
            answer = await node.request("GET", "/_admin/stats", token=token)
            assert (answer.status, answer.body) == (401, {"error": "unauthorized"}), token
        killed = await node.request("POST", "/_admin/kill", token=admin_jwt,
                                    json={"target": "hearth.rate_limiter"})
        assert killed.status == 401
        assert otp.process_info("hearth.rate_limiter")["restarts"] == 0  # type: ignore[index]

        opened = await node.request("GET", "/_admin/stats", token=TOKEN)
        assert opened.status == 200
        assert opened.body["node"] and opened.body["processes"] > 10


async def test_kill_shows_in_the_tree_as_a_restart(tmp_path: Path) -> None:
    async with api_node(tmp_path, admin__token=TOKEN) as node:
        before = otp.whereis("hearth.rate_limiter")

        killed = await node.request("POST", "/_admin/kill", token=TOKEN,
                                    json={"target": "hearth.rate_limiter"})
        assert killed.status == 200 and killed.body["killed"] == repr(before)

        tree = (await node.request("GET", "/_admin/tree", token=TOKEN)).body
        (limiter,) = [c for c in tree["children"] if c["id"] == "RateLimiter"]
        assert limiter["restarts"] == 1 and limiter["state"] == "running"
        assert limiter["pid"] != repr(before)
        info = (await node.request("GET", "/_admin/info?target=hearth.rate_limiter",
                                   token=TOKEN)).body
        assert info["pid"] == limiter["pid"] and info["restarts"] == 1


async def test_info_ps_terminate_and_restart(tmp_path: Path) -> None:
    async with api_node(tmp_path, admin__token=TOKEN) as node:
        missing = await node.request("GET", "/_admin/info?target=<0.999999.0>", token=TOKEN)
        assert missing.status == 404
        ps = (await node.request("GET", "/_admin/ps?sort=messages&limit=3", token=TOKEN)).body
        handled = [p["messages_handled"] for p in ps["processes"]]
        assert len(handled) == 3 and handled == sorted(handled, reverse=True)
        bad = await node.request("GET", "/_admin/ps?sort=colour", token=TOKEN)
        assert bad.status == 400

        stopped = await node.request("POST", "/_admin/terminate", token=TOKEN,
                                     json={"supervisor": "hearth.root", "child_id": "Mailer"})
        assert stopped.status == 200 and otp.whereis("hearth.mailer") is None
        again = await node.request("POST", "/_admin/terminate", token=TOKEN,
                                   json={"supervisor": "hearth.root", "child_id": "Nope"})
        assert again.status == 404
        started = await node.request("POST", "/_admin/restart", token=TOKEN,
                                     json={"supervisor": "hearth.root", "child_id": "Mailer"})
        assert started.status == 200 and started.body["pid"] == repr(otp.whereis("hearth.mailer"))
        twice = await node.request("POST", "/_admin/restart", token=TOKEN,
                                   json={"supervisor": "hearth.root", "child_id": "Mailer"})
        assert twice.status == 409
