"""Event rates: a token bucket per user, shared by all of that user's connections.

A session takes a token for each client event (heartbeats aside); an empty bucket refuses
the event. The buckets live in this node's memory, keyed by the socket id
(``SocketHandler.id``), so one user's tabs share one rate; a connection without an id
(anonymous) has a bucket of its own. A bucket is dropped when the last connection holding
it ends.
"""

from __future__ import annotations

import time

__all__ = ["Bucket", "hold", "release"]


class Bucket:
    """``rate`` tokens a second, at most ``burst`` saved up; :meth:`take` spends one."""

    __slots__ = ("burst", "holders", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.holders = 0

    def take(self) -> bool:
        """Spend a token; ``False`` (and nothing spent) when there is none."""
        now = time.monotonic()
        tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if tokens < 1.0:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1.0
        return True


_shared: dict[str, Bucket] = {}


def hold(key: str | None, rate: float, burst: int) -> Bucket:
    """The bucket of ``key`` (a new private one for ``None``); :func:`release` it when the
    connection ends."""
    if key is None:
        return Bucket(rate, burst)
    bucket = _shared.get(key)
    if bucket is None:
        bucket = _shared[key] = Bucket(rate, burst)
    bucket.holders += 1
    return bucket


def release(key: str | None) -> None:
    """One connection holding ``key``'s bucket has ended."""
    if key is None:
        return
    bucket = _shared.get(key)
    if bucket is not None:
        bucket.holders -= 1
        if bucket.holders <= 0:
            del _shared[key]
