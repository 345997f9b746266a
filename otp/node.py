"""Node lifecycle: run a root supervisor until a signal or until it gives up.

``run_node`` is what ``hearth serve`` calls. SIGTERM or SIGINT stops the tree (children in
reverse start order, each within its shutdown time) and the node exits 0; a root supervisor
that exits on its own (it reached its restart intensity, or crashed) exits the node with 1.
A second signal while stopping kills the tree at once (exit 130).

No thread holds the exit: once the loop has stopped, threads still running (a library's
worker, a connection a killed process left open) get :data:`THREAD_GRACE` seconds to end,
and past that the process exits with its code without them, logging their names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import _kernel as k
from ._kernel import Exit, Pid
from .gc_policy import GcPolicy, apply_gc_policy, gc_stats
from .supervisor import ChildSpec

# NodeInfo is the mutable record behind node_info(), not an API of its own.
__all__ = ["node_info", "run_node", "serve_node"]

log = logging.getLogger("otp.node")

THREAD_GRACE = 2.0
"""Seconds that threads still running when the node's loop has stopped get to end."""


class NodeInfo:
    """This node's name, start time and root supervisor."""

    name: str = f"hearth@{socket.gethostname()}"
    started_at: float = time.time()
    root: Pid | None = None


def node_info() -> dict[str, Any]:
    """Name, uptime and process count of this node."""
    return {
        "node": NodeInfo.name,
        "uptime_s": round(time.time() - NodeInfo.started_at, 3),
        "processes": k.process_count(),
        "root": repr(NodeInfo.root) if NodeInfo.root is not None else None,
        "gc": gc_stats(),
    }


async def serve_node(
    root: ChildSpec,
    name: str | None = None,
    on_started: Callable[[Pid], Awaitable[None] | None] | None = None,
    install_signals: bool = True,
    gc: GcPolicy | None = None,
) -> int:
    """Start ``root`` and wait until it exits; returns the node's exit code. ``gc`` is put in
    force once the tree is up."""
    if name:
        NodeInfo.name = name
    NodeInfo.started_at = time.time()
    k.trap_exit(True)
    loop = asyncio.get_running_loop()
    stopping: list[int] = []
    root_pid: list[Pid] = []

    def on_signal(signum: int) -> None:
        # Installed before the tree starts, so a signal during the start is not the default
        # (fatal) one: it is remembered and acted on once the root is up.
        if stopping:
            log.warning("second signal: killing the tree")
            stopping.append(130)
            if root_pid:
                k.exit(root_pid[0], k.KILL)
            return
        log.info("signal %s: stopping node %s", signal.Signals(signum).name, NodeInfo.name)
        stopping.append(0)
        if root_pid:
            k.exit(root_pid[0], k.SHUTDOWN)

    if install_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
    try:
        try:
            pid = await root.start()
        except Exception as e:
            log.error("node %s failed to start: %r", NodeInfo.name, e)
            return 1
        if pid is None:
            return 0
        NodeInfo.root = pid
        root_pid.append(pid)
        if stopping:
            k.exit(pid, k.KILL if stopping[-1] else k.SHUTDOWN)
        if gc is not None:
            apply_gc_policy(gc)
        if on_started is not None:
            result = on_started(pid)
            if result is not None:
                await result
        msg = await k.receive(match=lambda m: type(m) is Exit and m.pid is pid)
    finally:
        if install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        NodeInfo.root = None
    if stopping:
        log.info("node %s stopped", NodeInfo.name)
        return stopping[-1]
    log.error("root supervisor exited: %r; node %s stops", msg.reason, NodeInfo.name)
    return 1


def run_node(root: ChildSpec, name: str | None = None, gc: GcPolicy | None = None) -> int:
    """Run a node on a fresh uvloop event loop; returns the exit code for ``sys.exit``."""
    try:
        import uvloop

        runner: Callable[[Awaitable[int]], int] = uvloop.run  # type: ignore[assignment]
    except ImportError:  # pragma: no cover - uvloop is a declared dependency
        runner = asyncio.run  # type: ignore[assignment]
    code = runner(serve_node(root, name, gc=gc))
    _exit_without_threads(code, THREAD_GRACE)
    return code


def _exit_without_threads(code: int, grace: float) -> None:
    """Return if no thread but this one would hold the interpreter's exit within ``grace``
    seconds; otherwise exit with ``code`` now, without them (``threading`` would wait for
    them forever)."""
    me = threading.current_thread()
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not me and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]
    if not left:
        return
    log.warning("threads still running %.1fs after the node stopped: %s; exiting without them",
                grace, ", ".join(left))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
