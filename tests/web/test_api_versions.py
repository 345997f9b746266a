"""API versions: by path (``/api/v1``, ``/api/v2``) or, under plain ``/api``, by ``Accept``;
v1 answers flat JSON, v2 a JSON:API-style envelope; a version nobody has is 406."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from hearth.testing import Conn, TestNode, api_conn, insert, json_response, problem_response
from web.api.versions import negotiate

V2 = "application/vnd.hearth.v2+json"


@pytest_asyncio.fixture
async def alice(hearth_node: TestNode) -> AsyncIterator[Conn]:
    """An API client logged in as a user shown as "alice"."""
    async with await api_conn(await insert("user", display_name="alice")) as client:
        yield client


async def a_post(author: Conn) -> Any:
    """The post ``author`` wrote, as v1 answered it."""
    made = await author.post("/api/v1/posts", json={"title": "Hello", "body": "First!"})
    return json_response(made, 201)


async def test_v1_answers_flat_json_and_v2_an_envelope(alice: Conn) -> None:
    post = await a_post(alice)

    v1 = await alice.get(f"/api/v1/posts/{post['id']}")
    v2 = await alice.get(f"/api/v2/posts/{post['id']}")
    flat, envelope = json_response(v1, 200), json_response(v2, 200)

    assert flat == post
    assert isinstance(flat["id"], int)
    assert v1.headers["API-Version"] == "1"
    assert v2.headers["API-Version"] == "2"
    assert envelope == {"data": {
        "type": "post",
        "id": str(post["id"]),
        "attributes": {
            "title": "Hello", "body": "First!", "published": True, "likes": 0,
            "created_at": envelope["data"]["attributes"]["created_at"],
            "updated_at": envelope["data"]["attributes"]["updated_at"],
        },
        "relationships": {"author": {
            "data": {"type": "user", "id": str(post["author"]["id"])},
            "meta": {"display_name": "alice"},
        }},
    }}
    created = envelope["data"]["attributes"]["created_at"]
    assert created.endswith("Z") and created.startswith("20")


async def test_v2_lists_carry_meta_and_links(alice: Conn) -> None:
    post = await a_post(alice)

    v2 = json_response(await alice.get("/api/v2/posts"), 200)

    assert [item["id"] for item in v2["data"]] == [str(post["id"])]
    assert v2["meta"] == {"page_number": 1, "page_size": 20, "total_entries": 1,
                          "total_pages": 1}
    assert v2["links"]["first"] == "/api/v2/posts?page=1&page_size=20"


async def test_unversioned_routes_follow_accept(alice: Conn) -> None:
    post = await a_post(alice)
    path = f"/api/posts/{post['id']}"

    plain = await alice.get(path)
    json = await alice.get(path, headers={"Accept": "application/json"})
    v1 = await alice.get(path, headers={"Accept": "application/vnd.hearth.v1+json"})
    v2 = await alice.get(path, headers={"Accept": V2})

    assert (json_response(plain, 200) == json_response(json, 200) == json_response(v1, 200)
            == post)
    assert plain.headers["Content-Type"] == "application/json"
    assert v1.headers["Content-Type"] == "application/vnd.hearth.v1+json"
    assert v2.headers["Content-Type"] == V2
    assert json_response(v2, 200)["data"]["id"] == str(post["id"])
    assert "Accept" in v2.headers["Vary"]


@pytest.mark.parametrize("accept", ["application/vnd.hearth.v3+json", "text/html",
                                    "application/vnd.hearth.v2+json;q=0"])
async def test_an_accept_no_version_satisfies_is_not_acceptable(
    alice: Conn, accept: str
) -> None:
    await a_post(alice)

    answer = await alice.get("/api/posts", headers={"Accept": accept})

    problem_response(answer, 406, "not_acceptable")
    assert "vnd.hearth.v2+json" in answer.detail


@pytest.mark.parametrize("path", ["/api/v3/posts", "/api/v0/posts/1", "/api/v12/me",
                                  "/api/v99"])
async def test_a_path_naming_an_unknown_version_is_not_acceptable(
    conn: Conn, path: str
) -> None:
    answer = await conn.get(path)

    problem_response(answer, 406, "not_acceptable")


async def test_known_versions_still_answer_404_and_405(conn: Conn) -> None:
    for prefix in ("/api/v1", "/api/v2", "/api"):
        missing = await conn.get(f"{prefix}/nothing-here")
        wrong = await conn.put(f"{prefix}/posts")

        assert (missing.status, missing.code) == (404, "not_found"), prefix
        assert (wrong.status, wrong.code) == (405, "method_not_allowed"), prefix


async def test_writes_answer_in_the_version_asked_for(alice: Conn) -> None:
    made = await alice.post("/api/posts", headers={"Accept": V2},
                            json={"title": "T", "body": "B"})

    created = json_response(made, 201)
    assert created["data"]["type"] == "post"
    assert created["data"]["attributes"]["title"] == "T"


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
