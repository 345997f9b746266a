"""DynamicSupervisor: children on demand, max_children, one-for-one restarts, shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import otp
from otp import ChildError, ChildSpec, DynamicSupervisor, Pid, StartError

from ._supervision import Journal, down_of, expect, make_exit, stubborn, worker


async def start_dyn(**opts: Any) -> Pid:
    pid = await DynamicSupervisor.start_link(**opts)
    assert pid is not None
    return pid


async def children(sup: Pid) -> dict[Pid | None, Any]:
    """``{pid: id}`` of the running children (waits for earlier exits to be handled)."""
    return {row.pid: row.id for row in await DynamicSupervisor.which_children(sup)}


async def test_start_child_starts_a_supervised_child() -> None:
    journal = Journal()
    sup = await start_dyn()

    pid = await DynamicSupervisor.start_child(sup, worker(journal, "a"))

    assert pid is not None and pid is journal.pids["a"] and otp.is_alive(pid)
    rows = await DynamicSupervisor.which_children(sup)
    assert [(r.id, r.pid, r.type, r.restart) for r in rows] == [
        ("a", pid, "worker", "permanent")
    ]


async def test_children_with_the_same_spec_run_side_by_side() -> None:
    journal = Journal()
    sup = await start_dyn()
    spec = worker(journal, "conn")

    first = await DynamicSupervisor.start_child(sup, spec)
    second = await DynamicSupervisor.start_child(sup, spec)

    assert first is not second and otp.is_alive(first) and otp.is_alive(second)
    assert await children(sup) == {first: "conn", second: "conn"}


async def test_count_children() -> None:
    journal = Journal()
    sup = await start_dyn()
    await DynamicSupervisor.start_child(sup, worker(journal, "a"))
    await DynamicSupervisor.start_child(sup, worker(journal, "b"))
    await DynamicSupervisor.start_child(sup, otp.Supervisor.child_spec([], id="inner"))

    assert await DynamicSupervisor.count_children(sup) == {
        "specs": 3, "active": 3, "supervisors": 1, "workers": 2
    }


async def test_max_children_refuses_one_more() -> None:
    journal = Journal()
    sup = await start_dyn(max_children=2)
    a = await DynamicSupervisor.start_child(sup, worker(journal, "a"))
    await DynamicSupervisor.start_child(sup, worker(journal, "b"))

    with pytest.raises(ChildError) as full:
        await DynamicSupervisor.start_child(sup, worker(journal, "c"))

    assert full.value.reason == "max_children"
    assert "c" not in journal.pids  # not even started
    assert a is not None
    await DynamicSupervisor.terminate_child(sup, a)  # room again
    assert await DynamicSupervisor.start_child(sup, worker(journal, "c")) is not None


async def test_terminate_child_stops_and_forgets_it() -> None:
    journal = Journal()
    sup = await start_dyn()
    a = await DynamicSupervisor.start_child(sup, worker(journal, "a"))
    b = await DynamicSupervisor.start_child(sup, worker(journal, "b"))
    assert a is not None
    ref = otp.monitor(a)

    await DynamicSupervisor.terminate_child(sup, a)

    assert await down_of(ref) == "shutdown"
    assert journal.stop_reasons == {"a": ["shutdown"]}
    assert await children(sup) == {b: "b"}  # and it is not restarted


async def test_terminate_child_of_an_unknown_pid_raises_not_found() -> None:
    sup = await start_dyn()

    with pytest.raises(ChildError) as missing:
        await DynamicSupervisor.terminate_child(sup, otp.self())

    assert missing.value.reason == "not_found"


async def test_terminate_child_kills_a_child_that_ignores_shutdown() -> None:
    sup = await start_dyn()
    await DynamicSupervisor.start_child(sup, stubborn("s", 0.2, otp.self()))
    _, _, pid = await expect(lambda m: m[0] == "ready")
    ref = otp.monitor(pid)

    await DynamicSupervisor.terminate_child(sup, pid)

    assert await down_of(ref) == "killed"


async def test_start_child_that_fails_raises_child_error() -> None:
    journal = Journal(fail_starts={"a": 1})
    sup = await start_dyn()

    with pytest.raises(ChildError) as failed:
        await DynamicSupervisor.start_child(sup, worker(journal, "a"))

    assert isinstance(failed.value.reason, StartError)
    assert await children(sup) == {}


async def test_start_child_that_ignores_its_start_returns_none() -> None:
    async def ignore() -> None:
        return None

    sup = await start_dyn(max_children=1)

    assert await DynamicSupervisor.start_child(sup, ChildSpec(id="i", start=ignore)) is None
    assert await DynamicSupervisor.count_children(sup) == {
        "specs": 0, "active": 0, "supervisors": 0, "workers": 0
    }


# -- restarts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "how", "restarted"),
    [
        ("permanent", "crash", True),
        ("permanent", "normal", True),
        ("permanent", "kill", True),
        ("transient", "crash", True),
        ("transient", "kill", True),
        ("transient", "normal", False),
        ("transient", "shutdown", False),
        ("transient", ("shutdown", "bye"), False),
        ("temporary", "crash", False),
        ("temporary", "kill", False),
        ("temporary", "normal", False),
    ],
)
async def test_restart_by_restart_type(restart: str, how: Any, restarted: bool) -> None:
    journal = Journal()
    sup = await start_dyn()
    other = await DynamicSupervisor.start_child(sup, worker(journal, "other"))
    old = await DynamicSupervisor.start_child(sup, worker(journal, "a", restart=restart))
    assert old is not None

    await make_exit(old, how)
    now = await children(sup)

    assert now.pop(other) == "other"  # one for one: the sibling is untouched
    if restarted:
        [(new, child_id)] = now.items()
        assert child_id == "a" and new is not old and new is not None and otp.is_alive(new)
    else:
        assert now == {}


async def test_more_restarts_than_max_restarts_shuts_it_down() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_dyn(max_restarts=1, max_seconds=60)
    sup_ref = otp.monitor(sup)
    await DynamicSupervisor.start_child(sup, worker(journal, "a"))
    bystander = await DynamicSupervisor.start_child(sup, worker(journal, "b"))
    assert bystander is not None
    bystander_ref = otp.monitor(bystander)

    await make_exit(journal.pids["a"], "crash")
    assert "a" in (await children(sup)).values()  # the first restart is allowed
    await make_exit(journal.pids["a"], "crash")  # the second is one too many

    assert await down_of(sup_ref) == "shutdown"
    assert await down_of(bystander_ref) == "shutdown"


async def test_a_restart_that_fails_is_tried_again_and_counts_toward_intensity() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_dyn(max_restarts=3, max_seconds=60)
    ref = otp.monitor(sup)
    await DynamicSupervisor.start_child(sup, worker(journal, "a"))
    journal.fail_starts["a"] = 1

    await make_exit(journal.pids["a"], "crash")  # restart 1 fails, retry 2 succeeds
    await children(sup)
    assert list((await children(sup)).values()) == ["a"]

    journal.fail_starts["a"] = 1_000
    await make_exit(journal.pids["a"], "crash")  # restarts 3 and 4 fail: too many

    assert await down_of(ref) == "shutdown"


# -- stopping --------------------------------------------------------------------------------


async def test_stopping_stops_all_children_at_once() -> None:
    otp.trap_exit(True)
    journal = Journal(listener=otp.self())
    sup = await start_dyn()
    pids = [await DynamicSupervisor.start_child(sup, worker(journal, n)) for n in "abc"]
    refs = [otp.monitor(pid) for pid in pids]
    journal.hold_terminate = asyncio.get_running_loop().create_future()
    sup_ref = otp.monitor(sup)

    otp.exit(sup, "shutdown")
    # Every child is told before any has finished: they stop concurrently.
    told = {(await expect(lambda m: m[0] == "terminating"))[1] for _ in "abc"}
    assert told == {"a", "b", "c"}
    journal.hold_terminate.set_result(None)

    assert [await down_of(ref) for ref in refs] == ["shutdown"] * 3
    assert await down_of(sup_ref) == "shutdown"


async def test_stopping_kills_children_that_ignore_shutdown() -> None:
    otp.trap_exit(True)
    sup = await start_dyn()
    for name in "st":
        await DynamicSupervisor.start_child(sup, stubborn(name, 0.2, otp.self()))
    refs = []
    for _ in "st":
        _, _, pid = await expect(lambda m: m[0] == "ready")
        refs.append(otp.monitor(pid))
    sup_ref = otp.monitor(sup)

    otp.exit(sup, "shutdown")

    assert [await down_of(ref) for ref in refs] == ["killed", "killed"]
    assert await down_of(sup_ref) == "shutdown"


@pytest.mark.parametrize(
    "opts", [{"max_children": -1}, {"max_restarts": -1}, {"max_seconds": 0}]
)
async def test_bad_options_fail_the_start(opts: dict[str, Any]) -> None:
    """As for ``Supervisor``: with ``max_seconds=0`` no restart would ever count, and a
    child that keeps failing would be restarted forever."""
    with pytest.raises(StartError) as failed:
        await DynamicSupervisor.start_link(**opts)
    assert isinstance(failed.value.reason, ValueError)
