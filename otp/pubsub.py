"""PubSub: processes subscribe to topics; broadcasts reach every subscriber.

Like the registry, the subscriber table belongs to the PubSub process and is read and written
directly by callers, so ``broadcast`` is a plain loop over mailboxes: messages from one
publisher arrive in the order they were sent. Subscribers are removed the moment they exit.

Other nodes are reached through an :class:`Adapter`. The default, :class:`LocalAdapter`,
reaches none; a cluster adapter (Redis) implements the same three methods and is given to
``PubSub.start_link(adapter=...)``, so callers never change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from . import _kernel as k
from ._kernel import Pid, Process
from .gen_server import GenServer, Ok, table_of

__all__ = ["Adapter", "LocalAdapter", "PubSub"]

Deliver = Callable[[str, Any, "Pid | None"], None]


class Adapter(Protocol):
    """Carries broadcasts between nodes.

    ``start(deliver)`` is awaited when the PubSub starts; the adapter calls ``deliver(topic,
    message, exclude)`` for each broadcast that arrives from another node, in the order that
    node sent them. ``broadcast`` must not block: it queues the message for other nodes.
    """

    async def start(self, deliver: Deliver) -> None: ...

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None: ...

    async def stop(self) -> None: ...


class LocalAdapter:
    """A single node: nothing to carry."""

    async def start(self, deliver: Deliver) -> None:
        return None

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None:
        return None

    async def stop(self) -> None:
        return None


class _Topics:
    __slots__ = ("adapter", "by_proc", "subscribers")

    def __init__(self, adapter: Adapter) -> None:
        self.subscribers: dict[str, dict[Process, None]] = {}
        self.by_proc: dict[Process, set[str]] = {}
        self.adapter = adapter

    def deliver(self, topic: str, message: Any, exclude: Pid | None) -> None:
        subs = self.subscribers.get(topic)
        if not subs:
            return
        skip = exclude._proc if exclude is not None else None
        for proc in tuple(subs):
            if proc is not skip:
                proc._deliver(message)

    def forget(self, proc: Process, _reason: Any = None) -> None:
        for topic in self.by_proc.pop(proc, ()):
            subs = self.subscribers.get(topic)
            if subs is not None:
                subs.pop(proc, None)
                if not subs:
                    del self.subscribers[topic]


def _topics(pubsub: Any) -> _Topics:
    topics: _Topics = table_of(pubsub, PubSub)
    return topics


class PubSub(GenServer):
    """Start with ``PubSub.start_link(name="pubsub", adapter=None)``."""

    behaviour = "pubsub"

    async def init(self, adapter: Adapter | None = None) -> Any:
        state = _Topics(adapter if adapter is not None else LocalAdapter())
        # A shutdown from the supervisor must run terminate, which stops the adapter (a
        # cluster adapter holds connections); only a process that traps exits gets it.
        self._trap_exit = True
        await state.adapter.start(state.deliver)
        return Ok(state)

    async def terminate(self, reason: Any, state: _Topics | None) -> None:
        if state is None:
            return
        for proc in list(state.by_proc):
            proc._off_exit(state.forget)
        await state.adapter.stop()

    @staticmethod
    def subscribe(pubsub: Any, topic: str) -> None:
        """Subscribe the calling process to ``topic`` (subscribing twice is one
        subscription)."""
        state = _topics(pubsub)
        proc = k.self_process()
        subs = state.subscribers.get(topic)
        if subs is None:
            subs = state.subscribers[topic] = {}
        subs[proc] = None
        topics = state.by_proc.get(proc)
        if topics is None:
            topics = state.by_proc[proc] = set()
            proc._on_exit(state.forget)
        topics.add(topic)

    @staticmethod
    def unsubscribe(pubsub: Any, topic: str) -> None:
        """Stop the calling process's subscription to ``topic``."""
        state = _topics(pubsub)
        proc = k.self_process()
        subs = state.subscribers.get(topic)
        if subs is not None:
            subs.pop(proc, None)
            if not subs:
                del state.subscribers[topic]
        topics = state.by_proc.get(proc)
        if topics is not None:
            topics.discard(topic)

    @staticmethod
    def broadcast(pubsub: Any, topic: str, message: Any) -> None:
        """Send ``message`` to every subscriber of ``topic`` on every node."""
        state = _topics(pubsub)
        state.deliver(topic, message, None)
        state.adapter.broadcast(topic, message, None)

    @staticmethod
    def broadcast_from(pubsub: Any, sender: Pid, topic: str, message: Any) -> None:
        """Like :meth:`broadcast`, skipping ``sender`` (usually ``self()``)."""
        state = _topics(pubsub)
        state.deliver(topic, message, sender)
        state.adapter.broadcast(topic, message, sender)

    @staticmethod
    def local_broadcast(pubsub: Any, topic: str, message: Any) -> None:
        """Send ``message`` to the subscribers of ``topic`` on this node only."""
        _topics(pubsub).deliver(topic, message, None)

    @staticmethod
    def subscribers(pubsub: Any, topic: str) -> list[Pid]:
        """The local subscribers of ``topic``."""
        return [p.pid for p in _topics(pubsub).subscribers.get(topic, ())]
