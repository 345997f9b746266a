"""PubSub: processes subscribe to topics; broadcasts reach every subscriber.

Like the registry, the subscriber table belongs to the PubSub process and is read and written
directly by callers, so ``broadcast`` is a plain loop over mailboxes: messages from one
publisher arrive in the order they were sent. Subscribers are removed the moment they exit.

Other nodes are reached through an :class:`Adapter`. The default, :class:`LocalAdapter`,
reaches none; the cluster adapter, :class:`~otp.RedisAdapter`, implements the same three
methods and is given to ``PubSub.start_link(adapter=...)``, so callers never change: a
``broadcast`` reaches every node's subscribers, a ``local_broadcast`` this node's only.

Under a supervisor (``PubSub.child_spec``) the table has an :class:`~otp.heir.Heir`: a
restarted PubSub takes back the subscriptions of the one that crashed, so no subscriber
is left subscribed to nothing. Broadcasts sent while it is down (between the crash and the
restart, one turn of the supervisor) raise :class:`~otp.NoProcess` to their sender.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from . import _kernel as k
from ._kernel import Pid, Process
from .gen_server import GenServer, Ok, table_of
from .heir import Heir

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
    __slots__ = ("adapter", "by_proc", "has_heir", "subscribers")

    def __init__(self) -> None:
        self.subscribers: dict[str, dict[Process, None]] = {}
        self.by_proc: dict[Process, set[str]] = {}
        self.adapter: Adapter = LocalAdapter()
        self.has_heir = False

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


async def _stop_quietly(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:  # what was left of a dead owner's adapter; the new one matters
        k.log.exception("pubsub: stopping the previous adapter failed")


def _topics(pubsub: Any) -> _Topics:
    topics: _Topics = table_of(pubsub, PubSub)
    return topics


class PubSub(GenServer):
    """Start with ``PubSub.start_link(name="pubsub", adapter=None)``; supervise with
    ``PubSub.child_spec(name=..., init_kwargs={"adapter": ...})``, which gives it an heir."""

    behaviour = "pubsub"

    @classmethod
    def child_spec(cls, *args: Any, init_kwargs: dict[str, Any] | None = None,
                   **options: Any) -> Any:
        """A child spec whose restarts keep the subscriptions (see the module docstring)."""
        kwargs = {"heir": Heir(), **(init_kwargs or {})}
        return super().child_spec(*args, init_kwargs=kwargs, **options)

    async def init(self, adapter: Adapter | None = None, heir: Heir[_Topics] | None = None
                   ) -> Any:
        state, inherited = heir.claim(_Topics) if heir is not None else (_Topics(), False)
        state.has_heir = heir is not None
        if inherited:
            # The adapter died with the old owner, its connections unclosed: it starts again.
            await _stop_quietly(state.adapter)
        state.adapter = adapter if adapter is not None else LocalAdapter()
        # A shutdown from the supervisor must run terminate, which stops the adapter (a
        # cluster adapter holds connections); only a process that traps exits gets it.
        self._trap_exit = True
        await state.adapter.start(state.deliver)
        return Ok(state)

    async def terminate(self, reason: Any, state: _Topics | None) -> None:
        if state is None:
            return
        if not state.has_heir:
            # No heir: the table ends here, and its subscribers need not tell it of exits.
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
    def adapter(pubsub: Any) -> Adapter:
        """The adapter that carries ``pubsub``'s broadcasts to other nodes."""
        return _topics(pubsub).adapter

    @staticmethod
    def subscribers(pubsub: Any, topic: str) -> list[Pid]:
        """The local subscribers of ``topic``."""
        return [p.pid for p in _topics(pubsub).subscribers.get(topic, ())]
