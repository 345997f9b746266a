"""Call timeouts without a timer per call.

A call registers its deadline here and removes it when answered. One loop timer, armed for
the earliest deadline that could be due, sweeps the calls still waiting; with the usual
uniform timeout, new deadlines are all later than the armed one, so a call costs a set
insertion and removal instead of scheduling and cancelling a loop timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Deadlines:
    """The waiting calls of one event loop and the single timer that expires them."""

    __slots__ = ("armed_at", "loop", "on_expire", "timer", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expire: Callable[[Any], None]):
        self.loop = loop
        self.waiting: dict[Any, float] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.armed_at = 0.0
        self.on_expire = on_expire

    def arm(self, when: float) -> None:
        """Fire the sweep at ``when`` (callers add to ``waiting`` themselves: it is the hot
        path of every call)."""
        if self.timer is not None:
            self.timer.cancel()
        self.armed_at = when
        self.timer = self.loop.call_at(when, self._sweep)

    def _sweep(self) -> None:
        self.timer = None
        # uvloop keeps time in whole milliseconds and may fire a timer up to one early.
        now = self.loop.time() + 0.001
        due = [item for item, deadline in self.waiting.items() if deadline <= now]
        for item in due:
            del self.waiting[item]
            self.on_expire(item)
        if self.waiting:
            self.arm(min(self.waiting.values()))


_last: Deadlines | None = None
_by_loop: dict[asyncio.AbstractEventLoop, Deadlines] = {}


def deadlines_for(
    loop: asyncio.AbstractEventLoop, on_expire: Callable[[Any], None]
) -> Deadlines:
    """The tracker of ``loop`` (created on first use; trackers of closed loops are dropped)."""
    global _last
    tracker = _last
    if tracker is not None and tracker.loop is loop:
        return tracker
    tracker = _by_loop.get(loop)
    if tracker is None:
        for old in [lp for lp in _by_loop if lp.is_closed()]:
            del _by_loop[old]
        tracker = _by_loop[loop] = Deadlines(loop, on_expire)
    _last = tracker
    return tracker
