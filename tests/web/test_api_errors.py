"""The API's error envelope: every refusal is an ``application/problem+json`` document
(RFC 9457) with its status, a stable ``code`` and a ``detail`` for people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from web.api.params import MAX_BODY

from ._api import api_node

TOKEN = "/api/v1/auth/token"


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
async def test_a_bad_body_is_an_invalid_request(
    tmp_path: Path, body: bytes, message: str
) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("POST", TOKEN, data=body,
                                    headers={"Content-Type": "application/json"})

        assert answer.status == 400
        assert answer.code == "invalid_request"
        assert message in answer.detail
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.body == {
            "type": "urn:hearth:problem:invalid_request",
            "title": "Bad Request",
            "status": 400,
            "detail": answer.detail,
            "code": "invalid_request",
        }


async def test_a_body_that_is_not_json_is_unsupported(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("POST", TOKEN, data={"email": "a@example.com"})

        assert answer.status == 415
        assert answer.code == "unsupported_media_type"


async def test_an_oversized_body_is_refused(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        big = b'{"email": "' + b"a" * MAX_BODY + b'"}'

        answer = await node.request("POST", TOKEN, data=big,
                                    headers={"Content-Type": "application/json"})

        assert answer.status == 413
        assert answer.code == "payload_too_large"


async def test_an_oversized_chunked_body_is_refused(tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "'
        for _ in range(MAX_BODY // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    async with api_node(tmp_path) as node:
        answer = await node.request("POST", TOKEN, data=chunks(),
                                    headers={"Content-Type": "application/json"})

        assert answer.status == 413
        assert answer.code == "payload_too_large"


async def test_unknown_routes_and_methods_answer_in_the_api_shape(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        missing = await node.request("GET", "/api/v1/nothing-here")
        wrong_method = await node.request("PUT", "/api/v1/me")

        assert missing.status == 404
        assert missing.code == "not_found"
        assert wrong_method.status == 405
        assert wrong_method.code == "method_not_allowed"
        assert "GET" in wrong_method.headers["Allow"]


async def test_pages_are_left_alone(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        health = await node.request("GET", "/health", token="garbage")

        assert health.status == 200
        assert health.body["status"] == "ok"
