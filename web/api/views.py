"""What a resource looks like in each API version.

Handlers are the same for every version: they return a :class:`Resource` (one thing) or a
:class:`Collection` (a page of things), each item as its context's ``to_json()`` gives it,
and :func:`render` shapes the answer for the version the request asked for.

Version 1, flat (seed Example 47)::

    GET /api/v1/posts/7   {"id": 7, "title": "...", "author": {"id": 3, ...}, "created_at": 1.7e9}
    GET /api/v1/posts     {"data": [...], "metadata": {"page_number": 1, "page_size": 20,
                                                       "total_entries": 42, "total_pages": 3}}

Version 2, a JSON:API-style envelope: ``id`` is a string, the other fields are
``attributes``, a nested object with an ``id`` (a post's author) is a relationship, and times
are ISO 8601 in UTC rather than Unix seconds::

    GET /api/v2/posts/7   {"data": {"type": "post", "id": "7",
                                    "attributes": {"title": "...", "created_at": "2026-...Z"},
                                    "relationships": {"author": {"data": {"type": "user",
                                                                          "id": "3"}}}}}
    GET /api/v2/posts     {"data": [...], "meta": {...}, "links": {"first": ..., "next": ...}}

Lists carry a ``Link`` header in both versions (``web.api.pagination``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .errors import json_response
from .pagination import Page, link_header, links
from .versions import VERSION

__all__ = ["Collection", "Resource", "render", "to_v2"]

RELATIONSHIP_TYPES = {"author": "user", "user": "user", "room": "room"}
"""The resource type of a related object, by the field that holds it."""


@dataclass(frozen=True)
class Resource:
    """One ``kind`` of thing (``"post"``), as its ``to_json()``."""

    kind: str
    data: Mapping[str, Any]
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Collection:
    """A page of things of one ``kind``, each as its ``to_json()``."""

    kind: str
    page: Page


def render(request: web.Request, result: Resource | Collection, content_type: str
           ) -> web.Response:
    """``result`` in the shape of the request's version."""
    version = request[VERSION]
    headers: dict[str, str] = {"API-Version": str(version)}
    if isinstance(result, Resource):
        headers.update(result.headers)
        body = result.data if version == 1 else {"data": to_v2(result.kind, result.data)}
        return json_response(body, result.status, headers, content_type)
    page = result.page
    found = links(request, page)
    headers["Link"] = link_header(found)
    if version == 1:
        body = {"data": list(page.items), "metadata": page.metadata()}
    else:
        body = {
            "data": [to_v2(result.kind, item) for item in page.items],
            "meta": page.metadata(),
            "links": found,
        }
    return json_response(body, 200, headers, content_type)


def to_v2(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One thing in version 2's shape."""
    attributes: dict[str, Any] = {}
    relationships: dict[str, Any] = {}
    for name, value in data.items():
        if name == "id":
            continue
        if isinstance(value, Mapping) and "id" in value:
            related = RELATIONSHIP_TYPES.get(name, name)
            extra = {k: v for k, v in value.items() if k != "id"}
            relationships[name] = {"data": {"type": related, "id": str(value["id"])},
                                   "meta": extra}
        elif name.endswith("_at") and type(value) in (int, float):  # not a bool
            attributes[name] = _iso(value)
        else:
            attributes[name] = value
    resource: dict[str, Any] = {"type": kind, "id": str(data["id"]), "attributes": attributes}
    if relationships:
        resource["relationships"] = relationships
    return resource


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
