"""Who may call what: every protected API route, walked as each kind of caller.

The routes that change one post (``/api/v1/posts/{id}``) are walked on a fresh post by
someone else, where a user is refused by the post's own check and a moderator or an admin is
not, and again by the post's author.
"""

from __future__ import annotations

import re
from pathlib import Path

from contexts import posts
from contexts.roles import ROLES, at_least
from web.api.routes import OPENAPI_PATH, ROUTES, Route, versioned_paths
from web.endpoint import build_app

from ._api import Node, api_node, config_for

PROTECTED = [route for route in ROUTES if route.role is not None]
ON_A_POST = [route for route in PROTECTED
             if route.path == "/posts/{id}" and route.method in ("PATCH", "DELETE")]
"""The routes that change one post, so each asks ``can_modify``."""


def concrete(path: str, post_id: int = 999999) -> str:
    """``/api/v1`` + ``path`` with each ``{parameter}`` filled in: a post's routes with
    ``post_id``, a room's with the lobby, the others with an id nobody has."""
    if path.startswith("/posts/"):
        path = path.replace("{id}", str(post_id))
    path = path.replace("{slug}", "lobby")
    return "/api/v1" + re.sub(r"\{[^}]+\}", "999999", path)


async def a_post_by(node: Node, email: str) -> int:
    author = await node.accounts.get_user_by_email(email)
    assert author is not None
    return (await posts.create_post(author.id, "A post", "Its body.")).id


def expected(role: str, route: Route) -> str:
    """``"allowed"`` or ``"forbidden"``, for a caller who did not write the post."""
    assert route.role is not None
    if not at_least(role, route.role):
        return "forbidden"
    if route in ON_A_POST and not at_least(role, "moderator"):
        return "forbidden"
    return "allowed"


def test_the_route_table_lists_every_api_route_the_router_has(tmp_path: Path) -> None:
    app = build_app(config_for(tmp_path))

    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method not in ("HEAD", "*")
        and route.resource.canonical != OPENAPI_PATH
    }

    assert served == {(route.method, path) for route in ROUTES for path in versioned_paths(route)}
    assert {route.role for route in PROTECTED} == set(ROLES)  # every level is walked
    assert {route.role for route in ROUTES if route.path.startswith("/auth/")} == {None, "user"}


def test_only_logging_in_and_refreshing_need_no_caller() -> None:
    assert {(route.method, route.path) for route in ROUTES if route.role is None} == {
        ("POST", "/auth/token"), ("POST", "/auth/refresh")}


async def test_every_protected_route_refuses_anonymous_callers(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        await node.user("someone.else@example.com")
        post_id = await a_post_by(node, "someone.else@example.com")
        for route in PROTECTED:
            answer = await node.request(route.method, concrete(route.path, post_id), json={})

            assert answer.status == 401, route
            assert answer.code == "missing_token", route
            assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="hearth"')
        assert (await node.request("GET", OPENAPI_PATH)).status == 200


async def test_every_protected_route_admits_exactly_the_roles_it_names(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        for role in ROLES:
            await node.user(f"{role}@example.com", role)
        await node.user("someone.else@example.com")

        for route in PROTECTED:
            for role in ROLES:
                # A fresh login for each call: one of the routes logs out. A fresh post too:
                # one of them deletes it.
                token = (await node.login(f"{role}@example.com"))["access_token"]
                post_id = await a_post_by(node, "someone.else@example.com")
                answer = await node.request(route.method, concrete(route.path, post_id),
                                            token=token, json={})

                if expected(role, route) == "allowed":
                    assert answer.status not in (401, 403), (route, role, answer)
                    assert answer.status != 404 or route not in ON_A_POST, (route, role)
                else:
                    assert answer.status == 403, (route, role, answer)
                    assert answer.code == "forbidden", (route, role)


async def test_the_author_passes_the_check_on_their_own_post(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("author@example.com")
        for route in ON_A_POST:
            post_id = await a_post_by(node, "author@example.com")

            answer = await node.request(route.method, concrete(route.path, post_id),
                                        token=token, json={})

            assert answer.status in (200, 204), (route, answer)


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
