"""The API's middleware: what every ``/api/`` request goes through, in order.

1. :func:`web.api.auth.identify` reads the caller's credentials (it never refuses);
2. :func:`web.api.quota.count` counts the request against the caller's quota (429 past it);
3. the route's handler runs (its guard, then the handler);
4. an error raised on the way becomes a problem document (:func:`web.api.errors.problem_for`);
5. the answer gets the caller's ``X-RateLimit-*`` headers (:func:`web.api.quota.add_headers`);
6. :func:`web.api.conditional.finish` adds the ETag, answers 304 for an unchanged ``GET``,
   and gzips what should be.

One middleware rather than one per step: each step is a plain function in its own module,
and a request crosses one frame instead of five. Other paths pass straight through.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from . import auth, conditional, quota
from .errors import is_api, problem_for

__all__ = ["middleware"]


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serves ``/api/`` requests through the steps above; other paths pass by."""
    if not is_api(request):
        return await handler(request)
    response: web.StreamResponse
    try:
        await auth.identify(request)
        await quota.count(request)
        response = await handler(request)
    except Exception as error:
        response = problem_for(request, error)
    quota.add_headers(request, response)
    return await conditional.finish(request, response)
