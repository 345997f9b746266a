"""A clock the test moves by hand, for the contexts that take ``clock=``."""

from __future__ import annotations


class Clock:
    """Seconds since the epoch, as ``time.time`` gives them, but only ``advance`` moves it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
