"""Rate limits on the API, per caller (seed Example 48).

Each API key has its own quota of ``api.rate_limit`` requests per ``api.rate_limit_window``
seconds (default 1000 an hour); a user's access tokens share one quota; a client sending no
valid credentials (or a key nobody has) counts against its address, with
``api.anonymous_rate_limit``. The counts live in the RateLimiter (``actors.rate_limiter``):
atomic however many requests arrive at once, and kept in the database across restarts; in a
cluster, counted in Redis, so the quota is the same however the nodes share the requests.

Every ``/api/`` answer says where its caller stands:

- ``X-RateLimit-Limit``: the quota of the window;
- ``X-RateLimit-Remaining``: requests left in it;
- ``X-RateLimit-Reset``: when it ends, in Unix seconds.

Past the quota the answer is 429 ``rate_limited`` with ``Retry-After`` (seconds), and the
handler does not run.
"""

from __future__ import annotations

import math

from aiohttp import web

from actors.rate_limiter import USER_QUOTA, Decision, RateLimiter

from ..keys import CONFIG, USER
from .auth import api_auth
from .errors import ApiError

__all__ = ["ADDRESS_BUCKET", "KEY_BUCKET", "QUOTA", "USER_BUCKET", "add_headers", "count"]

KEY_BUCKET = "api.key"
USER_BUCKET = USER_QUOTA
ADDRESS_BUCKET = "api.address"

QUOTA = web.RequestKey("api_quota", Decision)
"""The caller's standing after this request was counted."""


async def count(request: web.Request) -> None:
    """Count ``request`` against its caller's quota (after :func:`web.api.auth.identify`),
    across the cluster when there is one; raises the 429 past it."""
    api = request.app[CONFIG].api
    auth = api_auth(request)
    user = request.get(USER)
    if auth.via == "api_key" and auth.key_id is not None:
        bucket, key, limit = KEY_BUCKET, str(auth.key_id), api.rate_limit
    elif user is not None:
        bucket, key, limit = USER_BUCKET, str(user.id), api.rate_limit
    else:
        bucket, key, limit = ADDRESS_BUCKET, request.remote or "", api.anonymous_rate_limit
    decision = await RateLimiter.shared_hit(bucket, key, limit, api.rate_limit_window)
    request[QUOTA] = decision
    if not decision.allowed:
        wait = max(1, math.ceil(decision.reset_after))
        raise ApiError(429, "rate_limited",
                       f"over the quota of {limit} requests; try again in {wait} seconds",
                       {"Retry-After": str(wait)})


def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The ``X-RateLimit-*`` headers, on every answer a quota counted, errors and 304s
    included."""
    decision = request.get(QUOTA)
    if decision is not None:
        headers = response.headers
        headers["X-RateLimit-Limit"] = str(decision.limit)
        headers["X-RateLimit-Remaining"] = str(decision.remaining)
        headers["X-RateLimit-Reset"] = str(math.ceil(decision.reset_at))
