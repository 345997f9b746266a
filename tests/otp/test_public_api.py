"""The public surface of ``otp`` is exactly this list; changing it is a decision, not a drift."""

from __future__ import annotations

import importlib
import pkgutil

import otp

EXPECTED = {
    # processes, links, monitors, names
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
    # GenServer
    "GenServer",
    "Heir",
    "Ignore",
    "NoReply",
    "Ok",
    "Reply",
    "Stop",
    "call",
    "cast",
    "reply",
    "stop",
    # supervision
    "ChildInfo",
    "ChildSpec",
    "DynamicSupervisor",
    "Supervisor",
    "Task",
    "TaskReply",
    "TaskSupervisor",
    # registry, pubsub, timers
    "Adapter",
    "LocalAdapter",
    "PubSub",
    # a cluster of nodes
    "LINK_TOPIC",
    "LinkChanged",
    "RedisAdapter",
    "EVENTS_TOPIC",
    "NODES_TOPIC",
    "Heartbeat",
    "NodeDown",
    "NodeUp",
    "Nodes",
    "Registry",
    "Via",
    "TimerRef",
    "cancel_timer",
    "send_after",
    # dirty work
    "DirtyWorker",
    "PykkaChild",
    "dirty_pool_spec",
    "run_dirty",
    # operating a node
    "GcPolicy",
    "apply_gc_policy",
    "gc_stats",
    "node_info",
    "process_info",
    "remove_gc_policy",
    "run_node",
    "serve_node",
    "supervision_tree",
    # errors
    "AlreadyRegistered",
    "AlreadyStarted",
    "CallError",
    "CallTimeout",
    "ChildError",
    "NoProcess",
    "OtpError",
    "ProcessExited",
    "StartError",
}


def test_all_is_exactly_the_expected_surface() -> None:
    assert set(otp.__all__) == EXPECTED
    assert len(otp.__all__) == len(set(otp.__all__)), "a name is listed twice"


def test_every_public_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from otp import *", namespace)

    for name in otp.__all__:
        assert getattr(otp, name, None) is not None, name
        assert namespace[name] is getattr(otp, name)


def module_exports() -> dict[str, list[str]]:
    """``{module: its __all__}`` for every module of the package."""
    exports = {}
    for module_info in pkgutil.iter_modules(otp.__path__):
        module = importlib.import_module(f"otp.{module_info.name}")
        exports[module.__name__] = list(getattr(module, "__all__", ()))
    return exports


def test_no_module_exports_a_name_the_package_does_not() -> None:
    missing = sorted(
        f"{module}.{name}"
        for module, names in module_exports().items()
        for name in names
        if name not in otp.__all__
    )

    assert missing == []


def test_every_package_name_comes_from_a_module_that_exports_it() -> None:
    exported = {name for names in module_exports().values() for name in names}

    assert sorted(set(otp.__all__) - exported) == []
    for module, names in module_exports().items():
        for name in names:
            assert getattr(otp, name) is getattr(importlib.import_module(module), name), name


def test_every_error_is_an_otp_error() -> None:
    errors = [getattr(otp, n) for n in otp.__all__ if n.endswith(("Error", "Timeout"))]
    errors += [otp.NoProcess, otp.ProcessExited, otp.AlreadyStarted, otp.AlreadyRegistered]

    assert all(issubclass(e, otp.OtpError) for e in errors)
    assert issubclass(otp.NoProcess, otp.ProcessExited)
    assert issubclass(otp.ProcessExited, otp.CallError)
    assert issubclass(otp.CallTimeout, otp.CallError) and issubclass(otp.CallTimeout, TimeoutError)
    assert issubclass(otp.AlreadyStarted, otp.StartError)
    assert not issubclass(otp.ProcessExited, otp.CallTimeout)
