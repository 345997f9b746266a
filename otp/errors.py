"""Errors raised by the runtime.

The whole hierarchy::

    OtpError                      anything the runtime raises on purpose
    ├── CallError                 a call (or a task await) produced no value
    │   ├── CallTimeout           no answer within the timeout (also a TimeoutError)
    │   └── ProcessExited         the target exited before answering; ``.reason`` says why
    │       └── NoProcess         the target was not alive when asked (reason ``"noproc"``)
    ├── StartError                a process failed to start; ``.reason`` says why
    │   └── AlreadyStarted        the name is taken; ``.pid`` is the holder
    ├── AlreadyRegistered         a unique registry key is held by another process; ``.pid``
    └── ChildError                a supervisor refused a child operation; ``.reason`` says why

A caller catches ``CallTimeout`` to retry or give up, ``ProcessExited`` to react to a dead
target, and ``StartError`` to report a failed start. Exceptions raised by a process's own code
are never wrapped on the way out of that process: they become its exit reason.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyRegistered",
    "AlreadyStarted",
    "CallError",
    "CallTimeout",
    "ChildError",
    "NoProcess",
    "OtpError",
    "ProcessExited",
    "StartError",
]


class OtpError(Exception):
    """Base of every error the runtime raises itself."""


class CallError(OtpError):
    """A call produced no reply; see the subclasses for why."""

    def __init__(self, target: Any, request: Any, message: str) -> None:
        super().__init__(message)
        self.target = target
        self.request = request


class CallTimeout(CallError, TimeoutError):
    """No reply came within the timeout.

    Unlike :class:`ProcessExited`, the target may still be alive and may still act on the
    request; a late reply is dropped.
    """

    def __init__(self, target: Any, request: Any, timeout: float) -> None:
        super().__init__(target, request, f"call to {target!r} timed out after {timeout}s")
        self.timeout = timeout


class ProcessExited(CallError):
    """The target exited before it replied; ``reason`` is its exit reason."""

    def __init__(self, target: Any, request: Any, reason: Any) -> None:
        super().__init__(target, request, f"{target!r} exited before replying: {reason!r}")
        self.reason = reason


class NoProcess(ProcessExited):
    """The target was not alive (or the name was not registered) when the call was made."""

    def __init__(self, target: Any, request: Any = None) -> None:
        CallError.__init__(self, target, request, f"no process {target!r}")
        self.reason = "noproc"


class StartError(OtpError):
    """A process failed to start: its ``init`` raised, returned ``Stop`` or it was killed."""

    def __init__(self, reason: Any, message: str | None = None) -> None:
        super().__init__(message or f"process failed to start: {reason!r}")
        self.reason = reason


class AlreadyStarted(StartError):
    """The name given at start is already registered to ``pid``."""

    def __init__(self, name: Any, pid: Any) -> None:
        super().__init__(("already_started", pid), f"name {name!r} is already taken by {pid!r}")
        self.name = name
        self.pid = pid


class ChildError(OtpError):
    """A supervisor refused a child operation.

    ``reason`` is one of ``"not_found"``, ``"running"``, ``"restarting"``,
    ``"already_present"``, ``"max_children"``, or the start error of the child.
    """

    def __init__(self, reason: Any, child: Any = None) -> None:
        super().__init__(f"child {child!r}: {reason!r}" if child is not None else repr(reason))
        self.reason = reason
        self.child = child


class AlreadyRegistered(OtpError):
    """A unique registry key is already held by another process, ``pid``."""

    def __init__(self, key: Any, pid: Any) -> None:
        super().__init__(f"key {key!r} is already registered to {pid!r}")
        self.key = key
        self.pid = pid
