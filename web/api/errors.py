"""The API's one error envelope, ``application/problem+json`` (RFC 9457).

A handler (or a guard, or the body reader) raises :class:`ApiError`; :func:`problem_for`
(called by the API's middleware, ``web.api.pipeline``) turns it, and aiohttp's own HTTP errors
on ``/api/`` paths (no such route, wrong method, body too large), into a problem document::

    {"type": "urn:hearth:problem:not_found", "title": "Not Found", "status": 404,
     "detail": "no such post", "code": "not_found"}

``code`` is stable and meant for programs; ``detail`` is for people; ``type`` is ``code`` as
the URI RFC 9457 asks for. A context's ``Conflict`` (``contexts.validation``) is answered
409 with its own code, and its ``ValidationError`` 422 ``validation_failed``, each bad
field's messages under ``"errors"``::

    {"type": "urn:hearth:problem:validation_failed", "title": "Unprocessable Content",
     "status": 422, "detail": "invalid fields: title", "code": "validation_failed",
     "errors": {"title": ["can't be blank"]}}

so a handler passes the client's values to the context and lets it judge them.
An unexpected exception is logged with its traceback and answered 500 ``internal_error``,
without its details: no input a client sends should get there, and the schemathesis run in
``tests/web/test_openapi.py`` looks for one.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from contexts.validation import Conflict, ValidationError

__all__ = ["PROBLEM_JSON", "ApiError", "error_response", "is_api", "json_response",
           "problem_for"]

PREFIX = "/api/"
PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:hearth:problem:"

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
    429: "rate_limited",
}


class ApiError(Exception):
    """Raised by API code to answer ``status`` with ``{"error": {"code", "message"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        fields: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields

    def response(self) -> web.Response:
        """The problem document this error stands for."""
        return error_response(self.status, self.code, self.message, self.headers, self.fields)


def is_api(request: web.BaseRequest) -> bool:
    """Whether ``request`` is for the JSON API (and so for its middlewares)."""
    return request.path.startswith(PREFIX)


def json_response(
    body: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    """``body`` as JSON (orjson), with ``Cache-Control: no-store``: API answers carry
    credentials and personal data, and no shared cache should keep them. (Answers to GET
    are revalidated instead, see ``web.api.conditional``.)"""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type=content_type,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    fields: Mapping[str, list[str]] | None = None,
) -> web.Response:
    """A problem document; ``fields``, when given, maps each bad field to its messages."""
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": _title(status),
        "status": status,
        "detail": message,
        "code": code,
    }
    if fields is not None:
        problem["errors"] = dict(fields)
    return json_response(problem, status, headers, content_type=PROBLEM_JSON)


def _title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _message(request: web.Request, e: web.HTTPException) -> str:
    if e.status == 404:
        return f"no API route {request.method} {request.path}"
    if e.status == 405:
        allowed = e.headers.get("Allow", "")
        return f"{request.path} does not answer {request.method}; it answers {allowed}"
    return e.reason


def problem_for(request: web.Request, error: Exception) -> web.Response:
    """The problem document answering ``error``, raised while serving ``request``; raises
    ``error`` again if it is not an error (a redirect raised as an exception)."""
    if isinstance(error, ApiError):
        return error.response()
    if isinstance(error, ValidationError):
        return error_response(422, "validation_failed",
                              f"invalid fields: {', '.join(error.errors)}", fields=error.errors)
    if isinstance(error, Conflict):
        return error_response(409, error.code, error.message)
    if isinstance(error, web.HTTPException):
        if error.status < 400:
            raise error
        headers = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
        code = _HTTP_CODES.get(error.status, "http_error")
        return error_response(error.status, code, _message(request, error), headers)
    log.error("API request %s %s failed", request.method, request.path, exc_info=error)
    return error_response(500, "internal_error", "internal server error")
