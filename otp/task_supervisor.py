"""TaskSupervisor: supervised one-off work.

``start_child`` runs a coroutine function under the supervisor and forgets it.
``async_nolink`` runs one whose result the caller wants: the caller is not linked to the task
(a crash in the task does not take the caller down) but monitors it, so it always learns the
outcome, either by awaiting the returned :class:`Task` or, in a GenServer, as messages:
``TaskReply(ref, value)`` on success, ``Down(ref, pid, reason)`` on failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from . import _kernel as k
from ._kernel import Down, Pid, Process, Ref
from .dynamic_supervisor import DynamicSupervisor
from .errors import CallTimeout, ProcessExited
from .supervisor import ChildSpec

__all__ = ["Task", "TaskReply", "TaskSupervisor"]


class TaskReply(NamedTuple):
    """The value an ``async_nolink`` task returned, delivered to its owner."""

    ref: Ref
    value: Any


class Task:
    """A running ``async_nolink`` task: ``await task.await_(timeout)`` for its value."""

    __slots__ = ("_fut", "_owner", "pid", "ref")

    def __init__(self, pid: Pid, ref: Ref, owner: Process, fut: asyncio.Future[Any]) -> None:
        self.pid = pid
        self.ref = ref
        self._owner = owner
        self._fut = fut

    def __repr__(self) -> str:
        return f"Task({self.pid!r}, {self.ref!r})"

    async def await_(self, timeout: float | None = 5.0) -> Any:
        """The task's value. Raises :class:`CallTimeout` if it takes longer than ``timeout``
        (the task keeps running) and :class:`ProcessExited` if it crashed."""
        try:
            value = await asyncio.wait_for(asyncio.shield(self._fut), timeout)
        except TimeoutError:
            raise CallTimeout(self.pid, None, timeout or 0.0) from None
        finally:
            if self._fut.done():
                self._forget()
        return value

    async def yield_(self, timeout: float = 5.0) -> Any:
        """The value if it arrives within ``timeout``, else ``None`` (the task keeps running).
        A crash raises :class:`ProcessExited`."""
        try:
            return await self.await_(timeout)
        except CallTimeout:
            return None

    def shutdown(self) -> None:
        """Kill the task if it is still running and drop its pending messages."""
        proc = self.pid._proc
        if proc is not None:
            proc._signal(None, k.KILL)
        if not self._fut.done():
            self._fut.cancel()
        self._forget()

    def _forget(self) -> None:
        owner = self._owner
        if owner._monitors is not None:
            target = owner._monitors.pop(self.ref, None)
            if target is not None and target._monitored_by is not None:
                target._monitored_by.pop(self.ref, None)
        if owner._mailbox:
            ref = self.ref
            k._drop(owner._mailbox, lambda m: type(m) in (TaskReply, Down) and m.ref is ref)


async def _run_task(
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    owner: Process | None,
    cell: list[Any],
) -> None:
    value = await fn(*args)
    if cell:
        ref, fut = cell
        if not fut.done():
            fut.set_result(value)
        if owner is not None and owner._alive:
            owner._deliver(TaskReply(ref, value))


class TaskSupervisor(DynamicSupervisor):
    """A DynamicSupervisor for tasks; start it like one."""

    behaviour = "task_supervisor"

    @staticmethod
    async def start_child(  # type: ignore[override]
        sup: Any, fn: Callable[..., Awaitable[Any]], *args: Any
    ) -> Pid | None:
        """Run ``fn(*args)`` under the supervisor, fire and forget."""
        spec = ChildSpec(
            id=getattr(fn, "__qualname__", "task"),
            start=lambda: _spawn_linked(fn, args, None, []),
            restart="temporary",
        )
        return await DynamicSupervisor.start_child(sup, spec)

    @staticmethod
    async def async_nolink(sup: Any, fn: Callable[..., Awaitable[Any]], *args: Any) -> Task:
        """Run ``fn(*args)`` under the supervisor; the caller monitors it (see the module
        docstring)."""
        owner = k.self_process()
        cell: list[Any] = []
        spec = ChildSpec(
            id=getattr(fn, "__qualname__", "task"),
            start=lambda: _spawn_linked(fn, args, owner, cell),
            restart="temporary",
        )
        pid = await DynamicSupervisor.start_child(sup, spec)
        assert pid is not None
        ref, fut = cell
        return Task(pid, ref, owner, fut)


async def _spawn_linked(
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    owner: Process | None,
    cell: list[Any],
) -> Pid:
    pid = k.spawn_link(_run_task, fn, args, owner, cell)
    proc = pid._proc
    assert isinstance(proc, k.TaskProcess)
    proc._label = getattr(fn, "__qualname__", None)
    if owner is not None:
        # Monitor before the body can run, so the owner always sees the outcome.
        ref = k._monitor(owner, pid)
        fut: asyncio.Future[Any] = owner._loop.create_future()

        def _exited(_p: Process, reason: Any) -> None:
            if not fut.done():
                fut.set_exception(ProcessExited(pid, None, reason))
                fut.exception()  # retrieved here: the owner may never await it

        proc._on_exit(_exited)
        cell.extend((ref, fut))
    return pid
