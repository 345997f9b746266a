"""Timers: deliver a message later, or not at all if cancelled first."""

from __future__ import annotations

import asyncio
from typing import Any

from . import _kernel as k

__all__ = ["TimerRef", "cancel_timer", "send_after"]


class TimerRef:
    """A pending ``send_after``; give it to :func:`cancel_timer`."""

    __slots__ = ("_delay", "_fired", "_handle", "_when")

    def __init__(self, when: float, delay: float) -> None:
        self._when = when
        self._delay = delay
        # Whether the message went out: the loop's clock cannot tell, as uvloop rounds
        # delays to whole milliseconds and may fire a timer before its ``when``.
        self._fired = False
        self._handle: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"TimerRef(due={self._when:.3f})"


def _fire(ref: TimerRef, target: Any, msg: Any) -> None:
    ref._fired = True
    proc = k.resolve(target)
    if proc is not None:
        proc._deliver(msg)


def send_after(target: Any, msg: Any, delay: float) -> TimerRef:
    """Send ``msg`` to ``target`` after ``delay`` seconds; dropped if the target is gone
    by then (a name is resolved when the timer fires)."""
    loop = asyncio.get_running_loop()
    ref = TimerRef(loop.time() + delay, delay)
    ref._handle = loop.call_at(ref._when, _fire, ref, target, msg)
    return ref


def cancel_timer(ref: TimerRef) -> float | bool:
    """Cancel the timer: the seconds it had left, or ``False`` if it already fired (or was
    cancelled)."""
    handle = ref._handle
    if ref._fired or handle is None or handle.cancelled():
        return False
    handle.cancel()
    # The loop clock is cached per iteration, so float error can exceed the delay itself.
    return min(ref._delay, max(0.0, ref._when - asyncio.get_running_loop().time()))
