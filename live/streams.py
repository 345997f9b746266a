"""Streams (Phoenix's ``stream/4``): collections the client keeps and the view does not.

``stream(socket, "posts", posts)`` queues the items for the next render; a template renders
them with ``:for={dom_id, post in @streams.posts}`` inside a ``phx-update="stream"`` container
with an id, each entry's root carrying ``id={dom_id}``. After the render the items are gone
from the view's memory: the client holds them in its DOM, and later renders send only what
``stream_insert`` and ``stream_delete`` queue since (protocol.md §4.5). A view's memory stays
flat however many items stream through it.

``dom_id`` of an item is ``f"{name}-{item.id}"`` (``posts-123``) unless the stream was made
with ``dom_id=fn``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["LiveStream", "Streams", "default_dom_id"]


def default_dom_id(name: str) -> Callable[[Any], str]:
    def dom_id(item: Any) -> str:
        key = item["id"] if isinstance(item, dict) else item.id
        return f"{name}-{key}"

    return dom_id


class LiveStream:
    """One stream's operations waiting for the next render."""

    is_live_stream = True
    __slots__ = ("deletes", "dom_id", "inserts", "name", "ref", "reset")

    def __init__(self, name: str, ref: str, dom_id: Callable[[Any], str]) -> None:
        self.name = name
        self.ref = ref
        self.dom_id = dom_id
        self.inserts: list[tuple[str, int, int | None, bool, Any]] = []
        self.deletes: list[str] = []
        self.reset = False

    def insert(self, item: Any, at: int = -1, limit: int | None = None,
               update_only: bool = False) -> None:
        self.inserts.append((self.dom_id(item), at, limit, update_only, item))

    def delete_by_dom_id(self, dom_id: str) -> None:
        self.inserts = [entry for entry in self.inserts if entry[0] != dom_id]
        self.deletes.append(dom_id)

    def pending(self) -> tuple[list[tuple[str, int, int | None, bool, Any]], list[str], bool]:
        return self.inserts, self.deletes, self.reset

    def prune(self) -> None:
        self.inserts = []
        self.deletes = []
        self.reset = False

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return ((dom_id, item) for dom_id, _, _, _, item in self.inserts)

    def __repr__(self) -> str:
        return (f"<LiveStream {self.name} ref={self.ref}: {len(self.inserts)} inserts, "
                f"{len(self.deletes)} deletes{', reset' if self.reset else ''}>")


class Streams:
    """``@streams``: the view's streams by name, read as attributes in templates."""

    __slots__ = ("_by_name", "_next_ref", "_prefix")

    def __init__(self, prefix: str = "") -> None:
        self._by_name: dict[str, LiveStream] = {}
        self._next_ref = 0
        self._prefix = prefix  # a component's streams: "<cid>-<n>", as Phoenix names them

    def __getattr__(self, name: str) -> LiveStream:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(f"no stream {name!r} (streams: "
                                 f"{', '.join(sorted(self._by_name)) or 'none'})") from None

    def get(self, name: str, dom_id: Callable[[Any], str] | None = None) -> LiveStream:
        stream = self._by_name.get(name)
        if stream is None:
            stream = LiveStream(name, f"{self._prefix}{self._next_ref}",
                                dom_id or default_dom_id(name))
            self._next_ref += 1
            self._by_name[name] = stream
        elif dom_id is not None:
            stream.dom_id = dom_id
        return stream

    def configure(self, name: str, items: Iterable[Any], *, at: int = -1,
                  limit: int | None = None, reset: bool = False,
                  dom_id: Callable[[Any], str] | None = None) -> LiveStream:
        stream = self.get(name, dom_id)
        if reset:
            stream.inserts = []
            stream.deletes = []
            stream.reset = True
        for item in items:
            stream.insert(item, at, limit)
        return stream

    def prune(self) -> None:
        for stream in self._by_name.values():
            stream.prune()

    def __repr__(self) -> str:
        return f"<Streams {sorted(self._by_name)}>"
