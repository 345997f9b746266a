"""RedisAdapter: PubSub broadcasts carried between nodes by one Redis pub/sub channel.

Every node publishes each broadcast once, to the channel ``<prefix>:pubsub``, and every node
subscribed to it fans the broadcast out to its own subscribers (as Phoenix.PubSub's Redis
adapter does). One task publishes, in order, on one connection, so the broadcasts of one
publisher reach every other node in the order they were sent; a node skips its own (it has
delivered them already, at once, on the sender's turn). A ``broadcast_from``'s sender lives on
one node only: elsewhere there is nobody to skip.

What goes over the wire is the pickled ``(topic, message)`` behind the sending node's id and
an HMAC-SHA256 made with the cluster's shared secret. A frame whose signature does not match
(sent by something that holds the Redis password but not the secret) is dropped and logged,
never unpickled: Redis carries the cluster's messages, but only the nodes can speak in it.

When Redis goes away the node carries on alone: local subscribers still get every local
broadcast, broadcasts for other nodes are dropped (counted in :attr:`RedisAdapter.dropped`),
and the loss is logged once. The adapter reconnects with exponential backoff and subscribes
again. Each change of the link is told to the processes subscribed to :data:`LINK_TOPIC` on
this node, as a :class:`LinkChanged`, so that, say, a presence tracker can resynchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import pickle
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ._kernel import Pid

__all__ = ["LINK_TOPIC", "LinkChanged", "RedisAdapter"]

log = logging.getLogger("otp.cluster")

LINK_TOPIC = "otp.pubsub:link"
"""The local topic on which :class:`LinkChanged` is delivered."""

MAX_QUEUED = 100_000
"""Frames waiting to be published; past it a broadcast is dropped for the other nodes."""
BATCH = 512
PING_EVERY = 1.0
"""Seconds of silence on the subscription after which it is pinged; two more without an
answer and the link is taken for lost."""
_SIG = 16


class LinkChanged(NamedTuple):
    """The link to the other nodes came up (``up``) or went down."""

    up: bool


Deliver = Callable[[str, Any, "Pid | None"], None]


class RedisAdapter:
    """``RedisAdapter(url, node, secret)``: give it to ``PubSub.start_link(adapter=...)``.

    ``node`` is this node's name (``node.name``); ``secret`` is shared by every node of the
    cluster; ``prefix`` names the channel. ``backoff`` is the first and the longest wait, in
    seconds, between two attempts to reach Redis."""

    def __init__(self, url: str, node: str, secret: bytes, prefix: str = "hearth",
                 backoff: tuple[float, float] = (0.05, 2.0)) -> None:
        self._url = url
        self.node = node
        self.channel = f"{prefix}:pubsub"
        self._key = hmac.new(secret, b"hearth cluster pubsub", hashlib.sha256).digest()
        self._backoff = backoff
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._origin = b""
        self._head = b""
        self.link_up = False
        self.dropped = 0
        self.published = 0
        self.received = 0
        self.since = time.time()

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"RedisAdapter(node={self.node!r}, channel={self.channel!r}, up={self.link_up})"

    # -- the Adapter protocol --------------------------------------------------------------

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        # A new id at every start: a node's own frames are known by it, and a restarted
        # PubSub does not take an older start's frames for its own.
        self._origin = f"{self.node}#{os.urandom(6).hex()}".encode()
        self._head = bytes((len(self._origin),)) + self._origin
        self._queue.clear()
        self.link_up = False
        subscribed = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._subscriber(subscribed), name="redis-sub"),
                       asyncio.create_task(self._publisher(), name="redis-pub")]
        # Wait a little for the first subscription, so a node that starts with Redis up
        # hears the others from its first moment; a node that cannot reach Redis starts
        # all the same, alone, and joins when it can.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(subscribed), 2.0)

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None:
        if not self.link_up or len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            return
        body = pickle.dumps((topic, message), protocol=pickle.HIGHEST_PROTOCOL)
        head = self._head
        sig = hmac.new(self._key, head + body, hashlib.sha256).digest()[:_SIG]
        self._queue.append(head + sig + body)
        self._wake.set()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.link_up = False
        self._queue.clear()

    # -- the two connections ---------------------------------------------------------------

    def _client(self) -> aioredis.Redis:
        # No retries of its own: a lost connection must surface here, where it is handled.
        return aioredis.Redis.from_url(
            self._url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2.0,
            socket_timeout=5.0, health_check_interval=0,
        )

    def _link(self, up: bool, reason: str = "") -> None:
        if up == self.link_up:
            return
        self.link_up = up
        self.since = time.time()
        if up:
            log.info("cluster link of %s up: subscribed to %s", self.node, self.channel)
        else:
            self._queue.clear()
            log.warning("cluster link of %s down (%s): serving this node's clients alone, "
                        "retrying", self.node, reason)
        if self._deliver is not None:
            self._deliver(LINK_TOPIC, LinkChanged(up), None)

    async def _subscriber(self, subscribed: asyncio.Future[None]) -> None:
        wait = self._backoff[0]
        quiet_logged = False
        while True:
            client = self._client()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._link(True)
                if not subscribed.done():
                    subscribed.set_result(None)
                wait, quiet_logged = self._backoff[0], False
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as e:
                if self.link_up:
                    self._link(False, f"{type(e).__name__}: {e}")
                elif not quiet_logged:
                    log.warning("cluster link of %s: cannot reach Redis (%s: %s); retrying",
                                self.node, type(e).__name__, e)
                    quiet_logged = True
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(wait)
            wait = min(wait * 2, self._backoff[1])

    async def _listen(self, pubsub: Any) -> None:
        last = time.monotonic()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=PING_EVERY)
            now = time.monotonic()
            if message is None:
                if now - last > 3 * PING_EVERY:
                    raise TimeoutError("no answer to a ping")
                if now - last > PING_EVERY and not pinged:
                    await pubsub.ping()
                    pinged = True
                continue
            last, pinged = now, False
            if message.get("type") == "message":
                self._received(message["data"])

    def _received(self, frame: bytes) -> None:
        n = frame[0] if frame else 0
        origin = frame[1:1 + n]
        if origin == self._origin:
            return  # ours: delivered when it was sent
        start = 1 + n + _SIG
        sig, body = frame[1 + n:start], frame[start:]
        good = hmac.new(self._key, frame[:1 + n] + body, hashlib.sha256).digest()[:_SIG]
        if len(sig) != _SIG or not hmac.compare_digest(sig, good):
            log.warning("cluster: dropped a frame on %s with a bad signature (not signed "
                        "with this cluster's secret)", self.channel)
            return
        try:
            topic, message = pickle.loads(body)
        except Exception:
            log.exception("cluster: a signed frame from %r would not unpickle",
                          origin.decode(errors="replace"))
            return
        self.received += 1
        assert self._deliver is not None
        self._deliver(topic, message, None)

    async def _publisher(self) -> None:
        client = self._client()
        failing = False
        try:
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = [self._queue.popleft()
                         for _ in range(min(BATCH, len(self._queue)))]
                try:
                    if len(batch) == 1:
                        await client.publish(self.channel, batch[0])
                    else:
                        pipe = client.pipeline(transaction=False)
                        for frame in batch:
                            pipe.publish(self.channel, frame)
                        await pipe.execute()
                    self.published += len(batch)
                    failing = False
                except (RedisError, OSError, TimeoutError) as e:
                    self.dropped += len(batch)
                    if not failing:
                        log.warning("cluster: could not publish %d broadcasts (%s: %s)",
                                    len(batch), type(e).__name__, e)
                        failing = True
                    await asyncio.sleep(self._backoff[0])
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    def info(self) -> dict[str, Any]:
        """The link's state and counts, for the admin endpoint."""
        return {"link": "up" if self.link_up else "down", "since": self.since,
                "channel": self.channel, "published": self.published,
                "received": self.received, "dropped": self.dropped}
