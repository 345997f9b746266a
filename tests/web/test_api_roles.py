"""Who may call what: every protected API route, walked as each kind of caller."""

from __future__ import annotations

import re
from pathlib import Path

from contexts.roles import ROLES, at_least
from web.api.v1 import ROUTES
from web.endpoint import build_app

from ._api import api_node, config_for

PROTECTED = [route for route in ROUTES if route.role is not None]


def concrete(path: str) -> str:
    """``path`` with each ``{parameter}`` filled in (with an id nobody has)."""
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_the_route_table_lists_every_api_route_the_router_has(tmp_path: Path) -> None:
    app = build_app(config_for(tmp_path))

    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }

    assert served == {(route.method, route.path) for route in ROUTES}
    assert {route.role for route in PROTECTED} == set(ROLES)  # every level is walked


async def test_every_protected_route_refuses_anonymous_callers(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        for route in PROTECTED:
            answer = await node.request(route.method, concrete(route.path), json={})

            assert answer.status == 401, route
            assert answer.code == "missing_token", route
            assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="hearth"')


async def test_every_protected_route_admits_exactly_the_roles_it_names(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        for role in ROLES:
            await node.user(f"{role}@example.com", role)

        for route in PROTECTED:
            assert route.role is not None
            for role in ROLES:
                # A fresh login for each call: one of the routes logs out.
                token = (await node.login(f"{role}@example.com"))["access_token"]
                answer = await node.request(route.method, concrete(route.path), token=token,
                                            json={})

                if at_least(role, route.role):
                    assert answer.status not in (401, 403), (route, role, answer)
                else:
                    assert answer.status == 403, (route, role, answer)
                    assert answer.code == "forbidden", (route, role)


async def test_api_keys_carry_their_owners_role_and_no_more(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        user = await node.token("ann@example.com")
        moderator = await node.token("max@example.com", "moderator")
        keys = {}
        for name, token in [("user", user), ("moderator", moderator)]:
            made = await node.request("POST", "/api/v1/api_keys", token=token,
                                      json={"name": name})
            keys[name] = made.body["key"]

        queue_as_user = await node.request("GET", "/api/v1/moderation/queue",
                                           api_key=keys["user"])
        queue_as_moderator = await node.request("GET", "/api/v1/moderation/queue",
                                                api_key=keys["moderator"])
        users_as_moderator = await node.request("GET", "/api/v1/admin/users",
                                                api_key=keys["moderator"])

        assert queue_as_user.status == 403
        assert queue_as_moderator.status == 200
        assert queue_as_moderator.body == {"items": []}
        assert users_as_moderator.status == 403


async def test_an_admin_lists_every_user(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("ann@example.com")
        admin = await node.token("root@example.com", "admin")

        answer = await node.request("GET", "/api/v1/admin/users", token=admin)

        assert answer.status == 200
        assert [(u["email"], u["role"]) for u in answer.body["users"]] == [
            ("ann@example.com", "user"),
            ("root@example.com", "admin"),
        ]
        assert all("password_hash" not in u for u in answer.body["users"])
