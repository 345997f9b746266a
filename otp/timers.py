"""Timers: deliver a message later, or not at all if cancelled first."""

from __future__ import annotations

import asyncio
from typing import Any

from . import _kernel as k

__all__ = ["TimerRef", "cancel_timer", "send_after"]


class TimerRef:
    """A pending ``send_after``; give it to :func:`cancel_timer`."""

    __slots__ = ("_handle", "_when")

    def __init__(self, handle: asyncio.TimerHandle, when: float) -> None:
        self._handle = handle
        self._when = when

    def __repr__(self) -> str:
        return f"TimerRef(due={self._when:.3f})"


def _fire(target: Any, msg: Any) -> None:
    proc = k.resolve(target)
    if proc is not None:
        proc._deliver(msg)


def send_after(target: Any, msg: Any, delay: float) -> TimerRef:
    """Send ``msg`` to ``target`` after ``delay`` seconds; dropped if the target is gone
    by then (a name is resolved when the timer fires)."""
    loop = asyncio.get_running_loop()
    when = loop.time() + delay
    return TimerRef(loop.call_at(when, _fire, target, msg), when)


def cancel_timer(ref: TimerRef) -> float | bool:
    """Cancel the timer: the seconds it had left, or ``False`` if it already fired."""
    handle = ref._handle
    if handle.cancelled():
        return False
    remaining = ref._when - asyncio.get_running_loop().time()
    if remaining < 0:
        return False
    handle.cancel()
    return remaining
