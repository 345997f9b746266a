"""Guards for API handlers: who may call a route.

``require_role("moderator")(handler)`` answers 401 to a request without valid credentials
(with ``WWW-Authenticate`` and the refusal's code, see ``web.api.auth``) and 403 ``forbidden``
to a caller whose role is below the one required, before the handler runs. Routes get their
guard from the route table (``web.api.v1.ROUTES``), not by decorating themselves, so the
table is the one place that says who may call what.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from contexts.roles import ROLES, at_least

from ..keys import USER
from .auth import MISSING, Refusal, api_auth
from .errors import ApiError

if TYPE_CHECKING:
    from contexts.accounts import User

__all__ = ["REALM", "caller", "require_role", "unauthorized"]

REALM = "hearth"


def unauthorized(refusal: Refusal) -> ApiError:
    """The 401 for ``refusal``, with its ``WWW-Authenticate`` challenge (RFC 6750)."""
    challenge = (
        f'Bearer realm="{REALM}", error="{refusal.code}", '
        f'error_description="{_quoted(refusal.message)}"'
    )
    return ApiError(401, refusal.code, refusal.message, {"WWW-Authenticate": challenge})


def caller(request: web.Request) -> User:
    """The authenticated caller; raises the 401 if there is none."""
    user: User | None = request.get(USER)
    if user is None:
        raise unauthorized(api_auth(request).refusal or MISSING)
    return user


def require_role(role: str) -> Callable[[Handler], Handler]:
    """A decorator letting through callers with ``role`` or a higher one."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")

    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            user = caller(request)
            if not at_least(user.role, role):
                raise ApiError(403, "forbidden", f"this needs the {role} role")
            return await handler(request)

        return guarded

    return guard


def _quoted(text: str) -> str:
    # error_description allows printable ASCII except '"' and '\' (RFC 6750, section 3).
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "'" for c in text)
