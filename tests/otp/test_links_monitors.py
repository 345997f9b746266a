"""Links, monitors and exit signals, as Erlang defines them."""

from __future__ import annotations

from typing import Any

import pytest

import otp
from otp import Down, Exit, Pid

from ._mailbox import down_of, exit_of, expect, nothing_before


async def idle() -> None:
    """Wait until told ``"stop"`` (then exit normal) or ``("raise", exc)`` (then crash)."""
    while True:
        msg = await otp.receive()
        if msg == "stop":
            return
        if type(msg) is tuple and msg[0] == "raise":
            raise msg[1]


async def trapper(to: Pid) -> None:
    """Trap exits and forward every message to ``to``."""
    otp.trap_exit(True)
    otp.send(to, "trapping")
    while True:
        otp.send(to, await otp.receive())


async def dead_pid() -> Pid:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    await down_of(ref)
    return pid


async def linked_pair() -> tuple[Pid, Pid]:
    """Two idle processes linked to each other (neither linked to the test)."""
    a = otp.spawn(idle)
    me = otp.self()

    async def linker() -> None:
        otp.link(a)
        otp.send(me, "linked")
        await idle()

    b = otp.spawn(linker)
    assert await expect() == "linked"
    return a, b


# -- links --------------------------------------------------------------------------------------


async def test_an_abnormal_exit_kills_the_linked_process_with_the_same_reason() -> None:
    a, b = await linked_pair()
    ref_a = otp.monitor(a)
    error = ValueError("boom")

    otp.send(b, ("raise", error))

    assert await down_of(ref_a) is error


async def test_links_work_both_ways() -> None:
    a, b = await linked_pair()
    ref_b = otp.monitor(b)

    otp.send(a, ("raise", KeyError("k")))

    assert isinstance(await down_of(ref_b), KeyError)


async def test_a_normal_exit_does_not_kill_linked_processes() -> None:
    a, b = await linked_pair()
    ref_b = otp.monitor(b)

    otp.send(b, "stop")
    assert await down_of(ref_b) == "normal"

    assert otp.is_alive(a)
    assert otp.process_info(a)["links"] == []  # type: ignore[index]


async def test_unlink_removes_the_link_both_ways() -> None:
    me = otp.self()
    a = otp.spawn(idle)

    async def linker() -> None:
        otp.link(a)
        otp.unlink(a)
        otp.send(me, "unlinked")
        await idle()

    b = otp.spawn(linker)
    assert await expect() == "unlinked"
    ref_b = otp.monitor(b)

    otp.send(b, ("raise", ValueError("alone")))
    await down_of(ref_b)

    assert otp.is_alive(a)


async def test_spawn_link_links_the_caller_and_a_trapping_caller_gets_exit() -> None:
    otp.trap_exit(True)
    error = RuntimeError("child crashed")

    pid = otp.spawn_link(idle)
    otp.send(pid, ("raise", error))

    assert await expect() == Exit(pid, error)


async def test_a_trapping_process_receives_normal_exits_of_linked_processes() -> None:
    otp.trap_exit(True)

    pid = otp.spawn_link(idle)
    otp.send(pid, "stop")

    assert await exit_of(pid) == "normal"


async def test_trap_exit_returns_the_previous_setting() -> None:
    otp.self()
    assert otp.trap_exit(True) is False
    assert otp.trap_exit(False) is True
    assert otp.trap_exit(False) is False


async def test_trapping_keeps_a_process_alive_when_its_link_crashes() -> None:
    me = otp.self()
    t = otp.spawn(trapper, me)
    assert await expect() == "trapping"

    async def crash_linked() -> None:
        otp.link(t)
        raise ValueError("linked crash")

    crasher = otp.spawn(crash_linked)
    msg = await expect(lambda m: type(m) is Exit)

    assert msg.pid is crasher
    assert isinstance(msg.reason, ValueError)
    assert otp.is_alive(t)


async def test_linking_to_a_dead_process_gives_a_trapping_caller_a_noproc_exit() -> None:
    gone = await dead_pid()
    otp.trap_exit(True)

    otp.link(gone)

    assert await expect() == Exit(gone, "noproc")


async def test_linking_to_a_dead_process_stops_a_caller_that_does_not_trap() -> None:
    gone = await dead_pid()
    me = otp.self()

    async def linker() -> None:
        otp.link(gone)
        otp.send(me, "still running after link")

    ref = otp.monitor(otp.spawn(linker))

    assert await down_of(ref) == "noproc"
    await nothing_before("marker")


# -- monitors -----------------------------------------------------------------------------------


async def test_monitor_delivers_down_with_ref_pid_and_reason() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)

    otp.send(pid, ("raise", OSError("disk")))
    down = await expect()

    assert type(down) is Down
    assert down.ref is ref and down.pid is pid
    assert isinstance(down.reason, OSError)


async def test_each_monitor_gets_its_own_down() -> None:
    pid = otp.spawn(idle)
    first, second = otp.monitor(pid), otp.monitor(pid)

    otp.send(pid, "stop")

    assert await down_of(second) == "normal"
    assert await down_of(first) == "normal"


async def test_monitor_does_not_link() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)

    otp.send(pid, ("raise", ValueError("only me")))

    assert isinstance(await down_of(ref), ValueError)
    assert otp.is_alive(otp.self())


async def test_monitor_on_a_dead_pid_gives_noproc_at_once() -> None:
    gone = await dead_pid()

    ref = otp.monitor(gone)

    assert await otp.receive(timeout=0) == Down(ref, gone, "noproc")


