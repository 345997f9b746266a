"""Answers of public reads, kept rendered while the data behind them is unchanged.

A route whose answer is the same for every caller (the list of published posts) names a
``stamp``: a function whose value changes whenever that data changes
(``contexts.posts.generation``). Its rendered answer is kept by version, content type, path
and query, and stamp; a request that finds one is answered with the same bytes and ETag
without reading the database, rendering or hashing again. A new stamp makes every older
entry unreachable, and the least recently used ones are dropped past :data:`MAX_ENTRIES` or
:data:`MAX_BYTES`, so the cache can never answer with data that changed.

The guards run before the cache: who may read is checked on every request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web

from .conditional import etag_of
from .versions import VERSION

__all__ = ["ANSWERS", "CONTENT_TYPE", "Answers", "cached"]

MAX_ENTRIES = 1024
MAX_BODY = 256 * 1024
MAX_BYTES = 32 * 1024 * 1024

CONTENT_TYPE = web.RequestKey("api_content_type", str)
"""The ``Content-Type`` the request's version answers with, set with its ``VERSION``."""

_KEPT_HEADERS = (hdrs.CONTENT_TYPE, hdrs.CACHE_CONTROL, hdrs.LINK, hdrs.ETAG, "API-Version")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Entry:
    __slots__ = ("body", "headers")

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body = body
        self.headers = headers


class Answers:
    """The kept answers of one application."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Any, _Entry] = OrderedDict()
        self._bytes = 0

    def get(self, key: Any) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Any, entry: _Entry) -> None:
        if len(entry.body) > MAX_BODY:
            return
        self._entries[key] = entry
        self._bytes += len(entry.body)
        while len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.body)


ANSWERS = web.AppKey("api_answers", Answers)


def cached(stamp: Callable[[], int]) -> Callable[[Handler], Handler]:
    """Keep the 200 answers of a ``GET`` handler (one that renders its answer) by
    ``stamp()``."""

    def wrap(handler: Handler) -> Handler:
        async def caching(request: web.Request) -> web.StreamResponse:
            answers = request.app[ANSWERS]
            key = (request[VERSION], request[CONTENT_TYPE], request.path_qs, stamp())
            entry = answers.get(key)
            if entry is None:
                response = await handler(request)
                if type(response) is not web.Response or response.status != 200:
                    return response
                body = response.body
                if not isinstance(body, bytes):
                    return response
                response.headers[hdrs.ETAG] = etag_of(body)
                headers = {name: response.headers[name] for name in _KEPT_HEADERS
                           if name in response.headers}
                if key[3] == stamp():  # unchanged while it was being read
                    answers.put(key, _Entry(body, headers))
                return response
            return web.Response(body=entry.body, headers=entry.headers)

        return caching

    return wrap
