"""Reading what a client sends: a JSON body (size-limited, an object, with typed fields),
bounded integers in the query string, and ids in the path.

Everything a client can get wrong here is answered 400 ``invalid_request`` with a message
naming the field or parameter, 413 ``payload_too_large`` or 415 ``unsupported_media_type``,
before a handler sees the data. An id that cannot be one (:func:`path_id`) is ``None``, which
the handler answers as it answers an id nobody has: 404.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .errors import ApiError

__all__ = ["MAX_BODY", "MAX_ID_DIGITS", "path_id", "query_int", "read_json", "string"]

MAX_BODY = 64 * 1024
"""Bytes an API request body may have; no API request needs more."""

MAX_ID_DIGITS = 18
"""Digits an id may have: any 18-digit number fits SQLite's INTEGER (a signed 64-bit)."""


async def read_json(request: web.Request, max_bytes: int = MAX_BODY) -> dict[str, Any]:
    """The body as a JSON object; raises :class:`ApiError` if it is anything else."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with Content-Type: application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    # Counted as it arrives, since a chunked body announces no length.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as e:
        raise ApiError(400, "invalid_request", f"the body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    return body


def string(body: dict[str, Any], name: str, *, max_length: int = 1000) -> str:
    """``body[name]``, which must be a non-empty string of at most ``max_length``
    characters."""
    value = body.get(name)
    if value is None:
        raise ApiError(400, "invalid_request", f"{name} is required")
    if not isinstance(value, str):
        raise ApiError(400, "invalid_request", f"{name} must be a string")
    if not value:
        raise ApiError(400, "invalid_request", f"{name} must not be empty")
    if len(value) > max_length:
        raise ApiError(400, "invalid_request",
                       f"{name} must be at most {max_length} characters")
    return value


def query_int(
    request: web.Request, name: str, *, default: int, minimum: int, maximum: int
) -> int:
    """The query parameter ``name`` as an integer from ``minimum`` to ``maximum``;
    ``default`` when it is absent."""
    raw = request.query.getone(name, None)
    if raw is None:
        return default
    # Plain digits only: int() would also take " 5", "+5", "5_000" and a thousand digits.
    digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum))
    value = int(raw) if digits else None
    if value is None or not minimum <= value <= maximum:
        raise ApiError(400, "invalid_request",
                       f"{name} must be an integer from {minimum} to {maximum}")
    return value


def path_id(request: web.Request, name: str = "id") -> int | None:
    """The path parameter ``name`` as a row id, or ``None`` if it cannot be one (not plain
    ASCII digits, or too long for SQLite's INTEGER)."""
    raw = request.match_info[name]
    if raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS:
        return int(raw)
    return None


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"the body must be at most {max_bytes} bytes")
