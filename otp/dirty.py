"""Dirty work: blocking and CPU-heavy calls run on pykka threads, awaited without blocking.

:class:`PykkaChild` brings a pykka actor into the supervision tree: it starts the actor,
notices when the actor's thread ends (a crash in the actor is a crash of the child, so its
supervisor restarts it) and stops the actor when the tree shuts down.

The dirty pool is such children running :class:`DirtyWorker`, the equivalent of the BEAM's
dirty schedulers. ``await run_dirty(fn, *args)`` sends the call to the least busy worker and
resumes the caller with its result (or raises its exception); the event loop keeps serving
everyone else meanwhile. An exception in ``fn`` is the caller's, not the worker's: the
worker lives on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import pykka

from . import _kernel as k
from ._kernel import Pid
from .errors import NoProcess, ProcessExited
from .gen_server import GenServer, Ok, Stop
from .supervisor import ChildSpec, Supervisor

__all__ = ["DirtyWorker", "PykkaChild", "dirty_pool_spec", "run_dirty"]

T = TypeVar("T")


class _ActorExited(NamedTuple):
    failure: BaseException | None


_supervised_classes: dict[type[pykka.Actor], type[pykka.Actor]] = {}


def _supervised(actor_cls: type[pykka.Actor]) -> type[pykka.Actor]:
    """A subclass of ``actor_cls`` that reports the end of its thread to its bridge."""
    cls = _supervised_classes.get(actor_cls)
    if cls is not None:
        return cls

    def _handle_failure(self: Any, exc_type: Any, exc: Any, tb: Any) -> None:
        self._hearth_failure = exc
        actor_cls._handle_failure(self, exc_type, exc, tb)

    def _actor_loop(self: Any) -> None:
        try:
            actor_cls._actor_loop(self)
        finally:
            notify = getattr(self, "_hearth_notify", None)
            if notify is not None:
                notify(getattr(self, "_hearth_failure", None))

    cls = type(
        actor_cls.__name__,
        (actor_cls,),
        {"_handle_failure": _handle_failure, "_actor_loop": _actor_loop,
         "__qualname__": actor_cls.__qualname__},
    )
    _supervised_classes[actor_cls] = cls
    return cls


class _Bridge:
    __slots__ = ("actor_cls", "exited", "outstanding", "ref", "stopping")

    def __init__(self, ref: pykka.ActorRef[Any], actor_cls: type[pykka.Actor]) -> None:
        self.ref = ref
        self.actor_cls = actor_cls
        self.stopping = False
        self.exited: asyncio.Future[BaseException | None] = asyncio.get_running_loop(
        ).create_future()
        self.outstanding: set[asyncio.Future[Any]] = set()


def _let_go(state: _Bridge, pid: Pid, reason: Any) -> None:
    """Fail the calls waiting on the actor and tell its thread to stop (idempotent)."""
    for fut in list(state.outstanding):
        if not fut.done():
            fut.set_exception(ProcessExited(pid, None, reason))
    if not state.stopping:
        state.stopping = True
        if state.ref.is_alive():
            state.ref.tell(pykka.messages._ActorStop())


class PykkaChild(GenServer):
    """A process standing for one pykka actor; see the module docstring.

    Start it under a supervisor with ``PykkaChild.child_spec(ActorClass, *args, id=...)``.
    """

    behaviour = "pykka"

    def init(self, actor_cls: type[pykka.Actor], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        pid = self.pid
        actor = _supervised(actor_cls)(*args)
        state = _Bridge(actor.actor_ref, actor_cls)

        def exited(failure: BaseException | None) -> None:
            if not state.exited.done():
                state.exited.set_result(failure)
            if not state.stopping:
                k.send(pid, _ActorExited(failure))

        def notify(failure: BaseException | None) -> None:  # runs in the actor's thread
            try:
                loop.call_soon_threadsafe(exited, failure)
            except RuntimeError:  # the loop is closed: the node is gone
                pass

        actor._hearth_notify = notify  # type: ignore[attr-defined]
        # The supervisor's shutdown must run terminate, which stops the actor's thread and
        # waits for it; a process that does not trap exits would die without it.
        self._trap_exit = True
        # A kill skips terminate: the thread is told to stop all the same, and the callers
        # waiting on it learn at once, rather than leave a thread (and them) behind.
        self._on_exit(lambda _proc, reason: _let_go(state, pid, reason))
        pykka.ActorRegistry.register(actor.actor_ref)
        actor._start_actor_loop()
        return Ok(state)

    def _signal(self, sender: k.Process | None, reason: Any) -> None:
        # A supervisor that was killed takes its workers with it at once: waiting for their
        # threads (terminate) would keep their names from the restarted supervisor's new
        # workers. The exit hook still tells each thread to stop.
        if reason == k.KILLED and sender is not None and sender is self._parent:
            self._exit(k.KILLED)
            return
        super()._signal(sender, reason)

    def handle_info(self, msg: Any, state: _Bridge) -> Any:
        if type(msg) is _ActorExited:
            reason = msg.failure if msg.failure is not None else ("actor_stopped",
                                                                 state.actor_cls.__name__)
            return Stop(reason, state)
        return super().handle_info(msg, state)

    async def terminate(self, reason: Any, state: _Bridge) -> None:
        _let_go(state, self.pid, reason)
        await state.exited  # the supervisor's shutdown time bounds this wait

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        state = self._state
        if isinstance(state, _Bridge):
            info["behaviour"] = f"pykka:{state.actor_cls.__qualname__}"
            info["actor_urn"] = state.ref.actor_urn
            info["jobs_in_flight"] = len(state.outstanding)
        return info


class _Job(NamedTuple):
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    fut: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class DirtyWorker(pykka.ThreadingActor):
    """Runs jobs in its own thread; results go back to the loop that sent them."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        if type(message) is not _Job:
            return super().on_receive(message)
        try:
            value = message.fn(*message.args)
        except Exception as e:
            message.loop.call_soon_threadsafe(_settle, message.fut, False, e)
        else:
            message.loop.call_soon_threadsafe(_settle, message.fut, True, value)
        return None


