"""Conditional requests and compression for API answers (seed Example 50).

ETags. Every successful ``GET`` (and ``HEAD``) answer carries a strong ``ETag``: a hash of
the exact bytes of the body. A client that sends it back in ``If-None-Match`` gets 304 Not
Modified with no body while the thing is unchanged. Those answers are
``Cache-Control: private, no-cache``: a browser may keep them, and asks again each time
(API answers carry personal data, so no shared cache may keep them; the OpenAPI document,
which does not, is public). A ``PATCH`` or
``DELETE`` with ``If-Match`` goes ahead only if the thing still has that ETag, else 412
``precondition_failed`` (:func:`check_if_match`).

Compression. An answer of at least ``api.compress_min_bytes`` (1 KB) is gzipped when the
request's ``Accept-Encoding`` allows gzip. The gzipped answer is another representation, so
its ETag is the plain one with ``-gzip`` appended (a strong ETag names exact bytes);
``If-None-Match`` and ``If-Match`` accept either form. Every API answer says
``Vary: Accept-Encoding``. Compressed bodies of ``GET`` answers are kept by ETag in a small
cache, so a page read again and again is compressed once. Bodies of
:data:`DIRTY_BYTES` or more are compressed on the dirty pool, off the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections import OrderedDict

from aiohttp import hdrs, web

import otp

from ..keys import CONFIG
from .errors import ApiError
from .views import Resource, render

__all__ = ["DIRTY_BYTES", "check_if_match", "etag_of", "finish"]

GZIP_SUFFIX = "-gzip"
DIRTY_BYTES = 256 * 1024
"""Bodies this large are compressed on the dirty pool."""
CACHE_ENTRIES = 256
CACHE_MAX_BODY = 512 * 1024
MAX_CONDITION = 4096
"""Characters of ``If-None-Match`` / ``If-Match`` read; a longer one matches nothing."""

_KEPT_BY_304 = frozenset({hdrs.CACHE_CONTROL, hdrs.VARY, "API-Version", hdrs.LINK})

_compressed: OrderedDict[str, bytes] = OrderedDict()


def etag_of(body: bytes) -> str:
    """The strong ETag of ``body``."""
    digest = hashlib.blake2b(body, digest_size=15).digest()
    return f'"{base64.urlsafe_b64encode(digest).decode()}"'


async def finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """``response`` with its ETag and ``Vary``, gzipped if it should be, or the 304 that
    replaces it (called by ``web.api.pipeline`` for every API answer)."""
    if type(response) is not web.Response or response.body is None:
        return response
    body = response.body
    assert isinstance(body, bytes)
    response.headers[hdrs.VARY] = _vary(response.headers.get(hdrs.VARY))
    tag: str | None = None
    if request.method in (hdrs.METH_GET, hdrs.METH_HEAD) and response.status == 200:
        # Kept answers (web.api.cache) come with theirs.
        tag = response.headers.get(hdrs.ETAG) or etag_of(body)
        if response.headers.get(hdrs.CACHE_CONTROL, "no-store") == "no-store":
            response.headers[hdrs.CACHE_CONTROL] = "private, no-cache"
        if _matches(request.headers.get(hdrs.IF_NONE_MATCH), tag, weak=True):
            return _not_modified(response, tag)
    if len(body) >= request.app[CONFIG].api.compress_min_bytes and _accepts_gzip(request):
        response.body = await _gzip(body, tag)
        response.headers[hdrs.CONTENT_ENCODING] = "gzip"
        if tag is not None:
            tag = tag[:-1] + GZIP_SUFFIX + '"'
    if tag is not None:
        response.headers[hdrs.ETAG] = tag
    return response


def check_if_match(request: web.Request, current: Resource) -> None:
    """Raise 412 ``precondition_failed`` unless the request's ``If-Match`` (if any) names
    the ETag a ``GET`` of ``current`` would answer with, in this request's version."""
    header = request.headers.get(hdrs.IF_MATCH)
    if header is None:
        return
    body = render(request, current, "application/json").body
    assert isinstance(body, bytes)
    if not _matches(header, etag_of(body), weak=False):
        raise ApiError(412, "precondition_failed",
                       "it changed since you read it (If-Match); read it again and retry")


def _matches(header: str | None, tag: str, weak: bool) -> bool:
    """Whether ``header`` (If-None-Match: ``weak`` comparison; If-Match: strong) names
    ``tag`` or its gzip form."""
    if header is None or len(header) > MAX_CONDITION:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            if not weak:
                continue
            candidate = candidate[2:]
        if candidate.endswith(GZIP_SUFFIX + '"'):
            candidate = candidate[: -len(GZIP_SUFFIX) - 1] + '"'
        if candidate == tag:
            return True
    return False


def _not_modified(response: web.Response, tag: str) -> web.Response:
    headers = {name: value for name, value in response.headers.items()
               if name in _KEPT_BY_304 or name.startswith("X-RateLimit-")}
    return web.Response(status=304, headers={**headers, hdrs.ETAG: tag})


def _vary(existing: str | None) -> str:
    if not existing:
        return hdrs.ACCEPT_ENCODING
    if hdrs.ACCEPT_ENCODING.lower() in existing.lower():
        return existing
    return f"{existing}, {hdrs.ACCEPT_ENCODING}"


def _accepts_gzip(request: web.Request) -> bool:
    header = request.headers.get(hdrs.ACCEPT_ENCODING)
    if not header or len(header) > MAX_CONDITION:
        return False
    for coding in header.split(","):
        name, *params = coding.split(";")
        if name.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        refused = any(p.strip().replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
                      for p in params)
        if not refused:
            return True
    return False


async def _gzip(body: bytes, tag: str | None) -> bytes:
    key = tag if tag is not None and len(body) <= CACHE_MAX_BODY else None
    if key is not None and key in _compressed:
        _compressed.move_to_end(key)
        return _compressed[key]
    if len(body) >= DIRTY_BYTES:
        packed = await otp.run_dirty(_compress, body)
    else:
        packed = _compress(body)
    if key is not None:
        _compressed[key] = packed
        if len(_compressed) > CACHE_ENTRIES:
            _compressed.popitem(last=False)
    return packed


def _compress(body: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    return packer.compress(body) + packer.flush()

