"""Coroutine processes: spawn, send, receive (selective, with timeout), pids, names, self."""

from __future__ import annotations

import logging
import re

import pytest

import otp
from otp import Down, NoProcess, Pid, ProcessExited

from ._mailbox import WAIT, down_of, expect, nothing_before


async def echo() -> None:
    """Answer ``(sender, x)`` with ``("echo", x)`` until told ``"stop"``."""
    while True:
        msg = await otp.receive()
        if msg == "stop":
            return
        sender, value = msg
        otp.send(sender, ("echo", value))


async def test_spawn_returns_a_pid_that_receives_messages() -> None:
    pid = otp.spawn(echo)

    otp.send(pid, (otp.self(), "hello"))

    assert await expect() == ("echo", "hello")


async def test_spawn_passes_arguments() -> None:
    async def report(to: Pid, a: int, b: int) -> None:
        otp.send(to, a + b)

    otp.spawn(report, otp.self(), 2, 3)

    assert await expect() == 5


async def test_messages_from_one_sender_arrive_in_order() -> None:
    me = otp.self()

    async def sender() -> None:
        for i in range(500):
            otp.send(me, i)

    otp.spawn(sender)

    assert [await expect() for _ in range(500)] == list(range(500))


async def test_selective_receive_takes_the_first_match_and_keeps_the_rest_in_order() -> None:
    me = otp.self()
    for msg in [("a", 1), ("b", 2), ("a", 3), ("b", 4)]:
        otp.send(me, msg)

    assert await otp.receive(match=lambda m: m[0] == "b") == ("b", 2)
    assert await otp.receive(match=lambda m: m[0] == "b") == ("b", 4)
    assert [await otp.receive(timeout=0) for _ in range(2)] == [("a", 1), ("a", 3)]


async def test_selective_receive_waits_for_a_matching_message_sent_later() -> None:
    me = otp.self()
    otp.send(me, "early")

    async def later() -> None:
        otp.send(me, "noise")
        otp.send(me, ("wanted", 1))

    otp.spawn(later)

    assert await otp.receive(timeout=WAIT, match=lambda m: m[0] == "wanted") == ("wanted", 1)
    assert await otp.receive(timeout=0) == "early"
    assert await otp.receive(timeout=0) == "noise"


async def test_receive_times_out_with_timeout_error() -> None:
    otp.self()
    with pytest.raises(TimeoutError):
        await otp.receive(timeout=0.01)


async def test_receive_timeout_zero_polls_the_mailbox() -> None:
    otp.send(otp.self(), "there")

    assert await otp.receive(timeout=0) == "there"
    with pytest.raises(TimeoutError):
        await otp.receive(timeout=0)


async def test_selective_receive_timeout_leaves_unmatched_messages() -> None:
    otp.send(otp.self(), "unwanted")

    with pytest.raises(TimeoutError):
        await otp.receive(timeout=0.01, match=lambda m: m == "wanted")

    assert await otp.receive(timeout=0) == "unwanted"


async def test_pid_prints_like_erlang_and_parses_back() -> None:
    pid = otp.spawn(echo)

    assert re.fullmatch(r"<0\.\d+\.0>", repr(pid))
    assert str(pid) == repr(pid) == f"<0.{pid.id}.0>"
    assert otp.Pid.parse(repr(pid)) is pid
    assert otp.Pid.parse(str(pid.id)) is pid


async def test_pids_are_unique_and_ordered_by_creation() -> None:
    a, b = otp.spawn(echo), otp.spawn(echo)

    assert a != b
    assert a < b


async def test_a_dead_pid_stays_printable_and_parses_to_a_dead_pid() -> None:
    pid = otp.spawn(echo)
    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    await down_of(ref)

    assert repr(pid) == f"<0.{pid.id}.0>"
    assert not otp.is_alive(otp.Pid.parse(repr(pid)))


async def test_send_to_a_dead_pid_is_dropped_silently() -> None:
    pid = otp.spawn(echo)
    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    await down_of(ref)

    otp.send(pid, (otp.self(), "anyone?"))

    await nothing_before("marker")


async def test_send_to_an_unregistered_name_raises_no_process() -> None:
    with pytest.raises(NoProcess) as info:
        otp.send("nobody_has_this_name", "hello")

    assert info.value.reason == "noproc"
    assert info.value.target == "nobody_has_this_name"
    assert isinstance(info.value, ProcessExited)


