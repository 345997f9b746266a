"""Supervisor: starts children in order, restarts them by strategy, stops them in reverse.

A supervisor is a GenServer that traps exits. Children are described by :class:`ChildSpec`:

``id``        unique within the supervisor
``start``     ``async () -> Pid | None``: starts the child linked to the caller
              (``Server.child_spec(...)`` builds one); ``None`` means the child chose to
              ignore the start
``restart``   ``"permanent"`` (always restarted), ``"transient"`` (restarted only after an
              abnormal exit: not ``normal``, ``shutdown`` or ``("shutdown", _)``), or
              ``"temporary"`` (never restarted; forgotten when it exits)
``shutdown``  seconds to wait after sending ``shutdown`` before killing the child,
              ``"brutal_kill"`` (kill at once) or ``"infinity"``. Default: 5 s for a
              worker, ``"infinity"`` for a supervisor
``type``      ``"worker"`` or ``"supervisor"``

Strategies: ``one_for_one`` restarts only the child that exited; ``one_for_all`` stops all
the others (in reverse start order) and restarts them all; ``rest_for_one`` stops and restarts
the exited child and every child started after it.

Restart intensity: more than ``max_restarts`` restarts (default 3) within ``max_seconds``
(default 5) makes the supervisor stop all its children and exit with reason ``"shutdown"``,
which its own supervisor sees like any child exit.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import _kernel as k
from ._kernel import Exit, From, Pid, Process
from .errors import ChildError, StartError
from .gen_server import GenServer, NoReply, Ok, Reply, Stop, call

__all__ = ["ChildInfo", "ChildSpec", "Supervisor"]

RESTARTS = ("permanent", "transient", "temporary")
TYPES = ("worker", "supervisor")
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")


@dataclass(frozen=True)
class ChildSpec:
    """How to start, restart and stop one child; see the module docstring."""

    id: Any
    start: Callable[[], Awaitable[Pid | None]] = field(repr=False)
    restart: str = "permanent"
    shutdown: float | str | None = None
    type: str = "worker"

    def __post_init__(self) -> None:
        if self.restart not in RESTARTS:
            raise ValueError(f"child {self.id!r}: restart must be one of {RESTARTS}")
        if self.type not in TYPES:
            raise ValueError(f"child {self.id!r}: type must be one of {TYPES}")
        if self.shutdown is None:
            object.__setattr__(
                self, "shutdown", "infinity" if self.type == "supervisor" else 5.0
            )
        sd = self.shutdown
        if sd not in ("brutal_kill", "infinity") and not (
            isinstance(sd, (int, float)) and not isinstance(sd, bool) and sd >= 0
        ):
            raise ValueError(
                f"child {self.id!r}: shutdown must be seconds >= 0, 'brutal_kill' or 'infinity'"
            )

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-serialisable data (for introspection)."""
        return {
            "id": _jsonable(self.id),
            "restart": self.restart,
            "shutdown": self.shutdown,
            "type": self.type,
        }


class ChildInfo(NamedTuple):
    """One row of ``which_children``: ``pid`` is ``None`` for a child that is not running."""

    id: Any
    pid: Pid | None
    type: str
    restart: str


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


