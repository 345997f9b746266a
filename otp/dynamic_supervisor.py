"""DynamicSupervisor: children started on demand, all alike, restarted one for one.

For one process per connection, per channel, per live page: ``start_child`` adds a child,
``max_children`` caps how many may run, and stopping the supervisor stops every child at once
(each within its own shutdown time) rather than one after another.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, NamedTuple

from . import _kernel as k
from ._kernel import Exit, From, Pid
from .errors import ChildError
from .gen_server import GenServer, NoReply, Ok, Reply, Stop, call
from .supervisor import (
    ChildInfo,
    ChildSpec,
    Supervisor,
    _should_restart,
    record_restart,
    shutdown_child,
    start_child_process,
)

__all__ = ["DynamicSupervisor"]


class _DynState:
    __slots__ = ("children", "max_children", "max_restarts", "max_seconds", "restart_times")

    def __init__(self, max_children: int | None, max_restarts: int, max_seconds: float) -> None:
        self.children: dict[Pid, tuple[ChildSpec, int]] = {}
        self.max_children = max_children
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.restart_times: deque[float] = deque()


class _Retry(NamedTuple):
    spec: ChildSpec
    restarts: int


class DynamicSupervisor(GenServer):
    """Start with ``DynamicSupervisor.start_link(max_children=..., name=...)``."""

    behaviour = "dynamic_supervisor"
    child_type = "supervisor"

    def init(
        self, max_children: int | None = None, max_restarts: int = 3, max_seconds: float = 5.0
    ) -> Any:
        if max_children is not None and max_children < 0:
            return Stop(ValueError("max_children must be >= 0"))
        # Checked as Supervisor does: with max_seconds <= 0 no restart would ever count, so a
        # child that keeps failing would be restarted forever.
        if max_restarts < 0 or max_seconds <= 0:
            return Stop(ValueError("max_restarts must be >= 0 and max_seconds > 0"))
        self._trap_exit = True
        return Ok(_DynState(max_children, max_restarts, max_seconds))

    # -- client API ----------------------------------------------------------------------

    @staticmethod
    async def start_child(sup: Any, spec: ChildSpec) -> Pid | None:
        """Start a child from ``spec``; raises :class:`ChildError` (``"max_children"`` when
        full, or the child's start error)."""
        result = await call(sup, ("$start_child", spec), timeout=None)
        if isinstance(result, ChildError):
            raise ChildError(result.reason, result.child)
        return result

    @staticmethod
    async def terminate_child(sup: Any, pid: Pid) -> None:
        """Stop the child ``pid``; raises :class:`ChildError` ``"not_found"``."""
        result = await call(sup, ("$terminate_child", pid), timeout=None)
        if isinstance(result, ChildError):
            raise ChildError(result.reason, result.child)

    # Same requests as a Supervisor's; a dynamic supervisor lists only running children.
    which_children = staticmethod(Supervisor.which_children)
    count_children = staticmethod(Supervisor.count_children)

    # -- callbacks -----------------------------------------------------------------------

    async def handle_call(self, request: Any, from_: From, state: _DynState) -> Any:
        op = request[0]
        if op == "$start_child":
            spec: ChildSpec = request[1]
            if state.max_children is not None and len(state.children) >= state.max_children:
                return Reply(ChildError("max_children", spec.id), state)
            try:
                pid = await start_child_process(spec)
            except Exception as e:
                return Reply(ChildError(e, spec.id), state)
            if pid is not None:
                state.children[pid] = (spec, 0)
            return Reply(pid, state)
        if op == "$terminate_child":
            entry = state.children.pop(request[1], None)
            if entry is None:
                return Reply(ChildError("not_found", request[1]), state)
            await shutdown_child(request[1], entry[0].shutdown)
            return Reply(None, state)
        if op == "$which_children":
            rows = [ChildInfo(s.id, pid, s.type, s.restart) for pid, (s, _) in
                    state.children.items()]
            return Reply(rows, state)
        if op == "$count_children":
            n = len(state.children)
            sups = sum(1 for s, _ in state.children.values() if s.type == "supervisor")
            return Reply({"specs": n, "active": n, "supervisors": sups, "workers": n - sups},
                         state)
        if op == "$snapshot":
            return Reply(self._snapshot(state, request[1] if len(request) > 1 else 100), state)
        raise ValueError(f"unknown supervisor request {request!r}")

    async def handle_info(self, msg: Any, state: _DynState) -> Any:
        if isinstance(msg, _Retry):
            spec, restarts = msg.spec, msg.restarts
        elif type(msg) is not Exit:
            return super().handle_info(msg, state)
        else:
            entry = state.children.pop(msg.pid, None)
            if entry is None or not _should_restart(entry[0].restart, msg.reason):
                return NoReply(state)
            spec, restarts = entry
        if not record_restart(state.restart_times, state.max_restarts, state.max_seconds):
            k.log.error("dynamic supervisor %r reached max restart intensity; shutting down",
                        self.pid)
            return Stop(k.SHUTDOWN, state)
        try:
            pid = await start_child_process(spec, restarts + 1)
        except Exception as e:
            k.log.error("dynamic supervisor %r: restarting %r failed: %r", self.pid, spec.id, e)
            k.send(self.pid, _Retry(spec, restarts + 1))
            return NoReply(state)
        if pid is not None:
            state.children[pid] = (spec, restarts + 1)
        return NoReply(state)

    async def terminate(self, reason: Any, state: _DynState | None) -> None:
        if state is None or not state.children:
            return
        children = list(state.children.items())
        state.children.clear()
        await asyncio.gather(*(shutdown_child(pid, spec.shutdown) for pid, (spec, _) in children))

    def _snapshot(self, state: _DynState, limit: int) -> dict[str, Any]:
        info = self._info()
        rows = []
        for pid, (spec, restarts) in list(state.children.items())[:limit]:
            row = spec.describe()
            proc = pid._proc
            row.update(restarts=restarts, pid=repr(pid),
                       state="running" if proc is not None else "terminated",
                       process=proc._info() if proc is not None else None)
            rows.append(row)
        info.update(
            strategy="one_for_one",
            max_children=state.max_children,
            max_restarts=state.max_restarts,
            max_seconds=state.max_seconds,
            recent_restarts=len(state.restart_times),
            child_count=len(state.children),
            children=rows,
        )
        return info
