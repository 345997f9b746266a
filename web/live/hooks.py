"""``on_mount`` hooks of the application's live sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from contexts.roles import at_least
from live.view import LiveSocket, assign, put_flash, redirect

__all__ = ["assign_user", "require_role", "require_user"]


def assign_user(params: dict[str, Any], session: dict[str, Any],
                socket: LiveSocket) -> tuple[str, LiveSocket]:
    """``@current_user``: the browser session's user, or ``None``."""
    return "cont", assign(socket, current_user=session.get("current_user"))


def _login_path(socket: LiveSocket) -> str:
    parts = urlsplit(socket.uri)
    here = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"/login?next={quote(here, safe='/')}"


def require_user(params: dict[str, Any], session: dict[str, Any],
                 socket: LiveSocket) -> tuple[str, LiveSocket]:
    """Only for the signed-in: others go to the login page, and come back after."""
    if session.get("current_user") is None:
        put_flash(socket, "error", "You must log in to see this page.")
        return "halt", redirect(socket, _login_path(socket))
    return "cont", socket


def require_role(role: str) -> Callable[[dict[str, Any], dict[str, Any], LiveSocket],
                                        tuple[str, LiveSocket]]:
    """Only for users with at least ``role``."""
    def hook(params: dict[str, Any], session: dict[str, Any],
             socket: LiveSocket) -> tuple[str, LiveSocket]:
        user = session.get("current_user")
        if user is None:
            return require_user(params, session, socket)
        if not at_least(user.role, role):
            put_flash(socket, "error", "You are not allowed to see that page.")
            return "halt", redirect(socket, "/")
        return "cont", socket

    return hook