_pools: dict[str, list[str]] = {}


def dirty_pool_spec(size: int, name: str = "dirty") -> ChildSpec:
    """A supervisor of ``size`` dirty workers, registered as ``name`` (workers as
    ``name.0`` ...)."""
    if size < 1:
        raise ValueError("the dirty pool needs at least one worker")
    workers = [f"{name}.{i}" for i in range(size)]
    _pools[name] = workers
    children = [
        PykkaChild.child_spec(DirtyWorker, id=worker, name=worker, shutdown=10.0)
        for worker in workers
    ]
    return Supervisor.child_spec(children, id=name, name=name,
                                 init_kwargs={"strategy": "one_for_one", "max_restarts": 10})


async def run_dirty(fn: Callable[..., T], *args: Any, pool: str = "dirty") -> T:
    """Run the blocking ``fn(*args)`` on the dirty pool and return its result."""
    best: _Bridge | None = None
    best_proc: Any = None
    for worker in _pools.get(pool, ()):
        proc = k._names.get(worker)
        state = proc._state if isinstance(proc, PykkaChild) else None
        if not isinstance(state, _Bridge):
            continue
        if best is None or len(state.outstanding) < len(best.outstanding):
            best, best_proc = state, proc
            if not state.outstanding:
                break
    if best is None:
        raise NoProcess(pool)
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()
    best.outstanding.add(fut)
    fut.add_done_callback(best.outstanding.discard)
    best.ref.tell(_Job(fn, args, fut, loop))
    best_proc._handled += 1
    return await fut


def pykka_pid(ref: pykka.ActorRef[Any]) -> Pid | None:
    """The pid of the PykkaChild standing for the actor behind ``ref``, if any."""
    for proc in k._procs.values():
        state = proc._state if isinstance(proc, PykkaChild) else None
        if isinstance(state, _Bridge) and state.ref.actor_urn == ref.actor_urn:
            return proc.pid
    return None
