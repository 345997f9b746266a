"""The OpenAPI 3.1 document of the API, served at ``/api/openapi.json``.

It is made from the route table (``web.api.routes.ROUTES``) and the schemas below, once per
application: every route under each version's prefix and the unversioned one, who may call
it, its parameters, its body, and every answer it can give (the problem documents
included). ``tests/web/test_openapi.py`` keeps it true: it checks that the document lists
exactly the routes the router serves, and runs schemathesis against a live node, which sends
generated requests to every operation and checks each answer against the document.

Version 2's schemas are made from version 1's by the rule ``web.api.views.to_v2`` follows,
so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

import orjson
from aiohttp import web

from contexts import chat, posts
from contexts.api_keys import MAX_NAME as MAX_KEY_NAME

from .conditional import etag_of
from .pagination import MAX_CURSOR, MAX_PAGE
from .params import MAX_ID_DIGITS
from .routes import ROUTES, Route
from .versions import VERSIONS, media_type

__all__ = ["document", "serve"]

Schema = dict[str, Any]

_STRING = {"type": "string"}
_TIME = {"type": "number", "description": "Unix seconds"}
_ID = {"type": "integer", "minimum": 1}
_AUTHOR = {
    "type": "object",
    "required": ["id", "display_name"],
    "properties": {"id": _ID, "display_name": _STRING},
}

# Version 1 of each kind of thing, as its context's to_json() makes it.
_THINGS: dict[str, Schema] = {
    "post": {
        "type": "object",
        "required": ["id", "author", "title", "body", "published", "likes", "created_at",
                     "updated_at"],
        "properties": {
            "id": _ID, "author": _AUTHOR, "title": _STRING, "body": _STRING,
            "published": {"type": "boolean"}, "likes": {"type": "integer", "minimum": 0},
            "created_at": _TIME, "updated_at": _TIME,
        },
    },
    "room": {
        "type": "object",
        "required": ["id", "slug", "name", "created_at"],
        "properties": {"id": _ID, "slug": _STRING, "name": _STRING, "created_at": _TIME},
    },
    "message": {
        "type": "object",
        "required": ["id", "body", "author", "inserted_at"],
        "properties": {
            "id": _ID, "body": _STRING,
            "author": {"oneOf": [_AUTHOR, {"type": "null"}]},
            "inserted_at": {"type": "string", "description": "ISO 8601, UTC"},
        },
    },
    "user": {
        "type": "object",
        "required": ["id", "email", "role", "display_name", "created_at", "updated_at"],
        "properties": {
            "id": _ID, "email": _STRING, "role": {"enum": ["user", "moderator", "admin"]},
            "display_name": _STRING, "created_at": _TIME, "updated_at": _TIME,
        },
    },
}

_API_KEY = {
    "type": "object",
    "required": ["id", "name", "prefix", "created_at", "last_used_at", "revoked", "revoked_at"],
    "properties": {
        "id": _ID, "name": _STRING, "prefix": _STRING, "created_at": _TIME,
        "last_used_at": {"type": ["number", "null"]}, "revoked": {"type": "boolean"},
        "revoked_at": {"type": ["number", "null"]},
    },
}

_OTHER_BODIES: dict[str, Schema] = {
    "TokenPair": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "refresh_token"],
        "properties": {"access_token": _STRING, "token_type": {"const": "Bearer"},
                       "expires_in": {"type": "integer"}, "refresh_token": _STRING},
    },
    "ApiKey": _API_KEY,
    "ApiKeyCreated": {
        "allOf": [_API_KEY, {"type": "object", "required": ["key"],
                             "properties": {"key": _STRING}}],
    },
    "ApiKeyList": {"type": "object", "required": ["api_keys"],
                   "properties": {"api_keys": {"type": "array", "items": _API_KEY}}},
    "UserList": {"type": "object", "required": ["users"],
                 "properties": {"users": {"type": "array", "items": _THINGS["user"]}}},
    "Queue": {"type": "object", "required": ["items"],
              "properties": {"items": {"type": "array"}}},
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "format": "uri"}, "title": _STRING,
            "status": {"type": "integer"}, "detail": _STRING, "code": _STRING,
            "errors": {"type": "object",
                       "additionalProperties": {"type": "array", "items": _STRING}},
        },
    },
}

_TEXT = r"\S"
"""Some character that is not a space: blank fields are refused (422)."""


def _text(max_length: int) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": _TEXT}


_INPUTS: dict[str, Schema] = {
    "Login": {
        "type": "object", "required": ["email", "password"],
        "properties": {"email": _STRING, "password": _STRING},
    },
    "Refresh": {"type": "object", "required": ["refresh_token"],
                "properties": {"refresh_token": _STRING}},
    "ApiKeyInput": {"type": "object", "required": ["name"],
                    "properties": {"name": _text(MAX_KEY_NAME)}},
    "PostInput": {
        "type": "object", "required": ["title", "body"],
        "properties": {"title": _text(posts.MAX_TITLE), "body": _text(posts.MAX_BODY),
                       "published": {"type": "boolean"}},
    },
    "PostChanges": {
        "type": "object",
        "properties": {"title": _text(posts.MAX_TITLE), "body": _text(posts.MAX_BODY),
                       "published": {"type": "boolean"}},
    },
    "RoomInput": {
        "type": "object", "required": ["slug", "name"],
        "properties": {"slug": {"type": "string",
                                "pattern": f"^[a-z0-9-]{{1,{chat.MAX_SLUG}}}$"},
                       "name": _text(chat.MAX_NAME)},
    },
    "MessageInput": {"type": "object", "required": ["body"],
                     "properties": {"body": _text(chat.MAX_BODY)}},
}

# What each route takes and answers: (body schema, success status, success schema name or
# a kind for resources, "list:<kind>" for pages).
_SHAPES: dict[tuple[str, str], tuple[str | None, int, str | None]] = {
    ("POST", "/auth/token"): ("Login", 200, "TokenPair"),
    ("POST", "/auth/refresh"): ("Refresh", 200, "TokenPair"),
    ("DELETE", "/auth/token"): (None, 204, None),
    ("GET", "/me"): (None, 200, "user"),
    ("GET", "/api_keys"): (None, 200, "ApiKeyList"),
    ("POST", "/api_keys"): ("ApiKeyInput", 201, "ApiKeyCreated"),
    ("DELETE", "/api_keys/{id}"): (None, 200, "ApiKey"),
    ("GET", "/posts"): (None, 200, "list:post"),
    ("POST", "/posts"): ("PostInput", 201, "post"),
    ("GET", "/posts/{id}"): (None, 200, "post"),
    ("PATCH", "/posts/{id}"): ("PostChanges", 200, "post"),
    ("DELETE", "/posts/{id}"): (None, 204, None),
    ("POST", "/posts/{id}/like"): (None, 200, "post"),
    ("DELETE", "/posts/{id}/like"): (None, 200, "post"),
    ("GET", "/rooms"): (None, 200, "list:room"),
    ("POST", "/rooms"): ("RoomInput", 201, "room"),
    ("GET", "/rooms/{slug}"): (None, 200, "room"),
    ("GET", "/rooms/{slug}/messages"): (None, 200, "list:message"),
    ("POST", "/rooms/{slug}/messages"): ("MessageInput", 201, "message"),
    ("GET", "/moderation/queue"): (None, 200, "Queue"),
    ("GET", "/admin/users"): (None, 200, "UserList"),
}

_PARAMETERS: dict[str, Schema] = {
    "id": {"type": "integer", "minimum": 1, "maximum": 10**MAX_ID_DIGITS - 1},
    "slug": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
}

_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in [
        ("X-RateLimit-Limit", "Requests allowed per window"),
        ("X-RateLimit-Remaining", "Requests left in this window"),
        ("X-RateLimit-Reset", "When the window ends, Unix seconds"),
    ]
}


async def serve(request: web.Request) -> web.Response:
    """``GET /api/openapi.json``."""
    body, tag = _encoded()
    return web.Response(body=body, content_type="application/json",
                        headers={"Cache-Control": "public, max-age=300", "ETag": tag})


@functools.cache
def _encoded() -> tuple[bytes, str]:
    body = orjson.dumps(document())
    return body, etag_of(body)


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        for version in (*VERSIONS, None):
            prefix = "/api" if version is None else f"/api/v{version}"
            operation = _operation(route, version)
            paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    schemas: dict[str, Schema] = {**_OTHER_BODIES, **_INPUTS}
    for kind, schema in _THINGS.items():
        schemas[f"{kind}.v1"] = schema
        schemas[f"{kind}.v2"] = _v2(schema, kind)
    schemas["metadata"] = _METADATA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hearth API",
            "version": ".".join(str(v) for v in VERSIONS),
            "description": (
                "Versions 1 (flat JSON) and 2 (a JSON:API-style envelope), by path "
                "(/api/v1, /api/v2) or, under /api, by Accept: "
                + ", ".join(media_type(v) for v in VERSIONS)
                + ". Errors are application/problem+json. Every answer carries "
                "X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset."
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
    }


_METADATA: Schema = {
    "type": "object",
    "properties": {
        "page_number": {"type": "integer"}, "page_size": {"type": "integer"},
        "total_entries": {"type": "integer"}, "total_pages": {"type": "integer"},
        "limit": {"type": "integer"}, "next_cursor": {"type": ["string", "null"]},
    },
}


def _operation(route: Route, version: int | None) -> dict[str, Any]:
    body, status, answer = _SHAPES[(route.method, route.path)]
    names = re.findall(r"\{(\w+)\}", route.path)
    parameters: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": _PARAMETERS[name]}
        for name in names
    ]
    listing = answer is not None and answer.startswith("list:")
    if listing:
        parameters += _page_parameters()
    if version is None:
        parameters.append({
            "name": "Accept", "in": "header", "required": False,
            "schema": {"enum": ["application/json", *(media_type(v) for v in VERSIONS)]},
        })
    tag = route.path.split("/")[1]
    operation: dict[str, Any] = {
        "summary": route.doc,
        "operationId": _operation_id(route, version),
        "tags": [tag],
        "parameters": parameters,
        "responses": _responses(route, version, body, status, answer),
    }
    if route.role is None:
        operation["security"] = []
    else:
        operation["description"] = f"Needs the {route.role} role or a higher one."
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return operation


def _page_parameters() -> list[Schema]:
    size = {"type": "integer", "minimum": 1, "maximum": 100}
    return [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                   "maximum": MAX_PAGE}},
        {"name": "page_size", "in": "query", "schema": size},
        {"name": "limit", "in": "query", "schema": size},
        {"name": "cursor", "in": "query", "schema": {"type": "string",
                                                     "maxLength": MAX_CURSOR}},
    ]


def _responses(route: Route, version: int | None, body: str | None, status: int,
               answer: str | None) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": "Success", "headers": dict(_RATE_HEADERS)}
    if answer is not None:
        content = {}
        for v in (VERSIONS if version is None else (version,)):
            media = "application/json" if version is not None or v == 1 else media_type(v)
            content[media] = {"schema": _answer_schema(answer, v)}
            if version is None and v == 1:
                content[media_type(1)] = {"schema": _answer_schema(answer, 1)}
        success["content"] = content
    if route.method == "GET":
        success["headers"]["ETag"] = {"schema": {"type": "string"}}
    responses[str(status)] = success
    if route.method == "GET":
        responses["304"] = {"description": "Not modified (If-None-Match)"}
    problems = {400: "Bad request", 404: "Not found", 405: "Method not allowed",
                406: "Not acceptable", 429: "Over the rate limit"}
    if route.role is not None or route.path.startswith("/auth"):
        problems[401] = "No valid credentials"
    if route.role is not None:
        problems[403] = "Not allowed"
    if body is not None:
        problems.update({413: "Body too large", 415: "Body not JSON",
                         422: "Invalid fields"})
    if route.method in ("PATCH", "DELETE") and route.path.startswith("/posts/{id}"):
        problems[412] = "Changed since read (If-Match)"
    if route.path in ("/posts/{id}/like", "/rooms", "/api_keys"):
        problems[409] = "Conflicts with what is stored"
    for code, text in sorted(problems.items()):
        responses[str(code)] = {
            "description": text,
            "headers": dict(_RATE_HEADERS),
            "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return responses


def _answer_schema(answer: str, version: int) -> Schema:
    if answer.startswith("list:"):
        kind = answer.removeprefix("list:")
        item = {"$ref": f"#/components/schemas/{kind}.v{version}"}
        meta = {"$ref": "#/components/schemas/metadata"}
        if version == 1:
            return {"type": "object", "required": ["data", "metadata"],
                    "properties": {"data": {"type": "array", "items": item}, "metadata": meta}}
        return {"type": "object", "required": ["data", "meta", "links"],
                "properties": {"data": {"type": "array", "items": item}, "meta": meta,
                               "links": {"type": "object",
                                         "additionalProperties": {"type": "string"}}}}
    if answer in _THINGS:
        ref = {"$ref": f"#/components/schemas/{answer}.v{version}"}
        if version == 1:
            return ref
        return {"type": "object", "required": ["data"], "properties": {"data": ref}}
    return {"$ref": f"#/components/schemas/{answer}"}


def _v2(schema: Schema, kind: str) -> Schema:
    """Version 2 of a version 1 schema, by the rule of ``web.api.views.to_v2``."""
    attributes: dict[str, Schema] = {}
    relationships: dict[str, Schema] = {}
    for name, field in schema["properties"].items():
        if name == "id":
            continue
        if field is _AUTHOR or field.get("oneOf", [None])[0] is _AUTHOR:
            related = {"type": "object", "required": ["type", "id"],
                       "properties": {"type": {"const": "user"}, "id": _STRING}}
            relationships[name] = {"type": "object", "required": ["data", "meta"],
                                   "properties": {"data": related, "meta": {"type": "object"}}}
        elif field is _TIME:
            attributes[name] = {"type": "string", "description": "ISO 8601, UTC"}
        else:
            attributes[name] = copy.deepcopy(field)
    nullable_author = "author" in schema["properties"] and "oneOf" in schema["properties"]["author"]
    result: Schema = {
        "type": "object",
        "required": ["type", "id", "attributes"],
        "properties": {
            "type": {"const": kind},
            "id": {"type": "string"},
            "attributes": {"type": "object", "properties": attributes},
        },
    }
    if relationships:
        result["properties"]["relationships"] = {"type": "object",
                                                 "properties": relationships}
    if nullable_author:  # a deleted author is a null attribute, not a relationship
        result["properties"]["attributes"]["properties"]["author"] = {"type": "null"}
    return result


def _operation_id(route: Route, version: int | None) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("/", "_")
    return f"{route.method.lower()}_{words}_{'v' + str(version) if version else 'negotiated'}"