class _Child:
    __slots__ = ("pid", "restarts", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.pid: Pid | None = None
        self.restarts = 0


class _TryAgain(NamedTuple):
    child_id: Any


def _should_restart(restart: str, reason: Any) -> bool:
    if restart == "permanent":
        return True
    if restart == "transient":
        return not k.is_normal_exit(reason)
    return False


def record_restart(times: deque[float], max_restarts: int, max_seconds: float) -> bool:
    """Record a restart now; False once more than ``max_restarts`` fall in ``max_seconds``."""
    now = time.monotonic()
    times.append(now)
    while times and times[0] <= now - max_seconds:
        times.popleft()
    return len(times) <= max_restarts


async def start_child_process(spec: ChildSpec, restarts: int = 0) -> Pid | None:
    """Run ``spec.start`` from the calling supervisor and make sure the child is linked."""
    pid = await spec.start()
    if pid is None:
        return None
    proc = pid._proc
    if proc is None:
        raise StartError(k.NOPROC, f"child {spec.id!r} exited during its start")
    me = k.self_process()
    k._link(me, proc)
    if proc._parent is None:
        proc._parent = me
    proc._restarts = restarts
    return pid


async def shutdown_child(pid: Pid, shutdown: float | str | None) -> Any:
    """Stop a child as a supervisor does; returns its exit reason.

    The link is removed first so the supervisor does not see the exit as a crash; then the
    child gets ``shutdown`` and, if it has not exited within its shutdown time, ``kill``.
    """
    proc = pid._proc
    if proc is None:
        return k.NOPROC
    me = k.self_process()
    if me._links is not None:
        me._links.discard(proc)
    if proc._links is not None:
        proc._links.discard(me)
    if me._mailbox:
        k._drop(me._mailbox, lambda m: type(m) is Exit and m.pid is pid)
    if shutdown == "brutal_kill":
        proc._signal(me, k.KILL)
        return k.KILLED
    done: asyncio.Future[Any] = me._loop.create_future()

    def _exited(_p: Process, reason: Any) -> None:
        if not done.done():
            done.set_result(reason)

    proc._on_exit(_exited)
    proc._signal(me, k.SHUTDOWN)
    if done.done():
        return done.result()
    if shutdown == "infinity":
        return await done
    assert isinstance(shutdown, (int, float))
    try:
        return await asyncio.wait_for(asyncio.shield(done), shutdown)
    except TimeoutError:
        proc._signal(me, k.KILL)
        return k.KILLED


class _SupState:
    __slots__ = ("children", "max_restarts", "max_seconds", "restart_times", "strategy")

    def __init__(self, strategy: str, max_restarts: int, max_seconds: float) -> None:
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.children: list[_Child] = []
        self.restart_times: deque[float] = deque()


class Supervisor(GenServer):
    """A supervisor process; start it with ``Supervisor.start_link(children, ...)``."""

    behaviour = "supervisor"
    child_type = "supervisor"

    async def init(
        self,
        children: list[ChildSpec],
        strategy: str = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> Any:
        if strategy not in STRATEGIES:
            return Stop(ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}"))
        if max_restarts < 0 or max_seconds <= 0:
            return Stop(ValueError("max_restarts must be >= 0 and max_seconds > 0"))
        ids = [spec.id for spec in children]
        if len(set(map(repr, ids))) != len(ids):
            return Stop(ValueError(f"duplicate child ids in {ids!r}"))
        self._trap_exit = True
        state = _SupState(strategy, max_restarts, max_seconds)
        for spec in children:
            child = _Child(spec)
            try:
                child.pid = await start_child_process(spec)
            except Exception as e:
                await self._stop_children(state.children)
                return Stop(("failed_to_start_child", _jsonable(spec.id), e))
            if child.pid is not None or spec.restart != "temporary":
                state.children.append(child)
        return Ok(state)

    # -- client API ----------------------------------------------------------------------

    @staticmethod
    async def which_children(sup: Any) -> list[ChildInfo]:
        """Every child, in start order."""
        result: list[ChildInfo] = await call(sup, ("$which_children",))
        return result

    @staticmethod
    async def count_children(sup: Any) -> dict[str, int]:
        """Counts of ``specs``, ``active``, ``supervisors`` and ``workers``."""
        result: dict[str, int] = await call(sup, ("$count_children",))
        return result

    @staticmethod
    async def start_child(sup: Any, spec: ChildSpec) -> Pid | None:
        """Add and start a child after the existing ones; raises :class:`ChildError`."""
        return _unwrap(await call(sup, ("$start_child", spec), timeout=None))

    @staticmethod
    async def terminate_child(sup: Any, child_id: Any) -> None:
        """Stop a child; its spec stays (except a temporary one's) for ``restart_child``."""
        _unwrap(await call(sup, ("$terminate_child", child_id), timeout=None))

    @staticmethod
    async def restart_child(sup: Any, child_id: Any) -> Pid | None:
        """Start again a child that was terminated."""
        return _unwrap(await call(sup, ("$restart_child", child_id), timeout=None))

    @staticmethod
    async def delete_child(sup: Any, child_id: Any) -> None:
        """Forget the spec of a child that is not running."""
        _unwrap(await call(sup, ("$delete_child", child_id)))

    # -- callbacks -----------------------------------------------------------------------

    async def handle_call(self, request: Any, from_: From, state: _SupState) -> Any:
        op = request[0]
        if op == "$which_children":
            rows = [
                ChildInfo(c.spec.id, c.pid, c.spec.type, c.spec.restart) for c in state.children
            ]
            return Reply(rows, state)
        if op == "$count_children":
            return Reply(_count(state.children), state)
        if op == "$snapshot":
            return Reply(self._snapshot(state), state)
        if op == "$start_child":
            return Reply(await self._add_child(state, request[1]), state)
        child = _find(state, request[1])
        if child is None:
            return Reply(ChildError("not_found", request[1]), state)
        if op == "$terminate_child":
            if child.pid is not None:
                await shutdown_child(child.pid, child.spec.shutdown)
                child.pid = None
            if child.spec.restart == "temporary":
                state.children.remove(child)
            return Reply(None, state)
        if child.pid is not None:
            return Reply(ChildError("running", child.spec.id), state)
        if op == "$restart_child":
            try:
                child.pid = await start_child_process(child.spec, child.restarts)
            except Exception as e:
                return Reply(ChildError(e, child.spec.id), state)
            return Reply(child.pid, state)
        if op == "$delete_child":
            state.children.remove(child)
            return Reply(None, state)
        raise ValueError(f"unknown supervisor request {request!r}")

    async def handle_info(self, msg: Any, state: _SupState) -> Any:
        if type(msg) is _TryAgain:
            child = _find(state, msg.child_id)
            if child is None or child.pid is not None:
                return NoReply(state)
            return await self._restart(state, child)
        if type(msg) is not Exit:
            return super().handle_info(msg, state)
        child = next((c for c in state.children if c.pid is msg.pid), None)
        if child is None:
            return NoReply(state)  # a linked process that is not ours
        child.pid = None
        if not _should_restart(child.spec.restart, msg.reason):
            if child.spec.restart == "temporary":
                state.children.remove(child)
            return NoReply(state)
        return await self._restart(state, child)

    async def terminate(self, reason: Any, state: _SupState | None) -> None:
        if state is not None:
            await self._stop_children(state.children)

    # -- restarts ------------------------------------------------------------------------

    async def _restart(self, state: _SupState, failed: _Child) -> Any:
        if not record_restart(state.restart_times, state.max_restarts, state.max_seconds):
            k.log.error(
                "supervisor %r (%s) reached max restart intensity (%d in %ss); shutting down",
                self.pid,
                self._name,
                state.max_restarts,
                state.max_seconds,
            )
            return Stop(k.SHUTDOWN, state)
        children = state.children
        if state.strategy == "one_for_one":
            group = [failed]
        elif state.strategy == "one_for_all":
            group = list(children)
        else:
            group = children[children.index(failed) :]
        await self._stop_children([c for c in group if c is not failed])
        for child in group:
            if child is not failed and child.spec.restart == "temporary":
                children.remove(child)
        for child in group:
            if child not in children:
                continue
            child.restarts += 1
            try:
                child.pid = await start_child_process(child.spec, child.restarts)
            except Exception as e:
                k.log.error("supervisor %r: restarting child %r failed: %r", self.pid,
                            child.spec.id, e)
                # As in OTP, the children already restarted keep running: the retry restarts
                # the failed child's group again (all of it for one_for_all, the failed child
                # and those after it for rest_for_one). Stopping them here left the earlier
                # ones of a rest_for_one group down for good.
                k.send(self.pid, _TryAgain(child.spec.id))
                break
        return NoReply(state)

    async def _stop_children(self, children: list[_Child]) -> None:
        for child in reversed(children):
            if child.pid is not None:
                await shutdown_child(child.pid, child.spec.shutdown)
                child.pid = None

    async def _add_child(self, state: _SupState, spec: ChildSpec) -> Any:
        existing = _find(state, spec.id)
        if existing is not None:
            reason = "already_present" if existing.pid is None else ("already_started",
                                                                       existing.pid)
            return ChildError(reason, spec.id)
        child = _Child(spec)
        try:
            child.pid = await start_child_process(spec)
        except Exception as e:
            return ChildError(e, spec.id)
        if child.pid is not None or spec.restart != "temporary":
            state.children.append(child)
        return child.pid

    def _snapshot(self, state: _SupState) -> dict[str, Any]:
        info = self._info()
        info.update(
            strategy=state.strategy,
            max_restarts=state.max_restarts,
            max_seconds=state.max_seconds,
            recent_restarts=len(state.restart_times),
            children=[_describe_child(c) for c in state.children],
        )
        return info


def _describe_child(child: _Child) -> dict[str, Any]:
    row = child.spec.describe()
    proc = child.pid._proc if child.pid is not None else None
    row["restarts"] = child.restarts
    row["pid"] = repr(child.pid) if child.pid is not None else None
    row["state"] = "running" if proc is not None else "terminated"
    row["process"] = proc._info() if proc is not None else None
    return row


def _find(state: _SupState, child_id: Any) -> _Child | None:
    for child in state.children:
        if child.spec.id == child_id:
            return child
    return None


def _count(children: Any) -> dict[str, int]:
    specs = active = sups = 0
    for c in children:
        specs += 1
        active += c.pid is not None
        sups += c.spec.type == "supervisor"
    return {"specs": specs, "active": active, "supervisors": sups, "workers": specs - sups}


def _unwrap(result: Any) -> Any:
    if isinstance(result, ChildError):
        raise ChildError(result.reason, result.child)
    return result
