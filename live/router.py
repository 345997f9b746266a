"""Live routes, grouped in live sessions, and their ``on_mount`` hooks.

::

    ROUTER = LiveRouter([
        LiveSession("public", [live("/counter", CounterLive)], on_mount=[assign_user]),
        LiveSession("members", [live("/posts/new", PostFormLive, action="new")],
                    on_mount=[assign_user, require_user]),
    ])

A path may hold ``{name}`` segments (``/posts/{id}``), given to ``mount`` and
``handle_params`` in ``params`` with the query string's values. Live navigation
(``push_navigate``, ``<a data-phx-link="redirect">``) stays on the socket only between
routes of one live session; to another session, or to a path that is not live, the client
gets ``unauthorized`` and loads the page in full, as in Phoenix, so each session's hooks run
again.

A hook is ``hook(params, session, socket)`` (plain or async) returning ``("cont", socket)``
or ``("halt", socket)`` (after asking for a redirect, usually).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .view import LiveSocket, LiveView

__all__ = ["Hook", "LiveRoute", "LiveRouter", "LiveSession", "Match", "live"]

Hook = Callable[[dict[str, Any], dict[str, Any], LiveSocket], Any]

_SEGMENT = re.compile(r"\{([A-Za-z_]\w*)\}")


@dataclass(frozen=True)
class LiveRoute:
    path: str
    view: type[LiveView]
    action: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = "^" + _SEGMENT.sub(r"(?P<\1>[^/]+)", re.escape(self.path).replace(
            r"\{", "{").replace(r"\}", "}")) + "$"
        object.__setattr__(self, "pattern", re.compile(regex))


def live(path: str, view: type[LiveView], action: str | None = None) -> LiveRoute:
    """A live route: ``view`` serves ``path`` (``action`` is ``@live_action``)."""
    return LiveRoute(path, view, action)


@dataclass(frozen=True)
class LiveSession:
    name: str
    routes: Sequence[LiveRoute]
    on_mount: Sequence[Hook] = ()


@dataclass(frozen=True)
class Match:
    route: LiveRoute
    session: LiveSession
    params: dict[str, Any]
    path: str


class LiveRouter:
    def __init__(self, sessions: Sequence[LiveSession]) -> None:
        self.sessions = list(sessions)
        names = [s.name for s in self.sessions]
        if len(set(names)) != len(names):
            raise ValueError(f"live session names must be unique: {names}")

    def routes(self) -> list[tuple[LiveSession, LiveRoute]]:
        return [(s, r) for s in self.sessions for r in s.routes]

    def match(self, url: str) -> Match | None:
        """The route of ``url`` (a path or an absolute URL), with its params."""
        parts = urlsplit(url)
        path = parts.path or "/"
        for session, route in self.routes():
            found = route.pattern.match(path)
            if found is not None:
                params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
                params.update(found.groupdict())
                return Match(route, session, params, path)
        return None

    def session_named(self, name: str) -> LiveSession | None:
        return next((s for s in self.sessions if s.name == name), None)


async def run_hooks(hooks: Sequence[Hook], params: dict[str, Any], session: dict[str, Any],
                    socket: LiveSocket) -> bool:
    """Run ``hooks`` in order; False as soon as one halts."""
    for hook in hooks:
        result: Any = hook(params, session, socket)
        if isinstance(result, Awaitable):
            result = await result
        if not (isinstance(result, tuple) and len(result) == 2 and result[0] in ("cont",
                                                                                  "halt")):
            raise TypeError(f"on_mount hook {hook!r} returned {result!r}, not "
                            "('cont' | 'halt', socket)")
        if result[0] == "halt":
            return False
    return True
