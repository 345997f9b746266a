"""Flash across a redirect: a live view's flash rides the redirect as a sealed token.

A ``redirect`` or ``live_redirect`` from a view carries ``flash``: the client puts it in the
cookie :data:`FLASH_COOKIE` (60 s) for the next HTTP request, or in the next join's payload.
The session middleware (``web.session``) and the live join open it with the node's key.
"""

from __future__ import annotations

from typing import Any

from channels import token as tokens

__all__ = ["FLASH_COOKIE", "FLASH_MAX_AGE", "open_flash", "seal_flash"]

FLASH_SALT = "live view flash"
FLASH_COOKIE = "__phoenix_flash__"
FLASH_MAX_AGE = 60.0


def seal_flash(secret: bytes, flash: dict[str, str]) -> str | None:
    """The token for ``flash``, or ``None`` when there is none."""
    return tokens.encrypt(secret, FLASH_SALT, flash, max_age=FLASH_MAX_AGE) if flash else None


def open_flash(secret: bytes, token: Any) -> dict[str, str]:
    """The flash a redirect carried (``{}`` if none, forged or too old)."""
    if not isinstance(token, str) or not token:
        return {}
    try:
        flash = tokens.decrypt(secret, FLASH_SALT, token, max_age=FLASH_MAX_AGE)
    except tokens.TokenError:
        return {}
    if not isinstance(flash, dict):
        return {}
    return {str(k): str(v) for k, v in flash.items()}
