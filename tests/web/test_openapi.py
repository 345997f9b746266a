"""The OpenAPI document: it lists every route the router serves, and schemathesis, run
against a live node, finds no answer that breaks it and no 5xx."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest

from contexts import chat
from hearth.testing import Conn, TestNode, insert, json_response, test_config
from web.api.openapi import document
from web.api.routes import OPENAPI_PATH, ROUTES, versioned_paths
from web.endpoint import build_app

ST = Path(sys.executable).with_name("st")
SCHEMATHESIS_CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def test_the_document_describes_every_route_the_router_serves(tmp_path: Path) -> None:
    app = build_app(test_config(tmp_path))
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method not in ("HEAD", "*")
        and route.resource.canonical != OPENAPI_PATH
    }
    doc = document()

    described = {(method, path) for path, item in doc["paths"].items() for method in item}

    assert doc["openapi"] == "3.1.0"
    assert described == served
    assert len(described) == 3 * len(ROUTES)
    for route in ROUTES:
        for path in versioned_paths(route):
            operation = doc["paths"][path][route.method.lower()]
            assert ("security" in operation) == (route.role is None), path
            assert "429" in operation["responses"], path


async def test_the_document_is_served_to_anyone(conn: Conn) -> None:
    answer = await conn.get(OPENAPI_PATH)

    again = await conn.get(OPENAPI_PATH, headers={"If-None-Match": answer.headers["ETag"]})

    assert json_response(answer, 200) == orjson.loads(orjson.dumps(document()))
    assert answer.headers["Cache-Control"] == "public, max-age=300"
    assert again.status == 304


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed")
@pytest.mark.hearth_config(auth__access_token_ttl=3600.0)
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    hearth_node: TestNode, tmp_path: Path
) -> None:
    admin = await insert("user", "admin")
    for n in range(3):
        await insert("post", author=admin, title=f"Post {n}", body="Body " * 50)
    lobby = await chat.get_room(chat.LOBBY)
    assert lobby is not None
    await insert("message", room=lobby, author=admin, body="Hello")
    token = (await hearth_node.tokens.issue(admin)).access_token

    process = await asyncio.create_subprocess_exec(
        str(ST), "run", hearth_node.url + OPENAPI_PATH,
        "--checks", SCHEMATHESIS_CHECKS,
        "--header", f"Authorization: Bearer {token}",
        # Logging out would leave the rest of the run without a caller.
        "--exclude-path-regex", r"/auth/token$",
        "--max-examples", "15",
        "--phases", "examples,coverage,fuzzing",
        "--seed", "1",
        "--workers", "1",
        "--report-dir", str(tmp_path / "report"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its cache directory
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    out, _ = await process.communicate()

    assert process.returncode == 0, out.decode()[-6000:]
