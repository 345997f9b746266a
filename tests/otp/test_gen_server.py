"""GenServer: every callback shape, async callbacks, call errors, names and crash reports."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import otp
from otp import (
    AlreadyStarted,
    CallError,
    CallTimeout,
    Exit,
    From,
    GenServer,
    Ignore,
    NoProcess,
    NoReply,
    Ok,
    Pid,
    ProcessExited,
    Reply,
    StartError,
    Stop,
)

from ._mailbox import down_of, expect, nothing_before


class Recorder(GenServer):
    """Does what each message says and records the rest; tells ``owner`` when it terminates.

    Calls: ``"seen"`` (what it recorded), ``"who"`` (the caller's pid), ``"hold"`` (no reply
    until a ``("release", value)`` cast), ``("stop", reason[, reply])``, ``("raise", exc)``.
    Casts: ``("release", value)``, ``("stop", reason)``, ``("raise", exc)``, ``("gate", fut)``
    (an async callback that waits for ``fut``, after telling ``owner`` ``"gated"``).
    """

    def init(self, owner: Pid, trap: bool = False) -> Any:
        otp.trap_exit(trap)
        return Ok({"owner": owner, "seen": [], "held": []})

    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        match request:
            case "seen":
                return Reply(list(state["seen"]), state)
            case "who":
                return Reply(from_.pid, state)
            case "hold":
                state["held"].append(from_)
                return NoReply(state)
            case ("stop", reason):
                return Stop(reason, state)
            case ("stop", reason, value):
                return Stop(reason, state, reply=value)
            case ("raise", error):
                raise error
        state["seen"].append(("call", request))
        return Reply("ok", state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        match request:
            case ("release", value):
                for from_ in state["held"]:
                    otp.reply(from_, value)
                state["held"].clear()
                return NoReply(state)
            case ("stop", reason):
                return Stop(reason, state)
            case ("raise", error):
                raise error
            case ("gate", fut):
                return self._gated(fut, state)
        state["seen"].append(("cast", request))
        return NoReply(state)

    async def _gated(self, gate: asyncio.Future[Any], state: Any) -> Any:
        otp.send(state["owner"], "gated")
        outcome = await gate
        if isinstance(outcome, Exception):
            raise outcome
        state["seen"].append(("gate", outcome))
        return NoReply(state)

    def handle_info(self, msg: Any, state: Any) -> Any:
        state["seen"].append(("info", msg))
        return NoReply(state)

    def terminate(self, reason: Any, state: Any) -> None:
        otp.send(state["owner"], ("terminate", reason, list(state["seen"])))


async def recorder(**kwargs: Any) -> Pid:
    pid = await Recorder.start(otp.self(), **kwargs)
    assert pid is not None
    return pid


async def call_elsewhere(target: Any, request: Any) -> None:
    """Call ``target`` from another process; returns once the call is in the target's
    mailbox. The outcome arrives later as ``("call result", value_or_exception)``."""
    me = otp.self()

    async def caller() -> None:
        otp.send(me, "calling")  # the call below is delivered before this process yields
        try:
            result: Any = await otp.call(target, request)
        except Exception as e:
            result = e
        otp.send(me, ("call result", result))

    otp.spawn(caller)
    assert await expect(lambda m: m == "calling") == "calling"


async def call_result() -> Any:
    return (await expect(lambda m: type(m) is tuple and m[0] == "call result"))[1]


async def terminated() -> Any:
    """The reason the Recorder reported from its terminate."""
    return (await expect(lambda m: type(m) is tuple and m[0] == "terminate"))[1]


# -- init -------------------------------------------------------------------------------------


class Init(GenServer):
    """``init`` returns (or raises) whatever it is given."""

    def init(self, outcome: Any) -> Any:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        return Reply(state, state)


async def test_start_returns_the_pid_once_init_returned_ok() -> None:
    pid = await Init.start(Ok({"ready": True}))

    assert isinstance(pid, Pid)
    assert otp.is_alive(pid)
    assert await otp.call(pid, "state") == {"ready": True}


async def test_init_ignore_makes_start_return_none_and_leaves_no_process() -> None:
    otp.self()
    before = otp.process_count()

    assert await Init.start(Ignore) is None
    assert otp.process_count() == before


async def test_init_stop_makes_start_raise_start_error_with_the_reason() -> None:
    otp.self()
    before = otp.process_count()

    with pytest.raises(StartError) as info:
        await Init.start(Stop("no_config"))

    assert info.value.reason == "no_config"
    assert otp.process_count() == before


async def test_init_raising_makes_start_raise_start_error_with_the_exception() -> None:
    error = ValueError("bad argument")

    with pytest.raises(StartError) as info:
        await Init.start(error)

    assert info.value.reason is error


async def test_init_returning_something_else_is_a_start_error() -> None:
    with pytest.raises(StartError) as info:
        await Init.start("not a shape")

    assert isinstance(info.value.reason, TypeError)


async def test_a_failed_start_link_does_not_take_the_caller_down() -> None:
    otp.trap_exit(True)

    with pytest.raises(StartError):
        await Init.start_link(RuntimeError("init failed"))

    await nothing_before("marker")  # no Exit: the caller learns it from the StartError


async def test_start_link_links_the_caller_and_makes_it_the_parent() -> None:
    me = otp.self()
    pid = await Init.start_link(Ok(None))

    info = otp.process_info(pid)
    assert info is not None
    assert info["links"] == [repr(me)]
    assert info["parent"] == repr(me)


class AsyncInit(GenServer):
    """Its async init reads its state from ``source``; with ``owner``, it then waits for
    ``gate`` after telling ``owner`` ``("init waiting", pid)``."""

    async def init(
        self, source: Pid, owner: Pid | None = None, gate: asyncio.Future[Any] | None = None
    ) -> Any:
        value = await otp.call(source, "seen")
        if owner is not None and gate is not None:
            otp.send(owner, ("init waiting", otp.self()))
            await gate
        return Ok(value)

    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        return Reply(state, state)

    def handle_info(self, msg: Any, state: Any) -> Any:
        return NoReply([*state, msg])


async def test_async_init_can_await_other_processes() -> None:
    source = await recorder()
    otp.cast(source, "hello")

    pid = await AsyncInit.start(source)

    assert await otp.call(pid, "state") == [("cast", "hello")]


async def test_messages_sent_during_async_init_are_handled_after_it_in_order() -> None:
    source = await recorder()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    starting = asyncio.ensure_future(AsyncInit.start(source, otp.self(), gate))
    _, pid = await expect(lambda m: m[0] == "init waiting")

    for i in range(3):
        otp.send(pid, i)
    gate.set_result(None)

    assert await starting is pid
    assert await otp.call(pid, "state") == [0, 1, 2]


async def test_a_kill_during_async_init_makes_start_raise_killed() -> None:
    source = await recorder()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    starting = asyncio.ensure_future(AsyncInit.start(source, otp.self(), gate))
    _, pid = await expect(lambda m: m[0] == "init waiting")

    otp.exit(pid, "kill")

    with pytest.raises(StartError) as info:
        await starting
    assert info.value.reason == "killed"
    assert not otp.is_alive(pid)


async def test_async_init_raising_is_a_start_error() -> None:
    class Broken(GenServer):
        async def init(self) -> Any:
            raise LookupError("missing")

    with pytest.raises(StartError) as info:
        await Broken.start()

    assert isinstance(info.value.reason, LookupError)


# -- continue and timeout ---------------------------------------------------------------------


class Continuing(GenServer):
    def init(self) -> Any:
        otp.send(otp.self(), "early")  # already waiting when init returns
        return Ok(["init"], continue_="setup")

    def handle_continue(self, arg: Any, state: Any) -> Any:
        return NoReply([*state, ("continue", arg)])

    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        if request == "go":
            otp.send(otp.self(), "queued")
            return Reply("went", [*state, "go"], continue_="after go")
        return Reply(state, state)

    def handle_info(self, msg: Any, state: Any) -> Any:
        return NoReply([*state, ("info", msg)])


async def test_init_continue_runs_before_any_message() -> None:
    pid = await Continuing.start()

    assert await otp.call(pid, "state") == ["init", ("continue", "setup"), ("info", "early")]


async def test_reply_continue_runs_before_the_next_message() -> None:
    pid = await Continuing.start()

    assert await otp.call(pid, "go") == "went"
    state = await otp.call(pid, "state")
    assert state[-3:] == ["go", ("continue", "after go"), ("info", "queued")]


class Idle(GenServer):
    """Tells ``owner`` when it got ``"timeout"``; ``("arm", s)`` re-arms the timeout."""

    def init(self, owner: Pid, timeout: float | None) -> Any:
        return Ok(owner, timeout=timeout)

    def handle_call(self, request: Any, from_: From, owner: Pid) -> Any:
        if type(request) is tuple and request[0] == "arm":
            return Reply("armed", owner, timeout=request[1])
        return Reply("pong", owner)

    def handle_info(self, msg: Any, owner: Pid) -> Any:
        otp.send(owner, ("idle", msg))
        return NoReply(owner)


async def test_ok_timeout_delivers_timeout_when_no_message_arrives() -> None:
    await Idle.start(otp.self(), 0.01)

    assert await expect() == ("idle", "timeout")


async def test_a_message_before_the_timeout_cancels_it() -> None:
    pid = await Idle.start(otp.self(), 0.2)

    assert await otp.call(pid, "ping") == "pong"

    await nothing_before("marker", delay=0.25)


async def test_reply_timeout_arms_a_new_timeout() -> None:
    pid = await Idle.start(otp.self(), None)

    assert await otp.call(pid, ("arm", 0.01)) == "armed"

    assert await expect() == ("idle", "timeout")


# -- calls ------------------------------------------------------------------------------------


async def test_call_returns_the_reply_and_from_names_the_caller() -> None:
    pid = await recorder()

    assert await otp.call(pid, "hello") == "ok"
    assert await otp.call(pid, "who") is otp.self()
    assert await otp.call(pid, "seen") == [("call", "hello")]


async def test_no_reply_leaves_the_caller_waiting_for_a_reply_from_another_process() -> None:
    class Delegating(GenServer):
        def handle_call(self, request: Any, from_: From, state: Any) -> Any:
            async def worker(f: From) -> None:
                otp.reply(f, ("answered by", otp.self()))

            otp.spawn(worker, from_)
            return NoReply(state)

    pid = await Delegating.start()

    answer, helper = await otp.call(pid, "question")

    assert answer == "answered by"
    assert isinstance(helper, Pid) and helper is not pid


async def test_a_deferred_call_does_not_block_the_server() -> None:
    pid = await recorder()
    await call_elsewhere(pid, "hold")

    assert await otp.call(pid, "other") == "ok"
    otp.cast(pid, ("release", "finally"))

    assert await call_result() == "finally"


async def test_stop_with_reply_answers_then_stops() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    assert await otp.call(pid, ("stop", "normal", "bye")) == "bye"

    assert await down_of(ref) == "normal"
    assert await terminated() == "normal"


async def test_stop_without_reply_raises_process_exited_with_the_reason() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    with pytest.raises(ProcessExited) as info:
        await otp.call(pid, ("stop", "done"))

    assert info.value.reason == "done"
    assert info.value.target is pid
    assert await down_of(ref) == "done"


async def test_handle_cast_and_handle_info_in_arrival_order() -> None:
    pid = await recorder()

    otp.cast(pid, "a")
    otp.send(pid, "b")
    otp.cast(pid, "c")

    assert await otp.call(pid, "seen") == [("cast", "a"), ("info", "b"), ("cast", "c")]


async def test_cast_never_raises_for_a_dead_or_unknown_target() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)
    otp.cast(pid, ("stop", "normal"))
    await down_of(ref)

    otp.cast(pid, "anyone?")
    otp.cast("no_such_server", "anyone?")


async def test_reply_for_a_cast_is_a_crash() -> None:
    class Confused(GenServer):
        def handle_cast(self, request: Any, state: Any) -> Any:
            return Reply("nobody asked", state)

    pid = await Confused.start()
    ref = otp.monitor(pid)
    otp.cast(pid, "x")

    assert isinstance(await down_of(ref), TypeError)


async def test_an_unexpected_info_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    pid = await Init.start(Ok("state"))

    with caplog.at_level(logging.WARNING, logger="otp"):
        otp.send(pid, "stray")
        assert await otp.call(pid, "state") == "state"

    assert any("'stray'" in r.getMessage() for r in caplog.records)


# -- terminate --------------------------------------------------------------------------------


async def test_terminate_runs_on_stop_from_a_cast() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    otp.cast(pid, ("stop", ("shutdown", "asked")))

    assert await terminated() == ("shutdown", "asked")
    assert await down_of(ref) == ("shutdown", "asked")


async def test_terminate_runs_on_a_crash_with_the_exception() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)
    error = KeyError("missing")

    otp.cast(pid, ("raise", error))

    assert await terminated() is error
    assert await down_of(ref) is error


async def test_terminate_does_not_run_on_kill() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    otp.exit(pid, "kill")

    assert await down_of(ref) == "killed"
    await nothing_before("marker")


async def test_terminate_runs_on_an_exit_from_the_parent_when_trapping() -> None:
    me = otp.self()

    async def parent() -> None:
        pid = await Recorder.start_link(me, trap=True)
        otp.send(me, ("server", pid))
        await otp.receive()
        otp.exit_self("shutdown")

    p = otp.spawn(parent)
    server = (await expect(lambda m: m[0] == "server"))[1]
    ref = otp.monitor(server)

    otp.send(p, "go")

    assert await terminated() == "shutdown"
    assert await down_of(ref) == "shutdown"


async def test_terminate_runs_when_the_parent_is_killed_while_trapping() -> None:
    me = otp.self()

    async def parent() -> None:
        pid = await Recorder.start_link(me, trap=True)
        otp.send(me, ("server", pid))
        await otp.receive()

    p = otp.spawn(parent)
    server = (await expect(lambda m: m[0] == "server"))[1]
    ref = otp.monitor(server)

    otp.exit(p, "kill")  # the parent is killed; the server only gets a trapped signal

    assert await terminated() == "killed"
    assert await down_of(ref) == "killed"


async def test_a_trapping_server_gets_exits_of_other_links_as_info() -> None:
    pid = await recorder(trap=True)

    async def neighbour() -> None:
        otp.link(pid)
        raise ValueError("neighbour crashed")

    other = otp.spawn(neighbour)
    ref = otp.monitor(other)
    await down_of(ref)

    seen = await otp.call(pid, "seen")
    assert len(seen) == 1
    kind, msg = seen[0]
    assert kind == "info" and type(msg) is Exit and msg.pid is other
    assert isinstance(msg.reason, ValueError)


async def test_a_server_that_does_not_trap_dies_with_its_parent_without_terminate() -> None:
    me = otp.self()

    async def parent() -> None:
        pid = await Recorder.start_link(me)
        otp.send(me, ("server", pid))
        await otp.receive()
        raise RuntimeError("parent crashed")

    p = otp.spawn(parent)
    server = (await expect(lambda m: m[0] == "server"))[1]
    ref = otp.monitor(server)

    otp.send(p, "go")

    assert isinstance(await down_of(ref), RuntimeError)
    await nothing_before("marker")


async def test_terminate_raising_makes_that_exception_the_exit_reason() -> None:
    error = RuntimeError("cleanup failed")

    class BadCleanup(GenServer):
        def handle_cast(self, request: Any, state: Any) -> Any:
            return Stop("normal", state)

        def terminate(self, reason: Any, state: Any) -> None:
            raise error

    pid = await BadCleanup.start()
    ref = otp.monitor(pid)
    otp.cast(pid, "stop")

    assert await down_of(ref) is error


# -- stop -------------------------------------------------------------------------------------


async def test_stop_runs_terminate_after_queued_messages_and_returns_once_exited() -> None:
    pid = await recorder()
    otp.cast(pid, "queued")

    await otp.stop(pid)

    assert not otp.is_alive(pid)
    _, reason, seen = await expect(lambda m: m[0] == "terminate")
    assert (reason, seen) == ("normal", [("cast", "queued")])


async def test_stop_with_a_reason_is_the_exit_reason() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    await otp.stop(pid, ("shutdown", "maintenance"))

    assert await down_of(ref) == ("shutdown", "maintenance")
    assert await terminated() == ("shutdown", "maintenance")


async def test_stop_a_server_that_is_not_running_raises_no_process() -> None:
    pid = await recorder()
    await otp.stop(pid)

    with pytest.raises(NoProcess):
        await otp.stop(pid)
    with pytest.raises(NoProcess):
        await otp.stop("no_such_server")


async def test_stop_is_for_gen_servers() -> None:
    async def plain() -> None:
        await otp.receive()

    with pytest.raises(TypeError):
        await otp.stop(otp.spawn(plain))


async def test_stop_raises_process_exited_if_the_server_exits_otherwise_first() -> None:
    pid = await recorder()
    error = ValueError("crashed before the stop")
    otp.cast(pid, ("raise", error))

    with pytest.raises(ProcessExited) as info:
        await otp.stop(pid)

    assert info.value.reason is error


async def test_stop_times_out_while_terminate_runs_on() -> None:
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    class SlowStop(GenServer):
        async def terminate(self, reason: Any, state: Any) -> None:
            await gate

    pid = await SlowStop.start()
    ref = otp.monitor(pid)

    with pytest.raises(CallTimeout):
        await otp.stop(pid, timeout=0.01)

    assert otp.is_alive(pid)
    gate.set_result(None)
    assert await down_of(ref) == "normal"


# -- async callbacks --------------------------------------------------------------------------


async def test_an_async_handle_call_can_call_another_server() -> None:
    backend = await recorder()

    class Front(GenServer):
        async def handle_call(self, request: Any, from_: From, state: Any) -> Any:
            return Reply(("front", await otp.call(backend, request)), state)

    pid = await Front.start()

    assert await otp.call(pid, "x") == ("front", "ok")
    assert await otp.call(pid, "y") == ("front", "ok")
    assert await otp.call(backend, "seen") == [("call", "x"), ("call", "y")]


async def test_messages_arriving_during_an_async_callback_keep_their_order() -> None:
    pid = await recorder()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    otp.cast(pid, ("gate", gate))
    assert await expect() == "gated"

    otp.cast(pid, 1)
    otp.send(pid, 2)
    await call_elsewhere(pid, 3)
    otp.cast(pid, 4)
    info = otp.process_info(pid)
    assert info is not None and info["message_queue_len"] == 4

    gate.set_result("open")

    assert await call_result() == "ok"
    assert await otp.call(pid, "seen") == [
        ("gate", "open"),
        ("cast", 1),
        ("info", 2),
        ("call", 3),
        ("cast", 4),
    ]


async def test_async_terminate_is_awaited_before_the_exit() -> None:
    class SlowCleanup(GenServer):
        def init(self, owner: Pid, backend: Pid) -> Any:
            return Ok((owner, backend))

        def handle_cast(self, request: Any, state: Any) -> Any:
            return Stop("normal", state)

        async def terminate(self, reason: Any, state: Any) -> None:
            owner, backend = state
            await otp.call(backend, "flush")
            otp.send(owner, "cleaned up")

    backend = await recorder()
    pid = await SlowCleanup.start(otp.self(), backend)
    ref = otp.monitor(pid)
    otp.cast(pid, "stop")

    assert await expect() == "cleaned up"
    assert await down_of(ref) == "normal"
    assert await otp.call(backend, "seen") == [("call", "flush")]


async def test_a_kill_during_an_async_callback_fails_queued_calls_without_terminate() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    otp.cast(pid, ("gate", gate))
    assert await expect() == "gated"
    await call_elsewhere(pid, "queued")

    otp.exit(pid, "kill")

    assert await down_of(ref) == "killed"
    result = await call_result()
    assert isinstance(result, ProcessExited) and result.reason == "killed"
    await nothing_before("marker")


async def test_a_crash_in_an_async_callback_fails_every_queued_call() -> None:
    pid = await recorder()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    otp.cast(pid, ("gate", gate))
    assert await expect() == "gated"
    await call_elsewhere(pid, "first")
    await call_elsewhere(pid, "second")
    error = ValueError("async crash")

    gate.set_result(error)

    results = [await call_result(), await call_result()]
    assert all(type(r) is ProcessExited and r.reason is error for r in results)
    assert await terminated() is error


# -- call errors ------------------------------------------------------------------------------


async def test_call_timeout_raises_and_a_late_reply_is_dropped() -> None:
    pid = await recorder()

    with pytest.raises(CallTimeout) as info:
        await otp.call(pid, "hold", timeout=0.01)

    assert isinstance(info.value, TimeoutError) and isinstance(info.value, CallError)
    assert info.value.target is pid and info.value.request == "hold"
    assert info.value.timeout == 0.01
    otp.cast(pid, ("release", "too late"))
    assert await otp.call(pid, "next") == "ok"
    assert otp.is_alive(pid)
    await nothing_before("marker")


async def test_call_to_a_dead_pid_raises_no_process() -> None:
    pid = await recorder()
    ref = otp.monitor(pid)
    otp.cast(pid, ("stop", "normal"))
    await down_of(ref)

    with pytest.raises(NoProcess) as info:
        await otp.call(pid, "anyone?")

    assert info.value.reason == "noproc"
    assert info.value.request == "anyone?"


async def test_call_to_an_unregistered_name_raises_no_process() -> None:
    with pytest.raises(NoProcess):
        await otp.call("no_such_server", "anyone?")


async def test_a_target_crashing_mid_call_raises_process_exited_with_the_reason() -> None:
    pid = await recorder()
    error = ArithmeticError("overflow")

    with pytest.raises(ProcessExited) as info:
        await otp.call(pid, ("raise", error))

    assert info.value.reason is error
    assert info.value.request == ("raise", error)


async def test_a_target_killed_while_a_call_waits_raises_process_exited_killed() -> None:
    pid = await recorder()
    await call_elsewhere(pid, "hold")
    assert await otp.call(pid, "sync") == "ok"  # the hold is now deferred, not queued

    otp.exit(pid, "kill")

    result = await call_result()
    assert type(result) is ProcessExited and result.reason == "killed"


async def test_a_server_calling_itself_gets_an_error_instead_of_a_deadlock() -> None:
    class Narcissus(GenServer):
        async def handle_call(self, request: Any, from_: From, state: Any) -> Any:
            try:
                await otp.call(otp.self(), "again")
            except RuntimeError as e:
                return Reply(str(e), state)
            return Reply("no error", state)

    pid = await Narcissus.start()

    assert "deadlock" in await otp.call(pid, "mirror")


# -- names ------------------------------------------------------------------------------------


async def test_a_name_given_at_start_is_registered() -> None:
    pid = await Recorder.start(otp.self(), name="named_server")

    assert otp.whereis("named_server") is pid
    info = otp.process_info("named_server")
    assert info is not None and info["name"] == "named_server"


async def test_starting_a_second_server_under_a_taken_name_raises_already_started() -> None:
    first = await Recorder.start(otp.self(), name="only_one")
    before = otp.process_count()

    with pytest.raises(AlreadyStarted) as info:
        await Recorder.start(otp.self(), name="only_one")

    assert isinstance(info.value, StartError)
    assert info.value.pid is first and info.value.name == "only_one"
    assert info.value.reason == ("already_started", first)
    assert otp.process_count() == before
    assert otp.whereis("only_one") is first


async def test_a_registered_name_works_for_call_cast_send_and_monitor() -> None:
    pid = await Recorder.start(otp.self(), name="by_name")
    assert pid is not None

    assert await otp.call("by_name", "c") == "ok"
    otp.cast("by_name", "k")
    otp.send("by_name", "i")
    assert await otp.call("by_name", "seen") == [("call", "c"), ("cast", "k"), ("info", "i")]

    ref = otp.monitor("by_name")
    otp.cast("by_name", ("stop", "normal"))
    assert await expect(lambda m: type(m) is otp.Down) == otp.Down(ref, pid, "normal")


async def test_a_name_is_free_again_after_the_server_exits() -> None:
    pid = await Recorder.start(otp.self(), name="reusable")
    ref = otp.monitor(pid)
    otp.cast(pid, ("stop", "normal"))
    await down_of(ref)

    assert otp.whereis("reusable") is None
    again = await Recorder.start(otp.self(), name="reusable")
    assert otp.whereis("reusable") is again


async def test_a_failed_init_releases_the_name() -> None:
    with pytest.raises(StartError):
        await Init.start(Stop("no"), name="failed_name")

    assert otp.whereis("failed_name") is None


# -- crash reports ----------------------------------------------------------------------------


async def test_a_crash_logs_a_report_with_pid_name_behaviour_reason_traceback_last_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pid = await Recorder.start(otp.self(), name="crashy")
    ref = otp.monitor(pid)
    error = ValueError("bad cast")

    with caplog.at_level(logging.ERROR, logger="otp"):
        otp.cast(pid, ("raise", error))
        await down_of(ref)

    (record,) = [r for r in caplog.records if "crash report" in r.getMessage()]
    text = record.getMessage()
    assert repr(pid) in text
    assert "crashy" in text
    assert "gen_server" in text
    assert repr(error) in text
    assert "cast(('raise', ValueError('bad cast')))" in text
    assert record.exc_info is not None and record.exc_info[1] is error
    assert "Traceback" in caplog.text and "handle_cast" in caplog.text


async def test_a_call_crash_report_names_the_call(caplog: pytest.LogCaptureFixture) -> None:
    pid = await recorder()

    with caplog.at_level(logging.ERROR, logger="otp"), pytest.raises(ProcessExited):
        await otp.call(pid, ("raise", OSError("io")))

    (record,) = [r for r in caplog.records if "crash report" in r.getMessage()]
    assert "From(" in record.getMessage() and "'raise'" in record.getMessage()


@pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "detail")])
async def test_a_clean_stop_logs_no_crash_report(
    reason: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    with caplog.at_level(logging.ERROR, logger="otp"):
        otp.cast(pid, ("stop", reason))
        await down_of(ref)

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_abnormal_stop_logs_a_crash_report(caplog: pytest.LogCaptureFixture) -> None:
    pid = await recorder()
    ref = otp.monitor(pid)

    with caplog.at_level(logging.ERROR, logger="otp"):
        otp.cast(pid, ("stop", "gave_up"))
        await down_of(ref)

    assert any("'gave_up'" in r.getMessage() for r in caplog.records)


# -- child_spec -------------------------------------------------------------------------------


async def test_child_spec_starts_a_linked_named_server() -> None:
    spec = Recorder.child_spec(otp.self(), name="from_spec", restart="transient")

    assert spec.id == "Recorder" and spec.restart == "transient" and spec.type == "worker"
    pid = await spec.start()

    assert otp.whereis("from_spec") is pid
    info = otp.process_info(pid)
    assert info is not None and info["links"] == [repr(otp.self())]


# -- direct handoff: an idle server answers a call on the caller's turn -----------------------


class Echo(GenServer):
    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        match request:
            case ("kill", victim):
                otp.exit(victim, "kill")
                return Reply("done", state)
            case "me":
                return Reply(otp.self(), state)
        return Reply(request, state)


async def test_a_server_answering_on_the_callers_turn_still_runs_as_itself() -> None:
    echo = await Echo.start(None)
    assert await otp.call(echo, "me") == echo
    info = otp.process_info(echo)
    assert info is not None and info["messages_handled"] == 1


async def test_a_tight_loop_of_calls_still_lets_other_tasks_run() -> None:
    echo = await Echo.start(None)
    other_ran = asyncio.Event()
    asyncio.get_running_loop().call_soon(other_ran.set)
    ran_during_loop = False
    for i in range(1000):
        assert await otp.call(echo, i) == i
        ran_during_loop = ran_during_loop or other_ran.is_set()
    assert ran_during_loop


async def test_a_caller_killed_by_the_server_it_calls_is_cancelled() -> None:
    echo = await Echo.start(None)
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def caller() -> None:
        try:
            await otp.call(echo, ("kill", otp.self()))
            await asyncio.get_running_loop().create_future()  # a killed process goes no further
            outcome.set_result("went on")
        except asyncio.CancelledError:
            outcome.set_result("cancelled")
            raise

    pid = otp.spawn(caller)
    ref = otp.monitor(pid)
    assert await down_of(ref) == "killed"
    assert await outcome == "cancelled"


def test_a_server_may_not_reuse_the_runtimes_own_names() -> None:
    with pytest.raises(TypeError, match="_status would replace the runtime's own"):

        class Clashing(GenServer):
            def _status(self) -> str:  # type: ignore[override]
                return "mine"

    class Fine(GenServer):
        def _my_helper(self) -> str:
            return "mine"

    assert Fine._my_helper(Fine.__new__(Fine)) == "mine"
