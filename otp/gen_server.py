"""The GenServer behaviour: a process that serves calls, casts and plain messages.

Subclass :class:`GenServer` and implement the callbacks you need. Each callback may be a
plain ``def`` (runs inline when its message comes up: the fast path) or an ``async def``
(the process waits for it before taking its next message). Callbacks receive the state and
return one of the shapes below; the runtime does the rest.

``init(*args) -> Ok | Ignore | Stop``
    ``Ok(state)`` starts serving; ``Ok(state, continue_=x)`` calls ``handle_continue(x,
    state)`` before any message; ``Ignore`` exits ``normal`` and ``start`` returns ``None``;
    ``Stop(reason)`` (or raising) makes ``start`` raise :class:`StartError`.

``handle_call(request, from_, state) -> Reply | NoReply | Stop``
    ``Reply(value, state)`` answers the caller. ``NoReply(state)`` leaves the caller waiting
    until someone calls ``reply(from_, value)``. ``Stop(reason, state, reply=value)`` answers,
    then stops; without ``reply`` the caller gets :class:`ProcessExited`.

``handle_cast(request, state)``, ``handle_info(msg, state)``, ``handle_continue(arg, state)``
    ``-> NoReply | Stop``.

``terminate(reason, state) -> None``
    Called when the server stops from a ``Stop`` shape, an exception in a callback, or an
    exit signal from its parent while it traps exits. Not called when it is killed.

``Reply``, ``NoReply`` and ``Ok`` take ``continue_=`` (run ``handle_continue`` next) and
``timeout=`` (seconds: if no message arrives in time, ``handle_info("timeout", state)``).
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

from . import _deadlines
from . import _kernel as k
from ._deadlines import deadlines_for
from ._kernel import Exit, From, Pid, Process, _Exiting, _Tag
from .errors import CallTimeout, NoProcess, ProcessExited, StartError

__all__ = [
    "From",
    "GenServer",
    "Ignore",
    "NoReply",
    "Ok",
    "Reply",
    "Stop",
    "call",
    "cast",
    "reply",
    "stop",
]

_MISSING: Any = object()
_Coroutine = types.CoroutineType
S = TypeVar("S", bound="GenServer")


class Ok:
    """``init`` succeeded: serve with ``state``."""

    __slots__ = ("continue_", "state", "timeout")

    def __init__(self, state: Any, *, continue_: Any = _MISSING, timeout: float | None = None):
        self.state = state
        self.continue_ = continue_
        self.timeout = timeout


class Reply:
    """Answer the caller with ``reply`` and go on with ``state``."""

    __slots__ = ("continue_", "reply", "state", "timeout")

    def __init__(
        self, reply: Any, state: Any, *, continue_: Any = _MISSING, timeout: float | None = None
    ):
        self.reply = reply
        self.state = state
        self.continue_ = continue_
        self.timeout = timeout


class NoReply:
    """Go on with ``state`` without answering (a call is answered later with ``reply``)."""

    __slots__ = ("continue_", "state", "timeout")

    def __init__(self, state: Any, *, continue_: Any = _MISSING, timeout: float | None = None):
        self.state = state
        self.continue_ = continue_
        self.timeout = timeout


class Stop:
    """Stop the server with ``reason`` after calling ``terminate(reason, state)``."""

    __slots__ = ("reason", "reply", "state")

    def __init__(self, reason: Any, state: Any = None, *, reply: Any = _MISSING):
        self.reason = reason
        self.state = state
        self.reply = reply


class _IgnoreType:
    __slots__ = ()

    def __repr__(self) -> str:
        return "Ignore"


Ignore = _IgnoreType()
"""``init`` declines to start: the process exits ``normal`` and ``start`` returns ``None``."""


# A cast travels as the plain tuple ``(_CAST, request)``: the cheapest envelope there is.
_CAST = _Tag("cast")


class _Continue:
    __slots__ = ("arg",)

    def __init__(self, arg: Any) -> None:
        self.arg = arg

    def __repr__(self) -> str:
        return f"continue({self.arg!r})"


def reply(from_: From, value: Any) -> None:
    """Answer a call that was left waiting by ``NoReply``. Any process may do it, once."""
    callee = from_._callee
    deferred = getattr(callee, "_deferred", None)
    if deferred:
        deferred.discard(from_)
    fut = from_._fut
    if not fut.done():
        fut.set_result(value)


def _expire(from_: From) -> None:
    fut = from_._fut
    if not fut.done():
        fut.set_exception(CallTimeout(from_._callee.pid, from_.request, from_._timeout))
    deferred = getattr(from_._callee, "_deferred", None)
    if deferred:
        deferred.discard(from_)


HANDOFFS = 64
_handoffs = HANDOFFS


async def call(target: Any, request: Any, timeout: float | None = 5.0) -> Any:
    """Send ``request`` to a GenServer and wait for its reply.

    Raises :class:`CallTimeout` if no reply comes within ``timeout`` seconds (``None``:
    wait forever), :class:`NoProcess` if the target is not alive, and
    :class:`ProcessExited` if it exits before replying.
    """
    proc = target._proc if type(target) is Pid else k.resolve(target)
    if proc is None:
        raise NoProcess(target, request)
    me = k._current.get()
    if proc is me:
        raise RuntimeError(f"{target!r} called itself: that would deadlock")
    loop = proc._loop
    fut = loop.create_future()
    from_ = From(request, fut, proc, me.pid if me is not None else None)
    global _handoffs
    if proc._handoff and not proc._scheduled and proc._task is None and not proc._mailbox:
        _handoffs -= 1
        if _handoffs:
            # Direct handoff: the server is idle, so nothing can come before this request;
            # serve it now on the caller's turn instead of a loop iteration later. Every
            # HANDOFFS-th call takes the scheduled path, so a caller in a tight loop of
            # calls still yields to the rest of the node.
            proc._serve_now(from_)
            if fut.done():
                return fut.result()
        else:
            _handoffs = HANDOFFS
            proc._deliver(from_)
    else:
        proc._deliver(from_)
    if timeout is None:
        return await fut
    from_._timeout = timeout
    tracker = _deadlines._last
    if tracker is None or tracker.loop is not loop:
        tracker = deadlines_for(loop, _expire)
    waiting = tracker.waiting
    deadline = loop.time() + timeout
    waiting[from_] = deadline
    if deadline < tracker.armed_at or tracker.timer is None:
        tracker.arm(deadline)
    try:
        return await fut
    finally:
        waiting.pop(from_, None)


class _SystemStop:
    __slots__ = ("reason",)

    def __init__(self, reason: Any) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"stop({self.reason!r})"


async def stop(target: Any, reason: Any = "normal", timeout: float | None = None) -> None:
    """Stop a GenServer with ``reason`` and wait until it has exited.

    It runs ``terminate(reason, state)`` after the messages already in its mailbox. Raises
    :class:`NoProcess` if it is not alive, :class:`CallTimeout` if it has not exited within
    ``timeout`` seconds, and :class:`ProcessExited` if it exited with another reason first.
    """
    proc = k.resolve(target)
    if proc is None:
        raise NoProcess(target, "stop")
    if not isinstance(proc, GenServer):
        raise TypeError(f"{target!r} is not a GenServer; use exit(pid, reason)")
    done: asyncio.Future[Any] = proc._loop.create_future()

    def _exited(_p: Process, exit_reason: Any) -> None:
        if not done.done():
            done.set_result(exit_reason)

    proc._on_exit(_exited)
    proc._deliver(_SystemStop(reason))
    try:
        exit_reason = await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise CallTimeout(target, "stop", timeout or 0.0) from None
    if exit_reason is not reason and exit_reason != reason:
        raise ProcessExited(target, "stop", exit_reason)


def cast(target: Any, request: Any) -> None:
    """Send ``request`` to a GenServer's ``handle_cast`` without waiting. Never raises for a
    dead or unknown target."""
    proc = target._proc if type(target) is Pid else k.resolve(target)
    if proc is not None:
        proc._deliver((_CAST, request))


class GenServer(Process):
    """Base class of servers; see the module docstring for the callbacks and their returns."""

    __slots__ = ("_deferred", "_idle_timer", "_state")

    _state: Any
    _deferred: set[From] | None
    _idle_timer: asyncio.TimerHandle | None

    behaviour = "gen_server"
    _handoff = True
    # Subclasses with many instances add ``__slots__ = ()`` to stay small.

    # -- callbacks (defaults) ------------------------------------------------------------

    def init(self, *args: Any, **kwargs: Any) -> Any:
        """Set up the state; see the module docstring for what to return."""
        return Ok(args[0] if len(args) == 1 else args or None)

    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no handle_call for {request!r}")

    def handle_cast(self, request: Any, state: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no handle_cast for {request!r}")

    def handle_info(self, msg: Any, state: Any) -> Any:
        k.log.warning("%r (%s) got an unexpected message: %r", self.pid, type(self).__name__, msg)
        return NoReply(state)

    def handle_continue(self, arg: Any, state: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no handle_continue for {arg!r}")

    def terminate(self, reason: Any, state: Any) -> Any:
        return None

    # -- starting ------------------------------------------------------------------------

    @classmethod
    async def start(cls, *args: Any, name: Any = None, **kwargs: Any) -> Pid | None:
        """Start a server without linking it; returns its pid once ``init`` has returned."""
        return await cls._start(args, kwargs, name, link=False)

    @classmethod
    async def start_link(cls, *args: Any, name: Any = None, **kwargs: Any) -> Pid | None:
        """Start a server linked to the calling process (its parent)."""
        return await cls._start(args, kwargs, name, link=True)

    @classmethod
    def child_spec(
        cls,
        *args: Any,
        id: Any = None,
        name: Any = None,
        restart: str = "permanent",
        shutdown: float | str | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """A supervisor child spec that starts this server with ``args`` (and
        ``init_kwargs``), registered as ``name``; ``id`` defaults to the class name."""
        from .supervisor import ChildSpec

        kwargs = init_kwargs or {}

        async def start() -> Pid | None:
            return await cls.start_link(*args, name=name, **kwargs)

        return ChildSpec(
            id=id if id is not None else cls.__name__,
            start=start,
            restart=restart,
            shutdown=shutdown,
            type=cls.child_type,
        )

    @classmethod
    async def _start(
        cls, args: tuple[Any, ...], kwargs: dict[str, Any], name: Any, link: bool
    ) -> Pid | None:
        parent = k.self_process() if link else k._current.get()
        proc = cls.__new__(cls)
        proc._setup(asyncio.get_running_loop(), parent)
        proc._state = None
        proc._deferred = None
        proc._idle_timer = None
        if name is not None:
            _register_name(proc, name)
        if link and parent is not None:
            k._link(parent, proc)
        token = k._current.set(proc)
        result: Any = None
        try:
            result = proc.init(*args, **kwargs)
        except _Exiting as e:
            proc._init_failed(e.reason, None)
        except Exception as e:
            proc._init_failed(e, e)
        finally:
            k._current.reset(token)
        if type(result) is _Coroutine:
            result = await proc._async_init(result)
        if not proc._alive:
            raise StartError(proc._exit_reason)
        if type(result) is Ok:
            proc._state = result.state
            if result.continue_ is not _MISSING:
                proc._deliver_first(_Continue(result.continue_))
            elif result.timeout is not None:
                proc._arm_timeout(result.timeout)
            return proc.pid
        if result is Ignore:
            proc._init_failed(k.NORMAL, None)
            return None
        if type(result) is Stop:
            proc._init_failed(result.reason, None)
        else:
            proc._init_failed(TypeError(f"bad return from init: {result!r}"), True)
        raise StartError(proc._exit_reason)

    async def _async_init(self, coro: Coroutine[Any, Any, Any]) -> Any:
        # The server's own task runs an async init, so a kill during init cancels it.
        task = self._task = k._run_in(self, coro)
        try:
            result = await asyncio.shield(task)
        except _Exiting as e:
            self._init_failed(e.reason, None)
        except asyncio.CancelledError:
            if self._alive and not task.done():  # our caller was cancelled: abandon the start
                task.cancel()
                self._init_failed(k.KILLED, None)
                raise
            self._init_failed(k.KILLED, None)
        except Exception as e:
            self._init_failed(e, e)
        else:
            if self._alive:
                self._task = None
                if self._mailbox and not self._scheduled:
                    self._scheduled = True
                    self._loop.call_soon(self._run)
            return result
        return None

    def _init_failed(self, reason: Any, error: Any) -> None:
        if not self._alive:
            return
        if error is not None:
            k.crash_report(self, reason)
        # The caller learns of the failure from start's error, not from a link.
        parent = self._parent
        if parent is not None and parent._links is not None and self in parent._links:
            parent._links.discard(self)
            if self._links is not None:
                self._links.discard(parent)
        self._exit(reason)

    def _deliver_first(self, msg: Any) -> None:
        self._deliver(msg)
        mb = self._mailbox
        if mb is not None and len(mb) > 1:
            mb.rotate(1)

    # -- the dispatch loop ---------------------------------------------------------------

    def _run(self) -> None:
        self._scheduled = False
        if not self._alive or self._task is not None:
            return  # dead, or an async callback is in flight and will drain the mailbox
        mb = self._mailbox
        token = k._current.set(self)
        try:
            budget = k.BUDGET
            while mb:
                msg = mb.popleft()
                pending = self._handle(msg)
                if pending is not None:
                    self._task = self._loop.create_task(self._drain(pending))
                    return
                if not self._alive:
                    return
                budget -= 1
                if budget == 0:
                    if mb:
                        self._scheduled = True
                        self._loop.call_soon(self._run)
                    return
        finally:
            k._current.reset(token)
        if self._mailbox is mb and self._alive:
            self._mailbox = None

    def _serve_now(self, msg: Any) -> None:
        """Handle ``msg`` at once, on the caller's turn (see ``call``)."""
        token = k._current.set(self)
        try:
            pending = self._handle(msg)
            if pending is not None:
                self._task = self._loop.create_task(self._drain(pending))
        finally:
            k._current.reset(token)

    async def _drain(self, pending: Coroutine[Any, Any, None]) -> None:
        """Finish an async callback, then keep serving in this task until the mailbox is
        empty."""
        try:
            await pending
            while self._alive and self._mailbox:
                pending_next = self._handle(self._mailbox.popleft())
                if pending_next is not None:
                    await pending_next
        except asyncio.CancelledError:
            if self._alive:  # cancelled from outside the runtime: treat like a kill
                self._exit(k.KILLED)
            return
        finally:
            if self._alive:
                self._task = None
        if self._alive:
            if self._mailbox:
                self._scheduled = True
                self._loop.call_soon(self._run)
            else:
                self._mailbox = None  # an idle process keeps no deque (see _run)

    def _handle(self, msg: Any) -> Coroutine[Any, Any, None] | None:
        """Handle one message; a coroutine comes back if an async callback must be awaited."""
        self._handled += 1
        self._last = msg
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        t = type(msg)
        try:
            if t is From:
                result = self.handle_call(msg.request, msg, self._state)
                if (
                    type(result) is Reply
                    and result.continue_ is _MISSING
                    and result.timeout is None
                ):  # the common case, inline
                    fut = msg._fut
                    if not fut.done():
                        fut.set_result(result.reply)
                    self._state = result.state
                    return None
            elif t is tuple and msg and msg[0] is _CAST:
                result = self.handle_cast(msg[1], self._state)
                if (
                    type(result) is NoReply
                    and result.continue_ is _MISSING
                    and result.timeout is None
                ):  # the common case, inline
                    self._state = result.state
                    return None
            elif t is _Continue:
                result = self.handle_continue(msg.arg, self._state)
            elif t is Exit and self._parent is not None and msg.pid is self._parent.pid:
                return self._stop(msg.reason, self._state, None, trapped=True)
            elif t is _SystemStop:
                return self._stop(msg.reason, self._state, None)
            else:
                result = self.handle_info(msg, self._state)
            if type(result) is _Coroutine:
                return self._await_result(result, msg)
            return self._apply(result, msg)
        except _Exiting as e:
            return self._stop(e.reason, self._state, None)
        except Exception as e:
            return self._stop(e, self._state, e)

    async def _await_result(self, coro: Coroutine[Any, Any, Any], msg: Any) -> None:
        try:
            result = await coro
            pending = self._apply(result, msg)
        except _Exiting as e:
            pending = self._stop(e.reason, self._state, None)
        except Exception as e:
            pending = self._stop(e, self._state, e)
        if pending is not None:
            await pending

    def _apply(self, result: Any, msg: Any) -> Coroutine[Any, Any, None] | None:
        t = type(result)
        if t is Reply:
            if type(msg) is From:
                fut = msg._fut
                if not fut.done():
                    fut.set_result(result.reply)
            else:
                raise TypeError(f"Reply returned for a message that is not a call: {msg!r}")
        elif t is NoReply:
            if type(msg) is From:
                if self._deferred is None:
                    self._deferred = set()
                if not msg._fut.done():
                    self._deferred.add(msg)
        elif t is Stop:
            if result.reply is not _MISSING and type(msg) is From:
                reply(msg, result.reply)
            return self._stop(result.reason, result.state, None)
        else:
            raise TypeError(f"bad return from {type(self).__name__} for {msg!r}: {result!r}")
        self._state = result.state
        if result.continue_ is not _MISSING:
            self._deliver_first(_Continue(result.continue_))
        elif result.timeout is not None:
            self._arm_timeout(result.timeout)
        return None

    def _arm_timeout(self, seconds: float) -> None:
        self._idle_timer = self._loop.call_later(seconds, self._deliver, "timeout")

    # -- stopping ------------------------------------------------------------------------

    def _stop(
        self, reason: Any, state: Any, error: BaseException | None, trapped: bool = False
    ) -> Coroutine[Any, Any, None] | None:
        """Run ``terminate`` (unless killed), log a crash report if abnormal, and exit.

        ``trapped``: the reason came in a trapped exit signal, so even ``"killed"`` (the
        parent was killed) is not a kill of this process and ``terminate`` runs.
        """
        self._state = state
        if (reason == k.KILLED and not trapped) or not self._alive:
            self._exit(reason)
            return None
        try:
            outcome = self.terminate(reason, state)
        except Exception as e:
            self._finish_stop(e, e)
            return None
        if type(outcome) is _Coroutine:
            return self._await_terminate(outcome, reason, error)
        self._finish_stop(reason, error)
        return None

    async def _await_terminate(
        self, outcome: Coroutine[Any, Any, Any], reason: Any, error: BaseException | None
    ) -> None:
        try:
            await outcome
        except Exception as e:
            self._finish_stop(e, e)
            return
        self._finish_stop(reason, error)

    def _finish_stop(self, reason: Any, error: BaseException | None) -> None:
        if error is not None or not k.is_normal_exit(reason):
            k.crash_report(self, reason)
        self._exit(reason)

    def _exit(self, reason: Any) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super()._exit(reason)

    def _fail_pending(self, reason: Any) -> None:
        super()._fail_pending(reason)
        target = self.pid
        if self._deferred:
            for from_ in self._deferred:
                if not from_._fut.done():
                    from_._fut.set_exception(ProcessExited(target, from_.request, reason))
            self._deferred = None

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info["behaviour"] = f"{self.behaviour}:{type(self).__qualname__}"
        return info

    child_type: ClassVar[str] = "worker"


def table_of(target: Any, cls: type[GenServer]) -> Any:
    """The state of the live ``cls`` server at ``target``.

    Registry and PubSub keep tables that callers read and write directly, as ETS tables are
    in Erlang; the owning server's life bounds the table's.
    """
    proc = k.resolve(target)
    if proc is None or not isinstance(proc, cls):
        raise NoProcess(target)
    return proc._state


def _register_name(proc: Process, name: Any) -> None:
    from .errors import AlreadyStarted

    if type(name) is str:
        holder = k._names.get(name)
        if holder is not None:
            proc._exit(k.NORMAL)
            raise AlreadyStarted(name, holder.pid)
        k._names[name] = proc
        proc._name = name
        return
    register_via = getattr(name, "_register", None)
    if register_via is None:
        proc._exit(k.NORMAL)
        raise TypeError(f"not a process name: {name!r}")
    try:
        holder_pid = register_via(proc)
    except BaseException:
        proc._exit(k.NORMAL)  # e.g. the registry is not running: no half-started process
        raise
    if holder_pid is not None:
        proc._exit(k.NORMAL)
        raise AlreadyStarted(name, holder_pid)
