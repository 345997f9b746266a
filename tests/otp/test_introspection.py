"""What an operator sees: process_info of any process and the whole supervision tree."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import otp
from otp import (
    ChildSpec,
    DynamicSupervisor,
    From,
    GenServer,
    NoReply,
    Ok,
    Pid,
    Reply,
    Supervisor,
    process_info,
    supervision_tree,
)

from ._mailbox import down_of, expect, stop_tree

FIELDS = {
    "pid",
    "name",
    "behaviour",
    "status",
    "message_queue_len",
    "messages_handled",
    "links",
    "monitors",
    "parent",
    "restarts",
    "started_at",
}


class Watcher(GenServer):
    """Monitors what it is told to; ``("gate", fut)`` parks it in an async callback."""

    def init(self, owner: Pid) -> Any:
        return Ok(owner)

    def handle_call(self, request: Any, from_: From, owner: Pid) -> Any:
        if type(request) is tuple and request[0] == "monitor":
            otp.monitor(request[1])
        return Reply("ok", owner)

    def handle_cast(self, request: Any, owner: Pid) -> Any:
        if type(request) is tuple and request[0] == "gate":
            return self._gated(request[1], owner)
        return NoReply(owner)

    async def _gated(self, gate: asyncio.Future[Any], owner: Pid) -> Any:
        otp.send(owner, "gated")
        await gate
        return NoReply(owner)


async def test_process_info_of_a_gen_server() -> None:
    me = otp.self()
    before = time.time()
    pid = await Watcher.start_link(me, name="watcher")
    target = await Watcher.start(me)
    await otp.call(pid, ("monitor", target))
    otp.cast(pid, "noted")
    await otp.call(pid, "sync")

    info = process_info(pid)

    assert info is not None
    assert set(info) >= FIELDS
    assert info["pid"] == repr(pid)
    assert info["name"] == "watcher"
    assert info["behaviour"] == "gen_server:Watcher"
    assert info["status"] == "waiting"
    assert info["message_queue_len"] == 0
    assert info["messages_handled"] == 3
    assert info["links"] == [repr(me)]
    assert info["monitors"] == [repr(target)]
    assert info["parent"] == repr(me)
    assert info["restarts"] == 0
    assert before <= info["started_at"] <= time.time()
    assert process_info(target)["monitored_by"] == [repr(pid)]  # type: ignore[index]
    json.dumps(info)


async def test_process_info_shows_a_suspended_server_and_its_queue() -> None:
    pid = await Watcher.start(otp.self())
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    otp.cast(pid, ("gate", gate))
    assert await expect() == "gated"

    assert process_info(pid)["status"] == "suspended"  # type: ignore[index]
    for i in range(3):
        otp.cast(pid, i)
    assert process_info(pid)["message_queue_len"] == 3  # type: ignore[index]

    gate.set_result(None)
    await otp.call(pid, "sync")
    info = process_info(pid)
    assert info is not None
    assert (info["status"], info["message_queue_len"], info["messages_handled"]) == (
        "waiting",
        0,
        5,
    )


async def test_process_info_of_a_spawned_process_and_a_name() -> None:
    me = otp.self()

    async def named_worker() -> None:
        await otp.receive()

    pid = otp.spawn(named_worker)
    otp.register("info_target", pid)

    info = process_info("info_target")

    assert info is not None
    assert info["pid"] == repr(pid) and info["name"] == "info_target"
    assert info["behaviour"].startswith("task:") and "named_worker" in info["behaviour"]
    assert info["parent"] == repr(me)
    assert info["links"] == [] and info["monitors"] == []


async def test_process_info_of_a_dead_process_is_none() -> None:
    pid = await Watcher.start(otp.self())
    ref = otp.monitor(pid)
    otp.exit(pid, "kill")
    await down_of(ref)

    assert process_info(pid) is None
    assert process_info("never_registered") is None


async def test_process_info_counts_restarts_under_a_supervisor() -> None:
    sup = await Supervisor.start_link([Watcher.child_spec(otp.self(), id="w", name="w")])
    assert sup is not None
    try:
        first = otp.whereis("w")
        assert first is not None
        ref = otp.monitor(first)
        otp.exit(first, "crash")
        await down_of(ref)
        (child,) = await Supervisor.which_children(sup)

        info = process_info(child.pid)

        assert info is not None
        assert info["restarts"] == 1
        assert info["parent"] == repr(sup)
        assert info["links"] == [repr(sup)]
    finally:
        await stop_tree(sup)


# -- supervision_tree -------------------------------------------------------------------------


async def test_supervision_tree_nests_child_supervisors_and_is_json() -> None:
    me = otp.self()
    inner = Supervisor.child_spec(
        [Watcher.child_spec(me, id="inner_worker")],
        id="inner",
        init_kwargs={"strategy": "rest_for_one", "max_restarts": 7, "max_seconds": 9.0},
    )
    dynamic = DynamicSupervisor.child_spec(id="dynamic", init_kwargs={"max_children": 4})
    root = await Supervisor.start_link(
        [Watcher.child_spec(me, id="top_worker"), inner, dynamic],
        strategy="one_for_all",
        max_restarts=2,
        max_seconds=3.0,
    )
    assert root is not None
    try:
        (_, _, dyn) = await Supervisor.which_children(root)
        assert dyn.pid is not None
        await DynamicSupervisor.start_child(
            dyn.pid, Watcher.child_spec(me, id="dynamic_worker", restart="temporary")
        )

        tree = await supervision_tree(root)

        json.dumps(tree)
        assert tree["pid"] == repr(root)
        assert (tree["strategy"], tree["max_restarts"], tree["max_seconds"]) == (
            "one_for_all",
            2,
            3.0,
        )
        top, inner_row, dyn_row = tree["children"]
        assert top["id"] == "top_worker" and top["type"] == "worker"
        assert top["state"] == "running" and "tree" not in top
        assert top["process"]["behaviour"] == "gen_server:Watcher"
        assert inner_row["id"] == "inner" and inner_row["type"] == "supervisor"
        sub = inner_row["tree"]
        assert (sub["strategy"], sub["max_restarts"], sub["max_seconds"]) == (
            "rest_for_one",
            7,
            9.0,
        )
        assert [c["id"] for c in sub["children"]] == ["inner_worker"]
        dyn_tree = dyn_row["tree"]
        assert dyn_tree["strategy"] == "one_for_one"
        assert dyn_tree["max_children"] == 4 and dyn_tree["child_count"] == 1
        assert [c["id"] for c in dyn_tree["children"]] == ["dynamic_worker"]
        assert dyn_tree["children"][0]["restart"] == "temporary"
    finally:
        await stop_tree(root)


async def test_supervision_tree_shows_a_terminated_child() -> None:
    me = otp.self()
    root = await Supervisor.start_link([Watcher.child_spec(me, id="w")])
    assert root is not None
    try:
        await Supervisor.terminate_child(root, "w")

        (row,) = (await supervision_tree(root))["children"]

        assert row["state"] == "terminated" and row["pid"] is None and row["process"] is None
    finally:
        await stop_tree(root)


async def test_supervision_tree_of_a_dead_supervisor() -> None:
    async def stub() -> Pid:
        return otp.spawn_link(otp.receive)

    sup = await Supervisor.start([ChildSpec(id="stub", start=stub)])
    assert sup is not None
    ref = otp.monitor(sup)
    otp.exit(sup, "kill")
    await down_of(ref)

    assert await supervision_tree(sup) == {"pid": repr(sup), "status": "exited"}