async def test_monitor_on_an_unregistered_name_gives_noproc() -> None:
    otp.self()
    ref = otp.monitor("not_a_registered_name")

    assert await down_of(ref) == "noproc"


async def test_monitor_a_registered_name() -> None:
    pid = otp.spawn(idle)
    otp.register("watched", pid)

    ref = otp.monitor("watched")
    otp.send("watched", "stop")

    assert await expect() == Down(ref, pid, "normal")


async def test_demonitor_stops_the_down() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)

    assert otp.demonitor(ref) is True
    otp.send(pid, "stop")
    ref2 = otp.monitor(pid)  # a second monitor tells us when pid is gone
    await down_of(ref2)

    await nothing_before("marker")


async def test_demonitor_with_flush_drops_a_down_already_delivered() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)
    otp.exit(pid, "kill")  # the Down is in our mailbox as exit() returns

    assert otp.demonitor(ref, flush=True) is False
    await nothing_before("marker")


async def test_demonitor_without_flush_leaves_a_delivered_down() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)
    otp.exit(pid, "kill")

    assert otp.demonitor(ref) is False
    assert await otp.receive(timeout=0) == Down(ref, pid, "killed")


async def test_demonitor_flush_keeps_other_messages() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)
    otp.send(otp.self(), "before")
    otp.exit(pid, "kill")
    otp.send(otp.self(), "after")

    otp.demonitor(ref, flush=True)

    assert [await otp.receive(timeout=0) for _ in range(2)] == ["before", "after"]


# -- exit signals -------------------------------------------------------------------------------


async def test_exit_with_a_reason_kills_a_process_that_does_not_trap() -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)

    otp.exit(pid, "bang")

    assert await down_of(ref) == "bang"


async def test_exit_normal_is_ignored_by_a_process_that_does_not_trap() -> None:
    pid = otp.spawn(idle)

    otp.exit(pid, "normal")

    assert otp.is_alive(pid)
    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    assert await down_of(ref) == "normal"


async def test_a_trapping_process_gets_exit_messages_with_the_sender() -> None:
    me = otp.self()
    t = otp.spawn(trapper, me)
    assert await expect() == "trapping"

    otp.exit(t, "please")
    otp.exit(t, "normal")

    assert await expect() == Exit(me, "please")
    assert await expect() == Exit(me, "normal")
    assert otp.is_alive(t)


async def test_kill_cannot_be_trapped_and_the_reason_is_killed() -> None:
    me = otp.self()
    t = otp.spawn(trapper, me)
    assert await expect() == "trapping"
    ref = otp.monitor(t)

    otp.exit(t, "kill")

    assert await down_of(ref) == "killed"


async def test_kill_propagates_to_links_as_killed() -> None:
    otp.trap_exit(True)
    a, b = await linked_pair()
    otp.link(a)
    ref_b = otp.monitor(b)

    otp.exit(a, "kill")

    assert await exit_of(a) == "killed"
    assert await down_of(ref_b) == "killed"  # killed is an ordinary reason: it is not kill


async def test_exit_takes_effect_before_it_returns() -> None:
    pid = otp.spawn(idle)
    otp.register("victim", pid)

    otp.exit(pid, "bang")

    assert not otp.is_alive(pid)
    assert otp.whereis("victim") is None


async def test_exit_on_self_stops_the_caller() -> None:
    async def suicide(reason: Any) -> None:
        otp.exit(otp.self(), reason)
        raise AssertionError("exit(self()) returned")

    refs = [otp.monitor(otp.spawn(suicide, r)) for r in ("bye", "normal", "kill")]

    assert [await down_of(r) for r in refs] == ["bye", "normal", "killed"]


async def test_exit_on_self_while_trapping_becomes_a_message() -> None:
    me = otp.self()

    async def trapping_self() -> None:
        otp.trap_exit(True)
        otp.exit(otp.self(), "note")
        otp.send(me, await otp.receive(timeout=1))

    pid = otp.spawn(trapping_self)

    assert await expect() == Exit(pid, "note")


async def test_exit_to_a_dead_process_is_a_no_op() -> None:
    gone = await dead_pid()
    otp.exit(gone, "bang")
    otp.exit("no_such_name", "bang")
    assert otp.is_alive(otp.self())


# -- exceptions as reasons ----------------------------------------------------------------------


async def test_the_exception_itself_is_the_reason_for_monitors_and_links() -> None:
    otp.trap_exit(True)
    error = ZeroDivisionError("division by zero")
    pid = otp.spawn_link(idle)
    ref = otp.monitor(pid)

    otp.send(pid, ("raise", error))

    assert await down_of(ref) is error
    assert await exit_of(pid) is error
    assert error.__traceback__ is not None


async def test_a_linked_non_trapping_test_process_dies_with_the_crash() -> None:
    me = otp.self()
    error = ValueError("takes the parent down")

    async def parent() -> None:
        child = otp.spawn_link(idle)
        otp.send(me, child)
        await idle()

    p = otp.spawn(parent)
    ref = otp.monitor(p)
    child = await expect(lambda m: type(m) is Pid)

    otp.send(child, ("raise", error))

    assert await down_of(ref) is error


@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "detail"), 42])
async def test_any_value_is_an_exit_reason(reason: Any) -> None:
    pid = otp.spawn(idle)
    ref = otp.monitor(pid)

    otp.exit(pid, reason)

    assert await down_of(ref) == reason
