"""The OpenAPI document: it lists every route the router serves, and schemathesis, run
against a live node, finds no answer that breaks it and no 5xx."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest

from contexts import chat, posts
from web.api.openapi import document
from web.api.routes import OPENAPI_PATH, ROUTES, versioned_paths
from web.endpoint import build_app

from ._api import api_node, config_for

ST = Path(sys.executable).with_name("st")
SCHEMATHESIS_CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def test_the_document_describes_every_route_the_router_serves(tmp_path: Path) -> None:
    app = build_app(config_for(tmp_path))
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


async def test_the_document_is_served_to_anyone(tmp_path: Path) -> None:
    async with api_node(tmp_path) as node:
        answer = await node.request("GET", OPENAPI_PATH)

        again = await node.request("GET", OPENAPI_PATH,
                                   headers={"If-None-Match": answer.headers["ETag"]})

        assert answer.status == 200
        assert answer.body == orjson.loads(orjson.dumps(document()))
        assert answer.headers["Cache-Control"] == "public, max-age=300"
        assert again.status == 304


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed")
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path,
) -> None:
    async with api_node(tmp_path, auth__access_token_ttl=3600.0) as node:
        admin = await node.user("admin@example.com", "admin")
        for n in range(3):
            await posts.create_post(admin.id, f"Post {n}", "Body " * 50)
        lobby = await chat.get_room(chat.LOBBY)
        assert lobby is not None
        await chat.post_message(lobby.id, admin.id, "Hello")
        token = (await node.login("admin@example.com"))["access_token"]

        process = await asyncio.create_subprocess_exec(
            str(ST), "run", node.url + OPENAPI_PATH,
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
