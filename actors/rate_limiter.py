"""RateLimiter: counts events per (bucket, key) in fixed windows.

The table belongs to the RateLimiter process and is read and written directly by callers
(no message round trip on a request's path), as an ETS table would be. The process sweeps
expired windows once a minute so idle keys do not accumulate.

``hit`` counts an event and says whether it was within the limit; ``check`` only looks. A
login counts failures: ``check`` before verifying the password, ``hit`` when it was wrong,
``reset`` when it was right.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import otp
from otp import GenServer, NoReply, Ok
from otp.gen_server import table_of

__all__ = ["NAME", "Decision", "RateLimiter"]

NAME = "hearth.rate_limiter"
SWEEP_EVERY = 60.0


class Decision(NamedTuple):
    """``allowed``: within the limit; ``remaining`` events left in this window;
    ``reset_after`` seconds until the window ends (a ``Retry-After`` for refusals)."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float


class _Window:
    __slots__ = ("count", "ends")

    def __init__(self, ends: float) -> None:
        self.count = 0
        self.ends = ends


_Table = dict[tuple[str, Any], _Window]


def _table(limiter: Any) -> _Table:
    table: _Table = table_of(limiter, RateLimiter)
    return table


class RateLimiter(GenServer):
    """Start under a supervisor with ``RateLimiter.child_spec(name=NAME)``."""

    def init(self) -> Any:
        otp.send_after(self.pid, "sweep", SWEEP_EVERY)
        return Ok({})

    def handle_info(self, msg: Any, state: _Table) -> Any:
        if msg == "sweep":
            now = time.monotonic()
            for key in [k for k, w in state.items() if w.ends <= now]:
                del state[key]
            otp.send_after(self.pid, "sweep", SWEEP_EVERY)
            return NoReply(state)
        return super().handle_info(msg, state)

    @staticmethod
    def hit(
        bucket: str, key: Any, limit: int, window: float, cost: int = 1, limiter: Any = NAME
    ) -> Decision:
        """Count ``cost`` events for ``key``; ``allowed`` is False once over ``limit``
        within ``window`` seconds (refused events still count)."""
        table = _table(limiter)
        now = time.monotonic()
        slot = table.get((bucket, key))
        if slot is None or slot.ends <= now:
            slot = table[(bucket, key)] = _Window(now + window)
        slot.count += cost
        return Decision(slot.count <= limit, limit, max(0, limit - slot.count), slot.ends - now)

    @staticmethod
    def check(bucket: str, key: Any, limit: int, window: float, limiter: Any = NAME) -> Decision:
        """Whether one more event would be allowed, without counting it."""
        table = _table(limiter)
        now = time.monotonic()
        slot = table.get((bucket, key))
        if slot is None or slot.ends <= now:
            return Decision(True, limit, limit, window)
        return Decision(slot.count < limit, limit, max(0, limit - slot.count), slot.ends - now)

    @staticmethod
    def reset(bucket: str, key: Any, limiter: Any = NAME) -> None:
        """Forget the count of ``key``."""
        _table(limiter).pop((bucket, key), None)
