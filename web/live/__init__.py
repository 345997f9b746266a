"""The reference application's live pages, and the live router that serves them.

Each page is a :class:`live.LiveView`; :data:`ROUTER` groups them in live sessions whose
``on_mount`` hooks put the signed-in user in ``@current_user`` and turn away those a route
does not admit, as the HTML pages' role guards do (``web.guards``).
"""

from __future__ import annotations

from live.router import LiveRouter, LiveSession, live

from .cart import CartLive
from .counter import CounterLive
from .hooks import assign_user, require_user
from .posts import PostFormLive, PostLive, PostsLive
from .profile import ProfileLive
from .stats import StatsLive

__all__ = ["ROUTER"]

ROUTER = LiveRouter([
    # First: /posts/new is not a post id.
    LiveSession("members", [
        live("/posts/new", PostFormLive, action="new"),
        live("/posts/{id}/edit", PostFormLive, action="edit"),
        live("/profile/edit", ProfileLive),
    ], on_mount=[assign_user, require_user]),
    LiveSession("public", [
        live("/counter", CounterLive),
        live("/posts", PostsLive),
        live("/posts/{id}", PostLive),
        live("/stats", StatsLive),
        live("/cart", CartLive),
    ], on_mount=[assign_user]),
])
