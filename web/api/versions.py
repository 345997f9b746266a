"""API versions: which one a request asked for, by its path or its ``Accept`` header.

``/api/v1/...`` and ``/api/v2/...`` name their version. An unversioned ``/api/...`` route
reads ``Accept``: ``application/vnd.hearth.v2+json`` asks for version 2 (and is the
``Content-Type`` of the answer), ``application/vnd.hearth.v1+json`` for version 1, and plain
JSON (``application/json``, ``*/*``, or no ``Accept`` at all) gets :data:`DEFAULT`. A
version this server does not have, or an ``Accept`` no version can satisfy, is answered 406
``not_acceptable``; so is a path naming an unknown version (``/api/v9/posts``).

Of several vendor types the one with the highest ``q`` wins, the newer version on a tie.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from aiohttp import web

from .errors import ApiError

__all__ = ["DEFAULT", "VERSION", "VERSIONS", "Negotiated", "media_type", "negotiate",
           "not_acceptable"]

VERSIONS = (1, 2)
DEFAULT = 1

VERSION = web.RequestKey("api_version", int)
"""The version of the answer, set by the route before the handler runs."""

_VENDOR = re.compile(r"application/vnd\.hearth\.v(\d{1,3})\+json")
_PLAIN = frozenset({"application/json", "application/*", "*/*"})
MAX_ACCEPT = 2048
"""Characters of ``Accept`` read; a longer header is refused."""


class Negotiated(NamedTuple):
    """The version chosen and the ``Content-Type`` to answer with."""

    version: int
    content_type: str


def media_type(version: int) -> str:
    """The vendor media type of ``version``."""
    return f"application/vnd.hearth.v{version}+json"


def negotiate(accept: str | None) -> Negotiated:
    """The version ``accept`` asks for; raises the 406 :class:`ApiError` if none fits."""
    if accept is None or not accept.strip():
        return Negotiated(DEFAULT, "application/json")
    if len(accept) > MAX_ACCEPT:
        raise not_acceptable("the Accept header is too long")
    vendor: list[tuple[float, int]] = []
    unknown: list[int] = []
    plain = False
    for media, q in _ranges(accept):
        if q <= 0:
            continue
        match = _VENDOR.fullmatch(media)
        if match is not None:
            version = int(match.group(1))
            if version in VERSIONS:
                vendor.append((q, version))
            else:
                unknown.append(version)
        elif media in _PLAIN:
            plain = True
    if vendor:
        version = max(vendor)[1]
        return Negotiated(version, media_type(version))
    if plain:
        return Negotiated(DEFAULT, "application/json")
    if unknown:
        raise not_acceptable(f"API version {unknown[0]} does not exist")
    raise not_acceptable("the Accept header allows no JSON")


def not_acceptable(why: str) -> ApiError:
    """The 406 for a version that cannot be given."""
    versions = ", ".join(media_type(v) for v in VERSIONS)
    return ApiError(406, "not_acceptable",
                    f"{why}; this server answers {versions} or application/json")


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = part.split(";")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        ranges.append((media.strip().lower(), q))
    return ranges