async def test_send_to_a_registered_name_reaches_the_process() -> None:
    pid = otp.spawn(echo)
    otp.register("echo_server", pid)

    otp.send("echo_server", (otp.self(), "by name"))

    assert otp.whereis("echo_server") is pid
    assert "echo_server" in otp.registered()
    assert await expect() == ("echo", "by name")


async def test_a_name_is_released_when_its_process_exits() -> None:
    pid = otp.spawn(echo)
    otp.register("short_lived", pid)
    ref = otp.monitor(pid)

    otp.send("short_lived", "stop")
    await down_of(ref)

    assert otp.whereis("short_lived") is None
    with pytest.raises(NoProcess):
        otp.send("short_lived", "hello")


async def test_register_refuses_a_taken_name_and_a_second_name() -> None:
    a, b = otp.spawn(echo), otp.spawn(echo)
    otp.register("taken", a)

    with pytest.raises(ValueError):
        otp.register("taken", b)
    with pytest.raises(ValueError):
        otp.register("another", a)
    assert otp.whereis("taken") is a


async def test_unregister_keeps_the_process_alive() -> None:
    pid = otp.spawn(echo)
    otp.register("temp_name", pid)

    otp.unregister("temp_name")

    assert otp.whereis("temp_name") is None
    assert otp.is_alive(pid)


async def test_register_a_dead_pid_raises_no_process() -> None:
    pid = otp.spawn(echo)
    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    await down_of(ref)

    with pytest.raises(NoProcess):
        otp.register("ghost", pid)


async def test_self_is_stable_in_the_test_and_distinct_in_a_spawned_process() -> None:
    me = otp.self()

    async def report(to: Pid) -> None:
        otp.send(to, otp.self())

    child = otp.spawn(report, me)

    assert otp.self() is me
    assert await expect() is child
    assert child is not me


async def test_returning_exits_normal_and_raising_exits_with_the_exception() -> None:
    error = ValueError("boom")

    async def fine() -> None:
        return None

    async def broken() -> None:
        raise error

    ok_ref, bad_ref = otp.monitor(otp.spawn(fine)), otp.monitor(otp.spawn(broken))

    assert await down_of(ok_ref) == "normal"
    assert await down_of(bad_ref) is error


async def test_a_crashing_process_logs_a_crash_report(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        await otp.receive()
        raise RuntimeError("bad message")

    pid = otp.spawn(broken)
    ref = otp.monitor(pid)
    with caplog.at_level(logging.ERROR, logger="otp"):
        otp.send(pid, "poison")
        await down_of(ref)

    (record,) = [r for r in caplog.records if "crash report" in r.getMessage()]
    assert repr(pid) in record.getMessage()
    assert "'poison'" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_is_alive_processes_and_process_count_follow_the_process() -> None:
    otp.self()
    before = otp.process_count()
    pid = otp.spawn(echo)

    assert otp.is_alive(pid)
    assert pid in otp.processes()
    assert otp.process_count() == before + 1

    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    await down_of(ref)

    assert not otp.is_alive(pid)
    assert pid not in otp.processes()
    assert otp.process_count() == before


async def test_exit_self_stops_the_process_with_the_reason() -> None:
    async def quitter() -> None:
        otp.exit_self(("shutdown", "done"))

    ref = otp.monitor(otp.spawn(quitter))

    assert await down_of(ref) == ("shutdown", "done")


async def test_is_normal_exit() -> None:
    assert otp.is_normal_exit("normal")
    assert otp.is_normal_exit("shutdown")
    assert otp.is_normal_exit(("shutdown", "anything"))
    assert not otp.is_normal_exit("killed")
    assert not otp.is_normal_exit(ValueError())
    assert not otp.is_normal_exit(("shutdown", 1, 2))


async def test_down_is_a_named_tuple_with_ref_pid_reason() -> None:
    pid = otp.spawn(echo)
    ref = otp.monitor(pid)
    otp.send(pid, "stop")

    down = await expect(lambda m: type(m) is Down)

    assert down == Down(ref, pid, "normal")
    assert (down.ref, down.pid, down.reason) == (ref, pid, "normal")
