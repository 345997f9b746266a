"""The process kernel: pids, mailboxes, signals, links, monitors, names.

A process is an object with a mailbox. It owns no asyncio task while idle: a message that
arrives schedules one run of the process on the loop (``call_soon``), which drains the mailbox
and returns. Only processes that are written as coroutines (``spawn``) or are inside an
``async`` callback hold a task. That is what keeps an idle process at a few hundred bytes.

Exit signals take effect at once: a process that is killed, or that dies from a linked
process's exit while not trapping exits, is gone (links and monitors fired, name released)
before the call that delivered the signal returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NamedTuple

from .errors import NoProcess, ProcessExited

# Process is not here: callers hold a Pid, never the process object.
__all__ = [
    "Down",
    "Exit",
    "From",
    "Pid",
    "Ref",
    "demonitor",
    "exit",
    "exit_self",
    "is_alive",
    "is_normal_exit",
    "link",
    "monitor",
    "process_count",
    "processes",
    "receive",
    "register",
    "registered",
    "self",
    "send",
    "spawn",
    "spawn_link",
    "trap_exit",
    "unlink",
    "unregister",
    "whereis",
]

log = logging.getLogger("otp")

# How many messages a process handles before it yields the loop to others.
BUDGET = 200

NORMAL = "normal"
SHUTDOWN = "shutdown"
KILL = "kill"
KILLED = "killed"
NOPROC = "noproc"


class Pid:
    """A process identifier. Printable as ``<0.42.0>``; stays valid (but dead) after exit."""

    __slots__ = ("__weakref__", "_proc", "id")

    def __init__(self, id: int, proc: Process | None) -> None:
        self.id = id
        self._proc = proc

    def __repr__(self) -> str:
        return f"<0.{self.id}.0>"

    __str__ = __repr__

    def __lt__(self, other: Pid) -> bool:
        return self.id < other.id

    @staticmethod
    def parse(text: str) -> Pid:
        """The pid printed as ``text`` (``<0.42.0>`` or ``42``); a dead pid if none is alive."""
        raw = text.strip().strip("<>").split(".")
        ident = int(raw[1] if len(raw) == 3 else raw[0])
        proc = _procs.get(ident)
        return proc.pid if proc is not None else Pid(ident, None)


class Ref:
    """A unique reference, as returned by :func:`monitor` and :func:`send_after`."""

    __slots__ = ("id",)

    def __init__(self) -> None:
        self.id = next(_ref_ids)

    def __repr__(self) -> str:
        return f"#Ref<0.{self.id}>"


class Down(NamedTuple):
    """Delivered to a monitoring process when the monitored one exits."""

    ref: Ref
    pid: Pid
    reason: Any


class Exit(NamedTuple):
    """An exit signal turned into a message, for a process that traps exits."""

    pid: Pid
    reason: Any


class From:
    """Who is waiting for a reply to a call; pass it to ``reply``.

    It is also the envelope that carries the call through the mailbox.
    """

    __slots__ = ("_callee", "_fut", "_timeout", "pid", "request")

    _timeout: float

    def __init__(
        self, request: Any, fut: asyncio.Future[Any], callee: Process, pid: Pid | None
    ) -> None:
        self.request = request
        self.pid = pid
        self._fut = fut
        self._callee = callee

    def __repr__(self) -> str:
        return f"From({self.pid!r}, {self.request!r})"


class _Exiting(BaseException):
    """Raised inside a process to unwind it after ``exit(self(), reason)``."""

    def __init__(self, reason: Any) -> None:
        super().__init__(reason)
        self.reason = reason


_pid_ids = itertools.count(1)
_ref_ids = itertools.count(1)
_procs: dict[int, Process] = {}
_names: dict[str, Process] = {}
_current: contextvars.ContextVar[Process | None] = contextvars.ContextVar(
    "otp_current_process", default=None
)


class Process:
    """The state every process has, whatever its behaviour.

    Subclasses implement ``_run`` (drain the mailbox when scheduled). The public way to talk
    to a process is through its :class:`Pid` and the module functions, never this object.
    """

    __slots__ = (
        "_alive",
        "_exit_hooks",
        "_exit_reason",
        "_handled",
        "_last",
        "_links",
        "_loop",
        "_mailbox",
        "_monitored_by",
        "_monitors",
        "_name",
        "_parent",
        "_restarts",
        "_scheduled",
        "_started",
        "_task",
        "_trap_exit",
        "pid",
    )

    behaviour = "process"
    # Whether ``call`` may serve a request on the caller's turn when the process is idle.
    _handoff = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The runtime keeps its own state in underscore names on the process object. A
        # behaviour written outside the runtime that reused one (a handler helper called
        # ``_status``, say) would silently break the process; refuse it when it is defined.
        if cls.__module__.split(".")[0] in _RUNTIME_PACKAGES:
            return
        reserved = _reserved_names()
        for name in cls.__dict__:
            if name in reserved:
                raise TypeError(
                    f"{cls.__qualname__}.{name} would replace the runtime's own {name}: "
                    "give it another name"
                )

    def _setup(self, loop: asyncio.AbstractEventLoop, parent: Process | None) -> None:
        ident = next(_pid_ids)
        self.pid = Pid(ident, self)
        self._loop = loop
        self._mailbox: deque[Any] | None = None
        self._scheduled = False
        self._alive = True
        self._links: set[Process] | None = None
        self._monitors: dict[Ref, Process] | None = None
        self._monitored_by: dict[Ref, Process] | None = None
        self._trap_exit = False
        self._parent = parent
        self._name: str | None = None
        self._handled = 0
        self._last: Any = None
        self._started = time.time()
        self._task: asyncio.Task[Any] | None = None
        self._exit_hooks: list[Callable[[Process, Any], None]] | None = None
        self._exit_reason: Any = None
        self._restarts = 0
        _procs[ident] = self

    # -- mailbox ---------------------------------------------------------------------------

    def _deliver(self, msg: Any) -> None:
        mb = self._mailbox
        if mb is None:
            mb = self._mailbox = deque()
        mb.append(msg)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _run(self) -> None:  # pragma: no cover - every behaviour overrides it
        raise NotImplementedError

    def _serve_now(self, msg: Any) -> None:  # pragma: no cover - only with ``_handoff``
        raise NotImplementedError

    # -- signals ---------------------------------------------------------------------------

    def _signal(self, sender: Process | None, reason: Any) -> None:
        """An exit signal from ``sender`` (``None``: from outside any process) arrives."""
        if not self._alive:
            return
        if reason == KILL:
            self._exit(KILLED)
        elif self._trap_exit:
            self._deliver(Exit(sender.pid if sender is not None else _nopid, reason))
        elif reason == NORMAL:
            if sender is self:
                self._exit(NORMAL)
        else:
            self._exit(reason)

    def _on_exit(self, hook: Callable[[Process, Any], None]) -> None:
        """Run ``hook(process, reason)`` synchronously when this process exits."""
        if self._exit_hooks is None:
            self._exit_hooks = []
        self._exit_hooks.append(hook)

    def _off_exit(self, hook: Callable[[Process, Any], None]) -> None:
        """Remove an ``_on_exit`` hook, if it is there."""
        hooks = self._exit_hooks
        if hooks is not None and hook in hooks:
            hooks.remove(hook)

    def _exit(self, reason: Any) -> None:
        """Die now: release the name, fail pending calls, fire links, monitors and hooks."""
        if not self._alive:
            return
        self._alive = False
        self._exit_reason = reason
        self.pid._proc = None
        del _procs[self.pid.id]
        if self._name is not None and _names.get(self._name) is self:
            del _names[self._name]
        task = self._task
        if task is not None:
            self._task = None
            # Not when the process is ending itself from its own code. A call's direct
            # handoff can run another process's code in this task: then it is cancelled.
            if not task.done() and (task is not _current_task() or _current.get() is not self):
                task.cancel()
        self._fail_pending(reason)
        self._mailbox = None
        hooks = self._exit_hooks
        if hooks is not None:
            self._exit_hooks = None
            for hook in hooks:
                try:
                    hook(self, reason)
                except Exception:  # a broken hook must not stop the exit
                    log.exception("exit hook %r of %r failed", hook, self.pid)
        monitors = self._monitors
        if monitors is not None:
            self._monitors = None
            for ref, target in monitors.items():
                if target._monitored_by is not None:
                    target._monitored_by.pop(ref, None)
        watchers = self._monitored_by
        if watchers is not None:
            self._monitored_by = None
            pid = self.pid
            for ref, watcher in watchers.items():
                if watcher._monitors is not None:
                    watcher._monitors.pop(ref, None)
                watcher._deliver(Down(ref, pid, reason))
        links = self._links
        if links is not None:
            self._links = None
            for other in links:
                if other._links is not None:
                    other._links.discard(self)
                other._signal(self, reason)

    def _fail_pending(self, reason: Any) -> None:
        """Callers waiting on this process learn that it exited."""
        target = self.pid
        last = self._last
        if type(last) is From and not last._fut.done():
            last._fut.set_exception(ProcessExited(target, last.request, reason))
        if self._mailbox:
            for msg in self._mailbox:
                if type(msg) is From and not msg._fut.done():
                    msg._fut.set_exception(ProcessExited(target, msg.request, reason))

    # -- introspection ---------------------------------------------------------------------

    def _status(self) -> str:
        if not self._alive:
            return "exited"
        if _current.get() is self:
            return "running"
        if self._scheduled or self._mailbox:
            return "runnable"
        if self._task is not None:
            return "suspended"
        return "waiting"

    def _info(self) -> dict[str, Any]:
        """What ``process_info`` reports about this process (JSON-serialisable)."""
        return {
            "pid": repr(self.pid),
            "name": self._name,
            "behaviour": self.behaviour,
            "status": self._status(),
            "message_queue_len": len(self._mailbox) if self._mailbox else 0,
            "messages_handled": self._handled,
            "last_message": _short(self._last),
            "links": sorted(repr(p.pid) for p in self._links or ()),
            "monitors": sorted(repr(p.pid) for p in (self._monitors or {}).values()),
            "monitored_by": sorted(repr(p.pid) for p in (self._monitored_by or {}).values()),
            "parent": repr(self._parent.pid) if self._parent is not None else None,
            "trap_exit": self._trap_exit,
            "restarts": self._restarts,
            "started_at": self._started,
            "uptime_s": round(time.time() - self._started, 3),
        }


class _Tag:
    """Marks a runtime envelope that travels as a plain tuple ``(tag, payload)``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_RUNTIME_PACKAGES = ("otp", "channels", "live")


