"""What an operator can see: any process's vital signs and the whole supervision tree."""

from __future__ import annotations

from typing import Any

from . import _kernel as k
from .dynamic_supervisor import DynamicSupervisor
from .errors import CallError
from .gen_server import call
from .supervisor import Supervisor

__all__ = ["process_info", "supervision_tree"]


def process_info(target: Any) -> dict[str, Any] | None:
    """Pid, name, behaviour, status, mailbox length, messages handled, links, monitors,
    parent, restart count and start time of a live process; ``None`` if it is not alive."""
    proc = k.resolve(target)
    return proc._info() if proc is not None else None


async def supervision_tree(
    root: Any, timeout: float = 5.0, max_children: int = 100
) -> dict[str, Any]:
    """A JSON-serialisable snapshot of the tree under the supervisor ``root``.

    Each supervisor shows its strategy and limits, each child its spec, its state and its
    process info; child supervisors are expanded in place under ``"tree"``. A dynamic
    supervisor lists at most ``max_children`` children (``child_count`` has them all).
    """
    proc = k.resolve(root)
    if proc is None:
        return {"pid": repr(root), "status": "exited"}
    request: tuple[Any, ...] = (
        ("$snapshot", max_children) if isinstance(proc, DynamicSupervisor) else ("$snapshot",)
    )
    try:
        snap: dict[str, Any] = await call(proc.pid, request, timeout=timeout)
    except CallError as e:
        return {"pid": repr(proc.pid), "status": "unresponsive", "error": str(e)}
    for child in snap["children"]:
        child_proc = k._procs.get(int(child["pid"].split(".")[1])) if child["pid"] else None
        if isinstance(child_proc, (Supervisor, DynamicSupervisor)):
            child["tree"] = await supervision_tree(child_proc.pid, timeout, max_children)
    return snap
