"""API versions: by path (``/api/v1``, ``/api/v2``) or, under plain ``/api``, by ``Accept``;
v1 answers flat JSON, v2 a JSON:API-style envelope; a version nobody has is 406."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from web.api.versions import negotiate

from ._api import Node, api_node

V2 = "application/vnd.hearth.v2+json"


async def a_post(node: Node) -> tuple[str, Any]:
    token = await node.token("alice@example.com")
    made = await node.request("POST", "/api/v1/posts", token=token,
                              json={"title": "Hello", "body": "First!"})
    assert made.status == 201, made
    return token, made.body


async def test_v1_answers_flat_json_and_v2_an_envelope(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token, post = await a_post(node)

        v1 = await node.request("GET", f"/api/v1/posts/{post['id']}", token=token)
        v2 = await node.request("GET", f"/api/v2/posts/{post['id']}", token=token)

        assert v1.body == post
        assert isinstance(v1.body["id"], int)
        assert v1.headers["API-Version"] == "1"
        assert v2.headers["API-Version"] == "2"
        assert v2.body == {"data": {
            "type": "post",
            "id": str(post["id"]),
            "attributes": {
                "title": "Hello", "body": "First!", "published": True, "likes": 0,
                "created_at": v2.body["data"]["attributes"]["created_at"],
                "updated_at": v2.body["data"]["attributes"]["updated_at"],
            },
            "relationships": {"author": {
                "data": {"type": "user", "id": str(post["author"]["id"])},
                "meta": {"display_name": "alice"},
            }},
        }}
        created = v2.body["data"]["attributes"]["created_at"]
        assert created.endswith("Z") and created.startswith("20")


async def test_v2_lists_carry_meta_and_links(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token, post = await a_post(node)

        v2 = await node.request("GET", "/api/v2/posts", token=token)

        assert [item["id"] for item in v2.body["data"]] == [str(post["id"])]
        assert v2.body["meta"] == {"page_number": 1, "page_size": 20, "total_entries": 1,
                                   "total_pages": 1}
        assert v2.body["links"]["first"] == "/api/v2/posts?page=1&page_size=20"


async def test_unversioned_routes_follow_accept(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token, post = await a_post(node)
        path = f"/api/posts/{post['id']}"

        plain = await node.request("GET", path, token=token)
        json = await node.request("GET", path, token=token,
                                  headers={"Accept": "application/json"})
        v1 = await node.request("GET", path, token=token,
                                headers={"Accept": "application/vnd.hearth.v1+json"})
        v2 = await node.request("GET", path, token=token, headers={"Accept": V2})

        assert plain.body == json.body == v1.body == post
        assert plain.headers["Content-Type"] == "application/json"
        assert v1.headers["Content-Type"] == "application/vnd.hearth.v1+json"
        assert v2.headers["Content-Type"] == V2
        assert v2.body["data"]["id"] == str(post["id"])
        assert "Accept" in v2.headers["Vary"]


@pytest.mark.parametrize("accept", ["application/vnd.hearth.v3+json", "text/html",
                                    "application/vnd.hearth.v2+json;q=0"])
async def test_an_accept_no_version_satisfies_is_not_acceptable(
    tmp_path: Path, accept: str
) -> None:
    async with api_node(tmp_path) as node:
        token, _ = await a_post(node)

        answer = await node.request("GET", "/api/posts", token=token,
                                    headers={"Accept": accept})

        assert (answer.status, answer.code) == (406, "not_acceptable")
        assert "vnd.hearth.v2+json" in answer.detail


@pytest.mark.parametrize("path", ["/api/v3/posts", "/api/v0/posts/1", "/api/v12/me",
                                  "/api/v99"])
async def test_a_path_naming_an_unknown_version_is_not_acceptable(
    tmp_path: Path, path: str
) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("GET", path)

        assert (answer.status, answer.code) == (406, "not_acceptable")


async def test_known_versions_still_answer_404_and_405(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        for prefix in ("/api/v1", "/api/v2", "/api"):
            missing = await node.request("GET", f"{prefix}/nothing-here")
            wrong = await node.request("PUT", f"{prefix}/posts")

            assert (missing.status, missing.code) == (404, "not_found"), prefix
            assert (wrong.status, wrong.code) == (405, "method_not_allowed"), prefix


async def test_writes_answer_in_the_version_asked_for(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        token = await node.token("alice@example.com")

        made = await node.request("POST", "/api/posts", token=token, headers={"Accept": V2},
                                  json={"title": "T", "body": "B"})

        assert made.status == 201
        assert made.body["data"]["type"] == "post"
        assert made.body["data"]["attributes"]["title"] == "T"


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (None, 1),
        ("*/*", 1),
        ("application/vnd.hearth.v1+json;q=0.5, application/vnd.hearth.v2+json", 2),
        ("application/vnd.hearth.v2+json;q=0.2, application/vnd.hearth.v1+json;q=0.9", 1),
        ("application/vnd.hearth.v7+json, application/json", 1),
        ("text/html, application/xhtml+xml, */*;q=0.8", 1),
    ],
)
def test_negotiation_weighs_q_values(accept: str | None, version: int) -> None:
    assert negotiate(accept).version == version
