"""The API's one error shape, ``{"error": {"code": ..., "message": ...}}``, and its middleware.

A handler (or a guard, or the body reader) raises :class:`ApiError`; the middleware turns it,
and aiohttp's own HTTP errors on ``/api/`` paths (no such route, wrong method, body too large),
into that shape. ``code`` is stable and meant for programs; ``message`` is for people.
A context's ``ValidationError`` (``contexts.validation``) is answered 422
``validation_failed``, its field errors under ``"fields"``::

    {"error": {"code": "validation_failed", "message": "...",
               "fields": {"title": ["can't be blank"]}}}

so a handler passes the client's values to the context and lets it judge them.
An unexpected exception is logged with its traceback and answered 500 ``internal_error``,
without its details.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from contexts.validation import ValidationError

__all__ = ["ApiError", "error_response", "is_api", "json_response", "middleware"]

PREFIX = "/api/"

log = logging.getLogger(__name__)

# aiohttp's own refusals, by status, as API error codes.
_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """Raised by API code to answer ``status`` with ``{"error": {"code", "message"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The JSON response this error stands for."""
        return error_response(self.status, self.code, self.message, self.headers)


def is_api(request: web.BaseRequest) -> bool:
    """Whether ``request`` is for the JSON API (and so for its middlewares)."""
    return request.path.startswith(PREFIX)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    """``body`` as JSON (orjson), with ``Cache-Control: no-store``: API answers carry
    credentials and personal data, and no cache should keep them."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    fields: Mapping[str, list[str]] | None = None,
) -> web.Response:
    """The API's error shape; ``fields``, when given, maps each bad field to its messages."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = dict(fields)
    return json_response({"error": error}, status, headers)


def _message(request: web.Request, e: web.HTTPException) -> str:
    if e.status == 404:
        return f"no API route {request.method} {request.path}"
    if e.status == 405:
        allowed = e.headers.get("Allow", "")
        return f"{request.path} does not answer {request.method}; it answers {allowed}"
    return e.reason


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answers every error on an ``/api/`` path in the API's shape; other paths pass by."""
    if not is_api(request):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as e:
        return e.response()
    except ValidationError as e:
        return error_response(422, "validation_failed", f"invalid fields: {e}",
                              fields=e.errors)
    except web.HTTPException as e:
        if e.status < 400:  # a redirect or a success raised as an exception: not an error
            raise
        headers = {k: v for k, v in e.headers.items() if k in ("Allow", "Retry-After")}
        code = _HTTP_CODES.get(e.status, "http_error")
        return error_response(e.status, code, _message(request, e), headers)
    except Exception:
        log.exception("API request %s %s failed", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
