"""The API's error envelope: every refusal is an ``application/problem+json`` document
(RFC 9457) with its status, a stable ``code`` and a ``detail`` for people."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hearth.testing import Conn, json_response, problem_response
from web.api.params import MAX_BODY

TOKEN = "/api/v1/auth/token"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b'{"password": "x"}', "email is required"),
        (b'{"email": 42, "password": "x"}', "email must be a string"),
        (b'{"email": "a@example.com", "password": null}', "password is required"),
        (b'{"email": "a@example.com", "password": ["x"]}', "password must be a string"),
        (b'{"email": "' + b"a" * 300 + b'", "password": "x"}', "at most 254"),
    ],
)
async def test_a_bad_body_is_an_invalid_request(conn: Conn, body: bytes, message: str) -> None:
    answer = await conn.post(TOKEN, data=body, headers=JSON)

    problem = problem_response(answer, 400, "invalid_request")
    assert message in answer.detail
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert problem == {
        "type": "urn:hearth:problem:invalid_request",
        "title": "Bad Request",
        "status": 400,
        "detail": answer.detail,
        "code": "invalid_request",
    }


async def test_a_body_that_is_not_json_is_unsupported(conn: Conn) -> None:
    answer = await conn.post(TOKEN, data={"email": "a@example.com"})

    problem_response(answer, 415, "unsupported_media_type")


async def test_an_oversized_body_is_refused(conn: Conn) -> None:
    big = b'{"email": "' + b"a" * MAX_BODY + b'"}'

    answer = await conn.post(TOKEN, data=big, headers=JSON)

    problem_response(answer, 413, "payload_too_large")


async def test_an_oversized_chunked_body_is_refused(conn: Conn) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    answer = await conn.post(TOKEN, data=chunks(), headers=JSON)

    problem_response(answer, 413, "payload_too_large")


async def test_unknown_routes_and_methods_answer_in_the_api_shape(conn: Conn) -> None:
    missing = await conn.get("/api/v1/nothing-here")
    wrong_method = await conn.put("/api/v1/me")

    problem_response(missing, 404, "not_found")
    problem_response(wrong_method, 405, "method_not_allowed")
    assert "GET" in wrong_method.headers["Allow"]


async def test_pages_are_left_alone(conn: Conn) -> None:
    health = await conn.request("GET", "/health", token="garbage")

    assert json_response(health, 200)["status"] == "ok"
