"""Hearth's runtime: Erlang/OTP's processes and behaviours on asyncio.

Layout. ``_kernel`` is the low level: pids, mailboxes, exit signals, links, monitors,
registered names and the coroutine processes of ``spawn``. On top of it, one module per
behaviour or tool: ``gen_server``, ``supervisor``, ``dynamic_supervisor``,
``task_supervisor``, ``registry``, ``pubsub``, ``timers``, ``dirty`` (pykka threads for
blocking work), ``heir`` (tables that outlive their owner's crash), ``introspection`` and
``node`` (running a tree as a program), ``redis_adapter`` and ``cluster`` (nodes that
share their PubSub through Redis, and know of each other), ``gc_policy`` (short collector
pauses for a node holding many connections). ``errors`` holds the few exceptions the runtime
raises. Import from ``otp``, not from the modules: this
list is the public surface, and a test keeps it honest.

Exit reasons are plain values: ``"normal"``, ``"shutdown"``, ``("shutdown", detail)``,
``"kill"`` (as a signal; the victim exits ``"killed"``), ``"noproc"``, or the exception that
crashed the process.
"""

from ._kernel import (
    Down,
    Exit,
    From,
    Pid,
    Ref,
    demonitor,
    exit,
    exit_self,
    is_alive,
    is_normal_exit,
    link,
    monitor,
    process_count,
    processes,
    receive,
    register,
    registered,
    self,
    send,
    spawn,
    spawn_link,
    trap_exit,
    unlink,
    unregister,
    whereis,
)
from .cluster import EVENTS_TOPIC, NODES_TOPIC, Heartbeat, NodeDown, Nodes, NodeUp
from .dirty import DirtyWorker, PykkaChild, dirty_pool_spec, run_dirty
from .dynamic_supervisor import DynamicSupervisor
from .errors import (
    AlreadyRegistered,
    AlreadyStarted,
    CallError,
    CallTimeout,
    ChildError,
    NoProcess,
    OtpError,
    ProcessExited,
    StartError,
)
from .gc_policy import GcPolicy, apply_gc_policy, gc_stats, remove_gc_policy
from .gen_server import GenServer, Ignore, NoReply, Ok, Reply, Stop, call, cast, reply, stop
from .heir import Heir
from .introspection import process_info, supervision_tree
from .node import node_info, run_node, serve_node
from .pubsub import Adapter, LocalAdapter, PubSub
from .redis_adapter import LINK_TOPIC, LinkChanged, RedisAdapter
from .registry import Registry, Via
from .supervisor import ChildInfo, ChildSpec, Supervisor
from .task_supervisor import Task, TaskReply, TaskSupervisor
from .timers import TimerRef, cancel_timer, send_after

__all__ = [
    "EVENTS_TOPIC",
    "LINK_TOPIC",
    "NODES_TOPIC",
    "Adapter",
    "AlreadyRegistered",
    "AlreadyStarted",
    "CallError",
    "CallTimeout",
    "ChildError",
    "ChildInfo",
    "ChildSpec",
    "DirtyWorker",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "From",
    "GcPolicy",
    "GenServer",
    "Heartbeat",
    "Heir",
    "Ignore",
    "LinkChanged",
    "LocalAdapter",
    "NoProcess",
    "NoReply",
    "NodeDown",
    "NodeUp",
    "Nodes",
    "Ok",
    "OtpError",
    "Pid",
    "ProcessExited",
    "PubSub",
    "PykkaChild",
    "RedisAdapter",
    "Ref",
    "Registry",
    "Reply",
    "StartError",
    "Stop",
    "Supervisor",
    "Task",
    "TaskReply",
    "TaskSupervisor",
    "TimerRef",
    "Via",
    "apply_gc_policy",
    "call",
    "cancel_timer",
    "cast",
    "demonitor",
    "dirty_pool_spec",
    "exit",
    "exit_self",
    "gc_stats",
    "is_alive",
    "is_normal_exit",
    "link",
    "monitor",
    "node_info",
    "process_count",
    "process_info",
    "processes",
    "receive",
    "register",
    "registered",
    "remove_gc_policy",
    "reply",
    "run_dirty",
    "run_node",
    "self",
    "send",
    "send_after",
    "serve_node",
    "spawn",
    "spawn_link",
    "stop",
    "supervision_tree",
    "trap_exit",
    "unlink",
    "unregister",
    "whereis",
]
