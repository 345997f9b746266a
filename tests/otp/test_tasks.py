"""TaskSupervisor: awaited tasks that cannot take their caller down, and fire-and-forget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import otp
from otp import (
    CallTimeout,
    Down,
    From,
    GenServer,
    NoReply,
    Ok,
    Pid,
    ProcessExited,
    Reply,
    Task,
    TaskReply,
    TaskSupervisor,
)

from ._mailbox import down_of, expect, nothing_before


async def start_tasks(name: str = "tasks") -> Pid:
    pid = await TaskSupervisor.start(name=name)
    assert pid is not None
    return pid


async def add(a: int, b: int) -> int:
    return a + b


async def fail(error: Exception) -> None:
    raise error


async def wait_for(gate: asyncio.Future[Any]) -> Any:
    return await gate


async def test_async_nolink_await_returns_the_value() -> None:
    await start_tasks()

    task = await TaskSupervisor.async_nolink("tasks", add, 2, 3)

    assert isinstance(task, Task)
    assert await task.await_() == 5
    await nothing_before("marker")  # no TaskReply or Down left behind for the caller


async def test_a_crashing_task_raises_process_exited_and_the_caller_lives_on() -> None:
    sup = await start_tasks()
    error = ValueError("task failed")

    task = await TaskSupervisor.async_nolink("tasks", fail, error)
    with pytest.raises(ProcessExited) as info:
        await task.await_()

    assert info.value.reason is error
    assert info.value.target is task.pid
    assert otp.is_alive(otp.self()) and otp.is_alive(sup)
    await nothing_before("marker")  # the task's Down was consumed by await_


async def test_a_task_that_takes_too_long_raises_call_timeout_and_keeps_running() -> None:
    await start_tasks()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    task = await TaskSupervisor.async_nolink("tasks", wait_for, gate)
    with pytest.raises(CallTimeout) as info:
        await task.await_(timeout=0.01)

    assert isinstance(info.value, TimeoutError)
    assert otp.is_alive(task.pid)
    gate.set_result("eventually")
    assert await task.await_() == "eventually"


async def test_yield_returns_none_on_timeout_and_the_value_later() -> None:
    await start_tasks()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = await TaskSupervisor.async_nolink("tasks", wait_for, gate)

    assert await task.yield_(timeout=0.01) is None
    gate.set_result(42)
    assert await task.yield_() == 42


async def test_shutdown_kills_a_running_task() -> None:
    await start_tasks()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = await TaskSupervisor.async_nolink("tasks", wait_for, gate)
    ref = otp.monitor(task.pid)

    task.shutdown()

    assert await down_of(ref) == "killed"
    await nothing_before("marker")  # the owner's own Down for the task was dropped


async def test_tasks_run_concurrently() -> None:
    await start_tasks()
    gates = [asyncio.get_running_loop().create_future() for _ in range(3)]
    tasks = [await TaskSupervisor.async_nolink("tasks", wait_for, g) for g in gates]

    for i, gate in enumerate(reversed(gates)):
        gate.set_result(i)

    assert [await t.await_() for t in tasks] == [2, 1, 0]


async def test_a_task_is_not_restarted_and_leaves_the_supervisor() -> None:
    await start_tasks()
    task = await TaskSupervisor.async_nolink("tasks", fail, RuntimeError("once"))
    with pytest.raises(ProcessExited):
        await task.await_()

    assert await TaskSupervisor.which_children("tasks") == []


# -- a GenServer as the owner -----------------------------------------------------------------


class Owner(GenServer):
    """Starts tasks on request and reports the messages they send it to ``reporter``."""

    def init(self, reporter: Pid) -> Any:
        return Ok(reporter)

    async def handle_call(self, request: Any, from_: From, reporter: Pid) -> Any:
        fn, *args = request
        task = await TaskSupervisor.async_nolink("tasks", fn, *args)
        return Reply(task.ref, reporter)

    def handle_info(self, msg: Any, reporter: Pid) -> Any:
        otp.send(reporter, msg)
        return NoReply(reporter)


async def test_a_gen_server_owner_receives_the_task_reply_as_info() -> None:
    await start_tasks()
    owner = await Owner.start(otp.self())

    ref = await otp.call(owner, (add, 20, 22))

    assert await expect() == TaskReply(ref, 42)
    down = await expect()
    assert type(down) is Down and down.ref is ref and down.reason == "normal"


async def test_a_gen_server_owner_receives_down_when_the_task_crashes() -> None:
    await start_tasks()
    owner = await Owner.start(otp.self())
    error = KeyError("lost")

    ref = await otp.call(owner, (fail, error))

    down = await expect()
    assert type(down) is Down and down.ref is ref and down.reason is error
    assert otp.is_alive(owner)


# -- fire and forget --------------------------------------------------------------------------


async def test_start_child_runs_the_function_and_returns_its_pid() -> None:
    await start_tasks()
    me = otp.self()

    async def work(x: int) -> None:
        otp.send(me, ("done", x, otp.self()))

    pid = await TaskSupervisor.start_child("tasks", work, 7)

    assert await expect() == ("done", 7, pid)


async def test_a_crashing_fire_and_forget_task_harms_no_one() -> None:
    sup = await start_tasks()
    gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    error = RuntimeError("ignored")

    async def fail_later() -> None:
        await gate
        raise error

    pid = await TaskSupervisor.start_child("tasks", fail_later)
    assert pid is not None
    ref = otp.monitor(pid)
    gate.set_result(None)

    assert await down_of(ref) is error
    assert otp.is_alive(sup) and otp.is_alive(otp.self())
    assert await TaskSupervisor.which_children("tasks") == []
