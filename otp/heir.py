"""Heir: a table that outlives the crash of the server that owns it.

Erlang gives an ETS table an ``heir``: when the owner dies the table is handed on instead of
deleted, and the restarted owner takes it back. The Registry, the PubSub and the presence
trackers keep tables that other processes write into (a subscription, a registration, a
presence), and those processes live on when the owner crashes. Without an heir, a restarted
owner starts empty and every subscriber silently stops receiving, for good.

A supervised server that keeps such a table is given an :class:`Heir` in its child spec. The
heir lives as long as the spec, so every restart of the child, by its supervisor or by a
restarted supervisor above it, finds the table the last incarnation held::

    def init(self, heir: Heir | None = None) -> Any:
        table, inherited = (heir or Heir()).claim(Table)
        if inherited:
            ...  # re-establish what died with the old owner: monitors, timers

What dies with the owner is only what belonged to the process itself (its monitors, its
timers, its mailbox); the table's entries are cleaned by their own processes' exit hooks
whether the owner is alive or not, so an inherited table is as consistent as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Heir"]

T = TypeVar("T")


class Heir(Generic[T]):
    """Holds one server's table across its restarts; give one to each child spec."""

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table: T | None = None

    def claim(self, fresh: Callable[[], T]) -> tuple[T, bool]:
        """The table of the previous incarnation and ``True``, or a new ``fresh()`` table
        (kept for the next incarnation) and ``False`` on the first start."""
        if self._table is not None:
            return self._table, True
        table = self._table = fresh()
        return table, False
