"""Who may call what: every protected API route, walked as each kind of caller.

The routes that change one post (``/api/v1/posts/{id}``) are walked on a fresh post by
someone else, where a user is refused by the post's own check and a moderator or an admin is
not, and again by the post's author.
"""

from __future__ import annotations

import re
from pathlib import Path

from contexts.accounts import User
from contexts.roles import ROLES, at_least
from hearth.testing import (
    Conn,
    TestNode,
    api_conn,
    insert,
    json_response,
    problem_response,
    test_config,
)
from web.api.routes import OPENAPI_PATH, ROUTES, Route, versioned_paths
from web.endpoint import build_app

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


async def a_post_by(author: User) -> int:
    post_id: int = (await insert("post", author=author, title="A post", body="Its body.")).id
    return post_id


def expected(role: str, route: Route) -> str:
    """``"allowed"`` or ``"forbidden"``, for a caller who did not write the post."""
    assert route.role is not None
    if not at_least(role, route.role):
        return "forbidden"
    if route in ON_A_POST and not at_least(role, "moderator"):
        return "forbidden"
    return "allowed"


def test_the_route_table_lists_every_api_route_the_router_has(tmp_path: Path) -> None:
    app = build_app(test_config(tmp_path))

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


async def test_every_protected_route_refuses_anonymous_callers(conn: Conn) -> None:
    post_id = await a_post_by(await insert("user"))
    for route in PROTECTED:
        answer = await conn.request(route.method, concrete(route.path, post_id), json={})

        assert answer.status == 401, route
        assert answer.code == "missing_token", route
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="hearth"')
    assert (await conn.get(OPENAPI_PATH)).status == 200


async def test_every_protected_route_admits_exactly_the_roles_it_names(
    hearth_node: TestNode, conn: Conn
) -> None:
    callers = {role: await insert("user", role=role) for role in ROLES}
    someone_else = await insert("user")

    for route in PROTECTED:
        for role in ROLES:
            # A fresh login for each call: one of the routes logs out. A fresh post too:
            # one of them deletes it.
            token = (await hearth_node.tokens.issue(callers[role])).access_token
            post_id = await a_post_by(someone_else)
            answer = await conn.request(route.method, concrete(route.path, post_id),
                                        token=token, json={})

            if expected(role, route) == "allowed":
                assert answer.status not in (401, 403), (route, role, answer)
                assert answer.status != 404 or route not in ON_A_POST, (route, role)
            else:
                assert answer.status == 403, (route, role, answer)
                assert answer.code == "forbidden", (route, role)


async def test_the_author_passes_the_check_on_their_own_post(hearth_node: TestNode) -> None:
    author = await insert("user")
    async with await api_conn(author) as api:
        for route in ON_A_POST:
            post_id = await a_post_by(author)

            answer = await api.request(route.method, concrete(route.path, post_id), json={})

            assert answer.status in (200, 204), (route, answer)


async def test_api_keys_carry_their_owners_role_and_no_more(conn: Conn) -> None:
    user_key = (await insert("api_key", owner=await insert("user"))).secret
    moderator_key = (await insert("api_key", owner=await insert("user", "moderator"))).secret

    queue_as_user = await conn.request("GET", "/api/v1/moderation/queue", api_key=user_key)
    queue_as_moderator = await conn.request("GET", "/api/v1/moderation/queue",
                                            api_key=moderator_key)
    users_as_moderator = await conn.request("GET", "/api/v1/admin/users",
                                            api_key=moderator_key)

    problem_response(queue_as_user, 403)
    assert json_response(queue_as_moderator, 200) == {"items": []}
    problem_response(users_as_moderator, 403)


async def test_an_admin_lists_every_user(hearth_node: TestNode) -> None:
    await insert("user", email="ann@example.com")
    async with await api_conn(await insert("user", "admin", email="root@example.com")) as admin:
        answer = await admin.get("/api/v1/admin/users")

    users = json_response(answer, 200)["users"]
    assert [(u["email"], u["role"]) for u in users] == [
        ("ann@example.com", "user"),
        ("root@example.com", "admin"),
    ]
    assert all("password_hash" not in u for u in users)
