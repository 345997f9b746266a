"""SharedCounts: the RateLimiter's windows kept in Redis, for a cluster of nodes.

Each ``(bucket, key)`` is one Redis key, ``<prefix>:rate:<bucket>:<key>``, holding the window's
count and expiring when the window ends (the first event starts it, as on one node). Each
operation is one Lua script, which Redis runs alone: counting and checking happen with nothing
in between on any node, so N nodes grant the quota once, not N times.

A call that cannot reach Redis raises :class:`CountsUnavailable`; the RateLimiter then counts
on this node alone until Redis answers again (and says so in the log, once each way).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

__all__ = ["CountsUnavailable", "SharedCounts", "Window"]

TIMEOUT = 1.0
"""Seconds one count may wait on Redis before the node counts alone."""


class CountsUnavailable(Exception):
    """Redis did not answer: count on this node for now."""


class Window(NamedTuple):
    """A counter after the operation: its events and the milliseconds left in its window."""

    events: int
    ttl_ms: int


# KEYS[1]; ARGV: cost, window (ms). The count after adding cost, and the window's ms left.
_HIT = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == tonumber(ARGV[1]) or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}
"""

# KEYS: the counters; ARGV: window (ms), then each counter's limit. One event in every
# counter if each is under its limit, else in none. {full, count1, ttl1, count2, ttl2, ...}
_ACQUIRE = """
local full = 0
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = tonumber(redis.call('GET', key) or '0')
  if counts[i] >= tonumber(ARGV[i + 1]) then full = 1 end
end
local out = {full}
for i, key in ipairs(KEYS) do
  local n = counts[i]
  if full == 0 then n = redis.call('INCR', key) end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 and n > 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  elseif ttl < 0 then
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""

# KEYS[1]: one event less, never below 0.
_GIVE_BACK = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class SharedCounts:
    """``SharedCounts(url, prefix)``: see the module docstring. ``close()`` when done."""

    def __init__(self, url: str, prefix: str = "hearth") -> None:
        self._client = aioredis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=TIMEOUT,
            socket_timeout=TIMEOUT,
        )
        self._prefix = f"{prefix}:rate:"
        self._hit = self._client.register_script(_HIT)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._give_back = self._client.register_script(_GIVE_BACK)

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"SharedCounts(prefix={self._prefix!r})"

    def _key(self, bucket: str, key: str) -> str:
        return f"{self._prefix}{bucket}:{key}"

    async def _run(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await script(keys=list(keys), args=list(args))
        except (RedisError, OSError, TimeoutError) as e:
            raise CountsUnavailable(f"{type(e).__name__}: {e}") from None

    async def hit(self, bucket: str, key: str, cost: int, window: float) -> Window:
        """Add ``cost`` events; the window after."""
        n, ttl = await self._run(self._hit, [self._key(bucket, key)],
                                 [cost, max(1, int(window * 1000))])
        return Window(int(n), int(ttl))

    async def acquire(self, counters: Sequence[tuple[str, str, int]], window: float
                      ) -> tuple[bool, list[Window]]:
        """One event in every ``(bucket, key, limit)`` if each is under its limit, or in
        none; whether any was full, and each window after."""
        keys = [self._key(bucket, key) for bucket, key, _ in counters]
        args = [max(1, int(window * 1000)), *(limit for _, _, limit in counters)]
        full, *rest = await self._run(self._acquire, keys, args)
        windows = [Window(int(rest[i]), int(rest[i + 1])) for i in range(0, len(rest), 2)]
        return bool(full), windows

    async def give_back(self, bucket: str, key: str) -> None:
        """One event less in ``key``'s window (not below 0)."""
        await self._run(self._give_back, [self._key(bucket, key)], [])

    async def reset(self, bucket: str, key: str) -> None:
        """Forget ``key``'s window."""
        try:
            await self._client.delete(self._key(bucket, key))
        except (RedisError, OSError, TimeoutError) as e:
            raise CountsUnavailable(f"{type(e).__name__}: {e}") from None

    async def close(self) -> None:
        await self._client.aclose()


def decision_args(window: Window, limit: int) -> tuple[int, float, float]:
    """``remaining``, ``reset_after`` and ``reset_at`` of a window against ``limit``."""
    after = window.ttl_ms / 1000
    return max(0, limit - window.events), after, time.time() + after
