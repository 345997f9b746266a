"""The reference application's live pages, and the live router that serves them.

Each page is a :class:`live.LiveView`; :data:`ROUTER` groups them in live sessions whose
``on_mount`` hooks put the signed-in user in ``@current_user`` and turn away those a route
does not admit, as the HTML pages' role guards do (``web.guards``).
"""

from __future__ import annotations

from live.router import LiveRouter, LiveSession, live

from .counter import CounterLive
from .hooks import assign_user

__all__ = ["ROUTER"]

ROUTER = LiveRouter([
    LiveSession("public", [live("/counter", CounterLive)], on_mount=[assign_user]),
])