def _reserved_names() -> set[str]:
    """The underscore names the runtime's process classes define (walked at each class
    definition, so classes imported later count too; it is a short walk)."""
    names: set[str] = set()
    stack: list[type] = [Process]
    while stack:
        klass = stack.pop()
        if klass.__module__.split(".")[0] in _RUNTIME_PACKAGES:
            names.update(n for n in vars(klass) if n.startswith("_") and not n.startswith("__"))
            names.update(n for n in getattr(klass, "__slots__", ()) if not n.startswith("__"))
            stack.extend(klass.__subclasses__())
    return names


def _short(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    if type(value) is tuple and len(value) == 2 and type(value[0]) is _Tag:
        text = f"{value[0]!r}({value[1]!r})"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_nopid = Pid(0, None)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


# -- coroutine processes ---------------------------------------------------------------------


class TaskProcess(Process):
    """A process whose body is a coroutine; it reads its mailbox with :func:`receive`."""

    __slots__ = ("_label", "_waiter")

    _waiter: asyncio.Future[None] | None
    _label: str | None

    behaviour = "task"

    def _deliver(self, msg: Any) -> None:
        mb = self._mailbox
        if mb is None:
            mb = self._mailbox = deque()
        mb.append(msg)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _body(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        except _Exiting as e:
            self._finish(e.reason, None)
        except asyncio.CancelledError:
            # Cancelled from outside the runtime (a kill already exited the process).
            self._finish(KILLED, None)
        except Exception as e:
            self._finish(e, e)
        else:
            self._finish(NORMAL, None)

    def _finish(self, reason: Any, error: BaseException | None) -> None:
        if not self._alive:
            return
        self._task = None
        if error is not None:
            crash_report(self, reason)
        self._exit(reason)

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        if self._label:
            info["behaviour"] = f"task:{self._label}"
        return info


def _new_task_process(loop: asyncio.AbstractEventLoop, parent: Process | None) -> TaskProcess:
    proc = TaskProcess.__new__(TaskProcess)
    proc._setup(loop, parent)
    proc._waiter = None
    proc._label = None
    return proc


def _start_body(
    proc: TaskProcess, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
) -> None:
    ctx = contextvars.copy_context()
    ctx.run(_current.set, proc)
    proc._label = getattr(fn, "__qualname__", None)
    proc._task = proc._loop.create_task(proc._body(fn, args), context=ctx)


def spawn(fn: Callable[..., Awaitable[Any]], *args: Any) -> Pid:
    """Start ``fn(*args)`` as a new process and return its pid at once.

    The coroutine reads its messages with :func:`receive`. It exits ``"normal"`` when it
    returns, with the exception as reason when it raises.
    """
    parent = _current.get()
    proc = _new_task_process(asyncio.get_running_loop(), parent)
    _start_body(proc, fn, args)
    return proc.pid


def spawn_link(fn: Callable[..., Awaitable[Any]], *args: Any) -> Pid:
    """Like :func:`spawn`, linked to the calling process."""
    me = self_process()
    proc = _new_task_process(me._loop, me)
    _link(me, proc)
    _start_body(proc, fn, args)
    return proc.pid


async def receive(
    timeout: float | None = None, match: Callable[[Any], bool] | None = None
) -> Any:
    """The first message in the calling process's mailbox (for which ``match`` is true).

    Messages that do not match stay in the mailbox in their order, as in Erlang's selective
    receive. Raises ``TimeoutError`` if none arrives within ``timeout`` seconds.
    """
    me = self_process()
    if not isinstance(me, TaskProcess):
        raise TypeError("receive() is for coroutine processes; GenServers get handle_info")
    deadline = None if timeout is None else me._loop.time() + timeout
    scanned = 0
    while True:
        mb = me._mailbox
        if mb:
            if match is None:
                me._handled += 1
                me._last = msg = mb.popleft()
                return msg
            for i in range(scanned, len(mb)):
                msg = mb[i]
                if match(msg):
                    del mb[i]
                    me._handled += 1
                    me._last = msg
                    return msg
            scanned = len(mb)
        waiter = me._waiter = me._loop.create_future()
        try:
            if deadline is None:
                await waiter
            else:
                remaining = deadline - me._loop.time()
                if remaining <= 0:
                    raise TimeoutError("receive timed out")
                await asyncio.wait_for(waiter, remaining)
        finally:
            me._waiter = None


# -- the calling process ---------------------------------------------------------------------


def self_process() -> Process:
    """The calling process; a plain asyncio task becomes one on first use (see :func:`self`)."""
    proc = _current.get()
    if proc is not None and proc._alive:
        return proc
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("self() needs a running asyncio task")
    adopted = _new_task_process(asyncio.get_running_loop(), None)
    adopted._task = task
    adopted._label = "adopted"
    _current.set(adopted)

    def _task_done(_t: asyncio.Task[Any]) -> None:
        adopted._task = None
        adopted._exit(NORMAL)

    task.add_done_callback(_task_done)
    return adopted


def self() -> Pid:
    """The pid of the calling process.

    Called from an asyncio task that is not a process (a test, a web handler), the task
    becomes a process for the rest of its life, so it can link, monitor and receive.
    """
    return self_process().pid


def current() -> Process | None:
    """The calling process, or ``None`` outside any process (no adoption)."""
    return _current.get()


# -- addressing ------------------------------------------------------------------------------


def resolve(target: Any) -> Process | None:
    """The live process behind a pid, a registered name or a via-name; ``None`` if none."""
    if type(target) is Pid:
        return target._proc
    if type(target) is str:
        return _names.get(target)
    via = getattr(target, "_whereis", None)
    if via is None:
        raise TypeError(f"not a process address: {target!r}")
    proc: Process | None = via()
    return proc


def send(target: Any, msg: Any) -> None:
    """Put ``msg`` in the target's mailbox. Never blocks.

    A dead pid drops the message silently, as in Erlang; a name that is not registered
    raises :class:`NoProcess`, as Erlang's ``Name ! Msg`` does.
    """
    if type(target) is Pid:
        proc = target._proc
        if proc is not None:
            proc._deliver(msg)
        return
    proc = resolve(target)
    if proc is None:
        raise NoProcess(target)
    proc._deliver(msg)


def is_alive(target: Any) -> bool:
    """Whether the pid or name refers to a live process."""
    return resolve(target) is not None


def processes() -> list[Pid]:
    """Pids of every live process on this node, oldest first."""
    return [p.pid for p in _procs.values()]


def process_count() -> int:
    """How many processes are alive on this node."""
    return len(_procs)


def register(name: str, target: Any) -> None:
    """Register ``name`` for the process; raises ``ValueError`` if taken or dead."""
    proc = resolve(target)
    if proc is None:
        raise NoProcess(target)
    if name in _names:
        raise ValueError(f"name {name!r} is already registered to {_names[name].pid!r}")
    if proc._name is not None:
        raise ValueError(f"{proc.pid!r} is already registered as {proc._name!r}")
    _names[name] = proc
    proc._name = name


def unregister(name: str) -> None:
    """Remove a registered name; the process lives on."""
    proc = _names.pop(name, None)
    if proc is not None:
        proc._name = None


def whereis(name: str) -> Pid | None:
    """The pid registered under ``name``, or ``None``."""
    proc = _names.get(name)
    return proc.pid if proc is not None else None


def registered() -> list[str]:
    """Every registered name."""
    return sorted(_names)


# -- links, monitors, exits ------------------------------------------------------------------


def _link(a: Process, b: Process) -> None:
    if a is b:
        return
    if a._links is None:
        a._links = set()
    if b._links is None:
        b._links = set()
    a._links.add(b)
    b._links.add(a)


def link(target: Any) -> None:
    """Link the calling process to ``target``: when either exits abnormally, so does the other
    (unless it traps exits). Linking to a dead process: a caller that traps exits gets
    ``Exit(target, "noproc")``; any other caller exits ``"noproc"`` at once."""
    me = self_process()
    other = resolve(target)
    if other is None:
        if me._trap_exit:
            me._deliver(Exit(target if type(target) is Pid else _nopid, NOPROC))
            return
        # Unwind like exit(self(), ...): exiting the caller in place would leave its code
        # running on as a dead process.
        raise _Exiting(NOPROC)
    _link(me, other)


def unlink(target: Any) -> None:
    """Remove the link between the calling process and ``target``, if any."""
    me = self_process()
    other = resolve(target)
    if other is None:
        return
    if me._links is not None:
        me._links.discard(other)
    if other._links is not None:
        other._links.discard(me)


def monitor(target: Any) -> Ref:
    """Watch ``target``: the caller gets ``Down(ref, pid, reason)`` when it exits.

    A target that is already dead (or an unregistered name) gives ``Down`` with reason
    ``"noproc"`` at once.
    """
    me = self_process()
    return _monitor(me, target)


def _monitor(me: Process, target: Any) -> Ref:
    ref = Ref()
    other = resolve(target)
    if other is None:
        pid = target if type(target) is Pid else _nopid
        me._deliver(Down(ref, pid, NOPROC))
        return ref
    if me._monitors is None:
        me._monitors = {}
    if other._monitored_by is None:
        other._monitored_by = {}
    me._monitors[ref] = other
    other._monitored_by[ref] = me
    return ref


def demonitor(ref: Ref, flush: bool = False) -> bool:
    """Stop a monitor. With ``flush``, also drop its ``Down`` if it already arrived.

    Returns whether the monitor was still active.
    """
    me = self_process()
    active = False
    if me._monitors is not None:
        other = me._monitors.pop(ref, None)
        if other is not None:
            active = True
            if other._monitored_by is not None:
                other._monitored_by.pop(ref, None)
    if flush and me._mailbox:
        _drop(me._mailbox, lambda m: type(m) is Down and m.ref is ref)
    return active


def _drop(mailbox: deque[Any], unwanted: Callable[[Any], bool]) -> None:
    """Remove matching messages in place (the dispatch loop may hold this deque)."""
    kept = [m for m in mailbox if not unwanted(m)]
    if len(kept) != len(mailbox):
        mailbox.clear()
        mailbox.extend(kept)


def trap_exit(flag: bool = True) -> bool:
    """Turn exit signals to the calling process into :class:`Exit` messages (``kill``
    excepted). Returns the previous setting."""
    me = self_process()
    old = me._trap_exit
    me._trap_exit = flag
    return old


def exit(target: Any, reason: Any) -> None:
    """Send an exit signal to ``target``.

    ``"kill"`` cannot be trapped: the target dies with reason ``"killed"``. ``"normal"`` is
    ignored by a process that does not trap exits, unless it is the caller itself. A process
    that traps exits gets ``Exit(pid, reason)`` instead of dying.
    """
    me = _current.get()
    other = resolve(target)
    if other is None:
        return
    if (other is me and not me._trap_exit) or (other is me and reason == KILL):
        raise _Exiting(KILLED if reason == KILL else reason)
    other._signal(me, reason)


def exit_self(reason: Any) -> None:
    """Stop the calling process with ``reason`` (Erlang's ``exit/1``); does not return."""
    raise _Exiting(reason)


# -- crash reports ---------------------------------------------------------------------------


def is_normal_exit(reason: Any) -> bool:
    """Whether ``reason`` is a clean exit: ``normal``, ``shutdown`` or ``("shutdown", _)``."""
    if type(reason) is str:
        return reason in (NORMAL, SHUTDOWN)
    return type(reason) is tuple and len(reason) == 2 and reason[0] == SHUTDOWN


def crash_report(proc: Process, reason: Any) -> None:
    """Log which process crashed, why (with traceback) and the last message it handled."""
    exc = reason if isinstance(reason, BaseException) else None
    log.error(
        "crash report: process %r (name=%s, behaviour=%s) exited: %r; last message: %s",
        proc.pid,
        proc._name,
        proc._info()["behaviour"],
        reason,
        _short(proc._last),
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
    )


def _run_in(proc: Process, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run ``coro`` as a task that sees ``proc`` as the calling process."""
    ctx = contextvars.copy_context()
    ctx.run(_current.set, proc)
    return proc._loop.create_task(coro, context=ctx)
