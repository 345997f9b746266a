"""Registry: find processes by key, locally, without a name per process.

A registry is a process that owns a table; lookups and registrations read and write the table
directly from the caller (like an ETS table), so they cost no message round trip. Entries
vanish the moment their process exits. ``keys="unique"`` allows one process per key (usable
as a process name through :meth:`Registry.via`); ``keys="duplicate"`` allows many, as for
dispatching to everyone interested in a topic.

Under a supervisor (``Registry.child_spec``) the table has an :class:`~otp.heir.Heir`, so a
restarted registry still knows every process that registered with the one that crashed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _kernel as k
from ._kernel import Pid, Process
from .errors import AlreadyRegistered
from .gen_server import GenServer, Ok, Stop, table_of
from .heir import Heir

__all__ = ["Registry", "Via"]


class _Table:
    __slots__ = ("by_proc", "entries", "has_heir", "unique")

    def __init__(self, unique: bool) -> None:
        self.unique = unique
        # key -> {process: value}; for unique keys the inner dict holds one entry.
        self.entries: dict[Any, dict[Process, Any]] = {}
        self.by_proc: dict[Process, set[Any]] = {}
        self.has_heir = False

    def add(self, proc: Process, key: Any, value: Any) -> None:
        holders = self.entries.get(key)
        if holders is None:
            holders = self.entries[key] = {}
        elif self.unique and holders:
            (holder,) = holders
            if holder is not proc:
                raise AlreadyRegistered(key, holder.pid)
        holders[proc] = value
        keys = self.by_proc.get(proc)
        if keys is None:
            keys = self.by_proc[proc] = set()
            proc._on_exit(self.forget)
        keys.add(key)

    def remove(self, proc: Process, key: Any) -> None:
        holders = self.entries.get(key)
        if holders is not None and holders.pop(proc, _GONE) is not _GONE and not holders:
            del self.entries[key]
        keys = self.by_proc.get(proc)
        if keys is not None:
            keys.discard(key)

    def forget(self, proc: Process, _reason: Any = None) -> None:
        for key in self.by_proc.pop(proc, ()):
            holders = self.entries.get(key)
            if holders is not None:
                holders.pop(proc, None)
                if not holders:
                    del self.entries[key]


_GONE = object()


class Via:
    """A name that resolves through a unique registry: use it wherever a pid goes, and as
    ``name=`` when starting a server."""

    __slots__ = ("key", "registry")

    def __init__(self, registry: Any, key: Any) -> None:
        self.registry = registry
        self.key = key

    def __repr__(self) -> str:
        return f"Via({self.registry!r}, {self.key!r})"

    def _whereis(self) -> Process | None:
        table = _table(self.registry)
        holders = table.entries.get(self.key)
        if holders:
            for proc in holders:
                return proc
        return None

    def _register(self, proc: Process) -> Pid | None:
        try:
            _table(self.registry).add(proc, self.key, None)
        except AlreadyRegistered as e:
            return e.pid
        return None


def _table(registry: Any) -> _Table:
    table: _Table = table_of(registry, Registry)
    return table


class Registry(GenServer):
    """Start with ``Registry.start_link(keys="unique", name="registry")``; supervise with
    ``Registry.child_spec(name=..., init_kwargs={"keys": ...})``, which gives it an heir."""

    behaviour = "registry"

    @classmethod
    def child_spec(cls, *args: Any, init_kwargs: dict[str, Any] | None = None,
                   **options: Any) -> Any:
        """A child spec whose restarts keep the registrations (see the module docstring)."""
        kwargs = {"heir": Heir(), **(init_kwargs or {})}
        return super().child_spec(*args, init_kwargs=kwargs, **options)

    def init(self, keys: str = "unique", heir: Heir[_Table] | None = None) -> Any:
        if keys not in ("unique", "duplicate"):
            return Stop(ValueError(f"keys must be 'unique' or 'duplicate', not {keys!r}"))
        unique = keys == "unique"
        if heir is None:
            return Ok(_Table(unique))
        table, _ = heir.claim(lambda: _Table(unique))
        table.has_heir = True
        return Ok(table)

    def terminate(self, reason: Any, state: _Table) -> None:
        if not state.has_heir:
            # No heir: the table ends here, and its processes need not tell it of exits.
            for proc in list(state.by_proc):
                proc._off_exit(state.forget)

    @staticmethod
    def via(registry: Any, key: Any) -> Via:
        """A process name that resolves to whoever holds ``key`` in a unique registry."""
        return Via(registry, key)

    @staticmethod
    def register(registry: Any, key: Any, value: Any = None) -> None:
        """Register the calling process under ``key`` with ``value``. In a unique registry
        a key held by another process raises :class:`AlreadyRegistered`."""
        _table(registry).add(k.self_process(), key, value)

    @staticmethod
    def unregister(registry: Any, key: Any) -> None:
        """Remove the calling process's entry under ``key``."""
        _table(registry).remove(k.self_process(), key)

    @staticmethod
    def lookup(registry: Any, key: Any) -> list[tuple[Pid, Any]]:
        """``(pid, value)`` for every process registered under ``key``."""
        holders = _table(registry).entries.get(key)
        return [(p.pid, v) for p, v in holders.items()] if holders else []

    @staticmethod
    def match(registry: Any, key: Any, pattern: Callable[[Any], bool]) -> list[tuple[Pid, Any]]:
        """Like :meth:`lookup`, keeping the entries whose value satisfies ``pattern``."""
        holders = _table(registry).entries.get(key)
        return [(p.pid, v) for p, v in holders.items() if pattern(v)] if holders else []

    @staticmethod
    def dispatch(
        registry: Any, key: Any, fn: Callable[[list[tuple[Pid, Any]]], None]
    ) -> bool:
        """Call ``fn(entries)`` with the entries under ``key``; False (and no call) if none."""
        entries = Registry.lookup(registry, key)
        if not entries:
            return False
        fn(entries)
        return True

    @staticmethod
    def keys(registry: Any, pid: Pid) -> list[Any]:
        """The keys ``pid`` is registered under."""
        proc = pid._proc
        return sorted(_table(registry).by_proc.get(proc, ()), key=repr) if proc else []

    @staticmethod
    def count(registry: Any, key: Any = _GONE) -> int:
        """How many entries the registry holds (under ``key``, if given)."""
        table = _table(registry)
        if key is not _GONE:
            return len(table.entries.get(key, ()))
        return sum(len(h) for h in table.entries.values())
