"""Pagination of list routes: by page number, or by cursor.

Offset pagination (seed Example 46): ``?page=`` (from 1) and ``?page_size=`` (default
``api.default_page_size``, at most ``api.max_page_size``). The answer says where it is:
``page_number``, ``page_size``, ``total_entries`` and ``total_pages``, and a ``Link`` header
(RFC 8288) points at the ``first``, ``prev``, ``next`` and ``last`` pages. A page past the
last one is empty, not an error.

Cursor pagination (seed Example 50): ``?limit=`` (same bounds as ``page_size``) and, after
the first request, ``?cursor=`` with the ``next_cursor`` of the last answer. A cursor is
opaque to clients and names the last item already seen, so the next page starts right after
it however many items were added in front meanwhile: no item is skipped or shown twice.
``next_cursor`` is ``null`` on the last page. A cursor that does not decode, or that was made
for another list, is answered 400 ``invalid_request``.

Sending ``cursor`` or ``limit`` chooses cursor pagination; mixing them with ``page`` or
``page_size`` is a 400.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from ..keys import CONFIG
from .errors import ApiError
from .params import query_int

__all__ = ["Page", "PageRequest", "decode_cursor", "encode_cursor", "link_header", "links",
           "page_request", "paginate"]

MAX_PAGE = 1_000_000
MAX_CURSOR = 200
"""Characters of a cursor; the server's own are under 40."""


@dataclass(frozen=True)
class PageRequest:
    """What slice a client asked for: ``limit`` items, from ``offset`` (pages) or after
    the item ``after`` (cursors; ``None`` for the first page)."""

    cursor_mode: bool
    limit: int
    page: int = 1
    after: int | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class Page:
    """One page of a list, and where it sits in the whole."""

    items: Sequence[Any]
    request: PageRequest
    total_entries: int | None = None
    next_cursor: str | None = None

    def with_items(self, items: Sequence[Any]) -> Page:
        """The same page holding ``items`` (the found things turned into JSON)."""
        return dataclasses.replace(self, items=items)

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil((self.total_entries or 0) / self.request.limit))

    def metadata(self) -> dict[str, Any]:
        """``page_number``, ``page_size``, ``total_entries``, ``total_pages``; or, for a
        cursor page, ``limit`` and ``next_cursor``."""
        if self.request.cursor_mode:
            return {"limit": self.request.limit, "next_cursor": self.next_cursor}
        return {
            "page_number": self.request.page,
            "page_size": self.request.limit,
            "total_entries": self.total_entries,
            "total_pages": self.total_pages,
        }


def page_request(request: web.Request) -> PageRequest:
    """The slice ``request`` asks for; raises the 400 for bad parameters."""
    api = request.app[CONFIG].api
    query = request.query
    size = {"default": api.default_page_size, "minimum": 1, "maximum": api.max_page_size}
    if "cursor" in query or "limit" in query:
        if "page" in query or "page_size" in query:
            raise ApiError(400, "invalid_request",
                           "use page and page_size, or cursor and limit, not both")
        limit = query_int(request, "limit", **size)
        raw = query.getone("cursor", None)
        return PageRequest(True, limit, after=None if raw is None else decode_cursor(raw))
    return PageRequest(
        False,
        query_int(request, "page_size", **size),
        page=query_int(request, "page", default=1, minimum=1, maximum=MAX_PAGE),
    )


async def paginate(
    wanted: PageRequest,
    fetch: Callable[[int, int, int | None], Awaitable[Sequence[Any]]],
    count: Callable[[], Awaitable[int]],
) -> Page:
    """The page ``wanted`` asks for: ``fetch(limit, offset, after_id)`` reads items newest
    first (``after_id``: only ids below it), ``count()`` how many there are in all."""
    if wanted.cursor_mode:
        # One more than asked tells whether there is a next page.
        found = await fetch(wanted.limit + 1, 0, wanted.after)
        items = found[: wanted.limit]
        more = len(found) > wanted.limit
        return Page(items, wanted, next_cursor=encode_cursor(items[-1].id) if more else None)
    items = await fetch(wanted.limit, wanted.offset, None)
    return Page(items, wanted, total_entries=await count())


def encode_cursor(last_id: int) -> str:
    """The cursor of the page after the item ``last_id``."""
    return base64.urlsafe_b64encode(orjson.dumps({"after": last_id})).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    """The item id a cursor made by :func:`encode_cursor` names; raises the 400."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if type(after) is not int or not 0 < after < 2**63:
            raise ValueError
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise ApiError(400, "invalid_request",
                       "cursor is not one this server made; start again without it") from None
    return after


def links(request: web.Request, page: Page) -> dict[str, str]:
    """The URLs of the neighbouring pages (``first``, ``prev``, ``next``, ``last``; for
    cursors ``first`` and ``next``), relative to this server, keeping the other query
    parameters."""
    kept = {k: v for k, v in request.query.items()
            if k not in ("page", "page_size", "cursor", "limit")}

    def url(**params: Any) -> str:
        return f"{request.path}?{urlencode({**kept, **params})}"

    wanted = page.request
    if wanted.cursor_mode:
        found = {"first": url(limit=wanted.limit)}
        if page.next_cursor is not None:
            found["next"] = url(limit=wanted.limit, cursor=page.next_cursor)
        return found
    size, last = wanted.limit, page.total_pages
    found = {"first": url(page=1, page_size=size)}
    if wanted.page > 1:
        found["prev"] = url(page=min(wanted.page - 1, last), page_size=size)
    if wanted.page < last:
        found["next"] = url(page=wanted.page + 1, page_size=size)
    found["last"] = url(page=last, page_size=size)
    return found


def link_header(found: dict[str, str]) -> str:
    """``found`` as a ``Link`` header value."""
    return ", ".join(f'<{target}>; rel="{rel}"' for rel, target in found.items())
