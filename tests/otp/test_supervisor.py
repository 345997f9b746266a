"""Supervisor: start order, strategies, restart types, intensity, shutdown, child operations."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import otp
from otp import ChildError, ChildInfo, ChildSpec, Pid, StartError, Supervisor
from otp import supervisor as supervisor_module

from ._supervision import (
    Journal,
    down_of,
    exit_of,
    expect,
    make_exit,
    pids_of,
    stubborn,
    worker,
)


async def start_sup(children: list[ChildSpec], **opts: Any) -> Pid:
    pid = await Supervisor.start_link(children, **opts)
    assert pid is not None
    return pid


def failing(name: str) -> ChildSpec:
    """A child whose start always fails."""
    return worker(Journal(fail_starts={name: 1_000}), name)


# -- start and stop order --------------------------------------------------------------------


async def test_children_start_in_order_and_stop_in_reverse_order() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, n) for n in "abc"])
    assert journal.take() == [("start", "a"), ("start", "b"), ("start", "c")]
    children = list(journal.pids.values())

    ref = otp.monitor(sup)
    otp.exit(sup, "shutdown")

    assert await down_of(ref) == "shutdown"
    assert journal.take() == [("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert journal.stop_reasons == {n: ["shutdown"] for n in "abc"}
    assert not any(otp.is_alive(pid) for pid in children)


@pytest.mark.parametrize("reason", ["normal", ("shutdown", "maintenance"), "parent_crashed"])
async def test_exit_from_parent_stops_children_then_exits_with_the_same_reason(
    reason: Any,
) -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, n) for n in "ab"])
    journal.take()

    ref = otp.monitor(sup)
    otp.exit(sup, reason)

    assert await down_of(ref) == reason
    assert journal.take() == [("stop", "b"), ("stop", "a")]
    assert journal.stop_reasons == {"a": ["shutdown"], "b": ["shutdown"]}


async def test_exit_from_a_process_that_is_not_the_parent_is_ignored() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])
    before = await pids_of(sup)

    async def stranger() -> None:
        otp.exit(sup, "go_away")

    ref = otp.monitor(otp.spawn(stranger))
    assert await down_of(ref) == "normal"

    assert await pids_of(sup) == before
    assert otp.is_alive(sup)


async def test_stop_stops_children_in_reverse_order() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, n) for n in "abc"])
    journal.take()

    await otp.stop(sup)

    assert journal.take() == [("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert not otp.is_alive(sup)


async def test_killing_the_supervisor_takes_its_children_down() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, "a", trap=False), worker(journal, "b")])
    refs = {name: otp.monitor(pid) for name, pid in journal.pids.items()}

    otp.exit(sup, "kill")

    assert await down_of(refs["a"]) == "killed"
    assert await down_of(refs["b"]) == "killed"


# -- strategies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "restarted", "events"),
    [
        ("one_for_one", "b", [("stop", "b"), ("start", "b")]),
        (
            "one_for_all",
            "abc",
            [("stop", "b"), ("stop", "c"), ("stop", "a"),
             ("start", "a"), ("start", "b"), ("start", "c")],
        ),
        (
            "rest_for_one",
            "bc",
            [("stop", "b"), ("stop", "c"), ("start", "b"), ("start", "c")],
        ),
    ],
)
async def test_strategy_restarts_exactly_its_group_in_order(
    strategy: str, restarted: str, events: list[tuple[str, str]]
) -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, n) for n in "abc"], strategy=strategy)
    before = await pids_of(sup)
    journal.take()

    assert isinstance(await make_exit(journal.pids["b"], "crash"), RuntimeError)
    after = await pids_of(sup)

    assert journal.take() == events  # the crashed child first, then reverse stops, then starts
    assert list(after) == ["a", "b", "c"]
    assert {n for n in "abc" if after[n] is not before[n]} == set(restarted)
    assert all(pid is not None and otp.is_alive(pid) for pid in after.values())
    assert not any(otp.is_alive(before[n]) for n in restarted)


async def test_rest_for_one_leaves_earlier_children_alone_when_the_last_one_crashes() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, n) for n in "abc"], strategy="rest_for_one")
    before = await pids_of(sup)

    await make_exit(journal.pids["c"], "kill")
    after = await pids_of(sup)

    assert after["a"] is before["a"] and after["b"] is before["b"]
    assert after["c"] is not before["c"]


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_temporary_sibling_stopped_by_a_group_restart_is_not_restarted(
    strategy: str,
) -> None:
    journal = Journal()
    sup = await start_sup(
        [worker(journal, "a"), worker(journal, "t", restart="temporary")], strategy=strategy
    )
    temp = journal.pids["t"]
    ref = otp.monitor(temp)

    await make_exit(journal.pids["a"], "crash")

    assert await down_of(ref) == "shutdown"
    assert list(await pids_of(sup)) == ["a"]


# -- restart types ---------------------------------------------------------------------------

ALL_REASONS = ["normal", "shutdown", ("shutdown", "bye"), "crash", "kill", "other"]


@pytest.mark.parametrize("how", ALL_REASONS)
async def test_permanent_child_is_restarted_whatever_the_reason(how: Any) -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])
    old = journal.pids["a"]

    await make_exit(old, how)
    new = (await pids_of(sup))["a"]

    assert new is not None and new is not old and otp.is_alive(new)


@pytest.mark.parametrize(
    ("how", "restarted"),
    [
        ("normal", False),
        ("shutdown", False),
        (("shutdown", "bye"), False),
        ("crash", True),
        ("kill", True),
        ("other", True),
    ],
)
async def test_transient_child_is_restarted_only_after_an_abnormal_exit(
    how: Any, restarted: bool
) -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a", restart="transient")])
    old = journal.pids["a"]

    await make_exit(old, how)
    rows = await Supervisor.which_children(sup)

    assert [row.id for row in rows] == ["a"]  # the spec stays either way
    if restarted:
        assert rows[0].pid is not None and rows[0].pid is not old
    else:
        assert rows[0].pid is None


@pytest.mark.parametrize("how", ALL_REASONS)
async def test_temporary_child_is_never_restarted_and_is_forgotten(how: Any) -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a"), worker(journal, "t", restart="temporary")])

    await make_exit(journal.pids["t"], how)

    assert list(await pids_of(sup)) == ["a"]
    assert journal.take() == [("start", "a"), ("start", "t")] + (
        [] if how == "kill" else [("stop", "t")]
    )


# -- restart intensity -----------------------------------------------------------------------


async def test_more_restarts_than_max_restarts_shuts_the_supervisor_down() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup(
        [worker(journal, "a"), worker(journal, "b")], max_restarts=2, max_seconds=60
    )
    ref = otp.monitor(sup)
    sibling = journal.pids["a"]

    for _ in range(2):
        await make_exit(journal.pids["b"], "crash")
        assert (await pids_of(sup))["b"] is not None  # restarts 1 and 2 are within the limit
    journal.take()
    await make_exit(journal.pids["b"], "crash")  # restart 3 is one too many

    assert await down_of(ref) == "shutdown"
    assert journal.take() == [("stop", "b"), ("stop", "a")]
    assert not otp.is_alive(sibling)
    assert await exit_of(sup) == "shutdown"  # what its parent (here, the test) sees


async def test_max_restarts_zero_gives_up_on_the_first_exit() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, "a")], max_restarts=0)
    ref = otp.monitor(sup)

    await make_exit(journal.pids["a"], "crash")

    assert await down_of(ref) == "shutdown"


async def test_exits_that_need_no_restart_do_not_count_toward_intensity() -> None:
    journal = Journal()
    sup = await start_sup(
        [worker(journal, n, restart="transient") for n in "abc"], max_restarts=0
    )

    for name in "abc":
        await make_exit(journal.pids[name], "normal")

    assert await pids_of(sup) == {"a": None, "b": None, "c": None}
    assert otp.is_alive(sup)


class FakeClock:
    """Stands in for the ``time`` module of ``otp.supervisor``: time moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_restarts_older_than_max_seconds_do_not_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(supervisor_module, "time", clock)
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, "a")], max_restarts=1, max_seconds=5)
    ref = otp.monitor(sup)

    await make_exit(journal.pids["a"], "crash")
    clock.now += 6  # the first restart leaves the window
    await make_exit(journal.pids["a"], "crash")
    assert (await pids_of(sup))["a"] is not None

    clock.now += 1  # two restarts within 5 s: one too many
    await make_exit(journal.pids["a"], "crash")
    assert await down_of(ref) == "shutdown"


async def test_child_supervisor_that_gives_up_is_restarted_by_its_parent() -> None:
    otp.trap_exit(True)
    journal = Journal()
    inner_spec = Supervisor.child_spec(
        [worker(journal, "w")], id="inner", name="inner_sup", init_kwargs={"max_restarts": 0}
    )
    top = await start_sup([inner_spec, worker(journal, "x")], max_restarts=1, max_seconds=60)
    top_ref = otp.monitor(top)
    inner = (await pids_of(top))["inner"]
    assert inner is not None
    inner_ref = otp.monitor(inner)
    x = journal.pids["x"]

    await make_exit(journal.pids["w"], "crash")  # inner gives up at once; top restarts it

    assert await down_of(inner_ref) == "shutdown"
    rows = await pids_of(top)
    assert rows["inner"] is not None and rows["inner"] is not inner
    assert rows["x"] is x  # one_for_one: the sibling is untouched
    assert otp.whereis("inner_sup") is rows["inner"]  # its name was free again
    assert otp.is_alive(journal.pids["w"])  # the new inner started a new worker

    await make_exit(journal.pids["w"], "crash")  # second escalation: top's own limit is 1

    assert await down_of(top_ref) == "shutdown"
    assert not otp.is_alive(x)
    assert otp.whereis("inner_sup") is None


# -- shutdown --------------------------------------------------------------------------------


async def test_child_that_ignores_shutdown_is_killed_after_its_shutdown_time() -> None:
    me = otp.self()
    sup = await start_sup([stubborn("s", 0.2, me)])
    _, _, pid = await expect(lambda m: m[0] == "ready")
    ref = otp.monitor(pid)

    await Supervisor.terminate_child(sup, "s")

    assert await down_of(ref) == "killed"
    assert await pids_of(sup) == {"s": None}


async def test_supervisor_stopping_kills_a_child_that_ignores_shutdown() -> None:
    otp.trap_exit(True)
    sup = await start_sup([stubborn("s", 0.2, otp.self())])
    _, _, pid = await expect(lambda m: m[0] == "ready")
    child_ref, sup_ref = otp.monitor(pid), otp.monitor(sup)

    otp.exit(sup, "shutdown")

    assert await down_of(child_ref) == "killed"
    assert await down_of(sup_ref) == "shutdown"


async def test_brutal_kill_kills_without_calling_terminate() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a", shutdown="brutal_kill")])
    ref = otp.monitor(journal.pids["a"])
    journal.take()

    await Supervisor.terminate_child(sup, "a")

    assert await down_of(ref) == "killed"
    assert journal.take() == []


async def test_infinity_waits_for_a_slow_terminate() -> None:
    journal = Journal(listener=otp.self())
    sup = await start_sup([worker(journal, "a", shutdown="infinity")])
    pid = journal.pids["a"]
    ref = otp.monitor(pid)
    journal.hold_terminate = asyncio.get_running_loop().create_future()

    stopping = asyncio.ensure_future(Supervisor.terminate_child(sup, "a"))
    await expect(lambda m: m == ("terminating", "a"))
    # "Never" has no event to wait on: give a wrong shutdown time the chance to kill it.
    await asyncio.wait({stopping}, timeout=0.3)

    assert not stopping.done()
    assert otp.is_alive(pid)
    journal.hold_terminate.set_result(None)
    await stopping
    assert await down_of(ref) == "shutdown"


async def test_numeric_shutdown_lets_a_terminate_that_finishes_in_time_finish() -> None:
    journal = Journal(listener=otp.self())
    sup = await start_sup([worker(journal, "a", shutdown=5.0)])
    ref = otp.monitor(journal.pids["a"])
    release = journal.hold_terminate = asyncio.get_running_loop().create_future()

    stopping = asyncio.ensure_future(Supervisor.terminate_child(sup, "a"))
    await expect(lambda m: m == ("terminating", "a"))
    release.set_result(None)
    await stopping

    assert await down_of(ref) == "shutdown"


def test_default_shutdown_is_five_seconds_for_workers_and_infinity_for_supervisors() -> None:
    async def start() -> None:
        return None

    assert ChildSpec(id="w", start=start).shutdown == 5.0
    assert ChildSpec(id="s", start=start, type="supervisor").shutdown == "infinity"
    with pytest.raises(ValueError):
        ChildSpec(id="x", start=start, shutdown=-1)
    with pytest.raises(ValueError):
        ChildSpec(id="x", start=start, restart="sometimes")


# -- which_children, count_children ----------------------------------------------------------


async def test_which_children_and_count_children() -> None:
    journal = Journal()
    inner = Supervisor.child_spec([], id="inner")
    sup = await start_sup(
        [worker(journal, "a"), inner, worker(journal, "t", restart="transient")]
    )

    rows = await Supervisor.which_children(sup)
    assert [(r.id, r.type, r.restart) for r in rows] == [
        ("a", "worker", "permanent"),
        ("inner", "supervisor", "permanent"),
        ("t", "worker", "transient"),
    ]
    assert all(isinstance(r, ChildInfo) and r.pid is not None for r in rows)
    assert rows[0].pid is journal.pids["a"]
    assert await Supervisor.count_children(sup) == {
        "specs": 3, "active": 3, "supervisors": 1, "workers": 2
    }

    await Supervisor.terminate_child(sup, "t")
    assert await Supervisor.count_children(sup) == {
        "specs": 3, "active": 2, "supervisors": 1, "workers": 2
    }


# -- start_child, terminate_child, restart_child, delete_child -------------------------------


async def test_start_child_adds_a_child_after_the_others() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])

    pid = await Supervisor.start_child(sup, worker(journal, "b"))

    assert pid is journal.pids["b"] and otp.is_alive(pid)
    assert await pids_of(sup) == {"a": journal.pids["a"], "b": pid}
    await make_exit(pid, "crash")  # and it is supervised like the others
    assert (await pids_of(sup))["b"] not in (None, pid)


async def test_start_child_with_an_id_in_use_raises_child_error() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])

    with pytest.raises(ChildError) as running:
        await Supervisor.start_child(sup, worker(journal, "a"))
    assert running.value.reason == ("already_started", journal.pids["a"])

    await Supervisor.terminate_child(sup, "a")
    with pytest.raises(ChildError) as stopped:
        await Supervisor.start_child(sup, worker(journal, "a"))
    assert stopped.value.reason == "already_present"


async def test_start_child_that_fails_raises_and_adds_nothing() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])

    with pytest.raises(ChildError) as failed:
        await Supervisor.start_child(sup, failing("b"))

    assert isinstance(failed.value.reason, StartError)
    assert failed.value.reason.reason == ("start_refused", "b")
    assert list(await pids_of(sup)) == ["a"]


async def test_terminate_child_keeps_the_spec_and_restart_child_starts_it_again() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a"), worker(journal, "b")])
    old = journal.pids["a"]
    ref = otp.monitor(old)

    await Supervisor.terminate_child(sup, "a")

    assert await down_of(ref) == "shutdown"
    assert await pids_of(sup) == {"a": None, "b": journal.pids["b"]}
    new = await Supervisor.restart_child(sup, "a")
    assert new is not None and new is not old and otp.is_alive(new)
    assert (await pids_of(sup))["a"] is new


async def test_terminate_child_is_not_a_crash() -> None:
    """A terminated permanent child stays down: the supervisor does not restart it."""
    journal = Journal()
    sup = await start_sup([worker(journal, "a")], max_restarts=0)

    await Supervisor.terminate_child(sup, "a")

    assert await pids_of(sup) == {"a": None}
    assert otp.is_alive(sup)


async def test_terminate_child_forgets_a_temporary_child() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "t", restart="temporary")])

    await Supervisor.terminate_child(sup, "t")

    assert await pids_of(sup) == {}
    with pytest.raises(ChildError) as gone:
        await Supervisor.restart_child(sup, "t")
    assert gone.value.reason == "not_found"


async def test_restart_and_delete_of_a_running_child_raise_running() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])

    with pytest.raises(ChildError) as restart:
        await Supervisor.restart_child(sup, "a")
    with pytest.raises(ChildError) as delete:
        await Supervisor.delete_child(sup, "a")

    assert restart.value.reason == "running"
    assert delete.value.reason == "running"
    assert (await pids_of(sup))["a"] is journal.pids["a"]


async def test_delete_child_forgets_a_stopped_child() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a"), worker(journal, "b")])

    await Supervisor.terminate_child(sup, "a")
    await Supervisor.delete_child(sup, "a")

    assert list(await pids_of(sup)) == ["b"]
    pid = await Supervisor.start_child(sup, worker(journal, "a"))  # the id is free again
    assert list(await pids_of(sup)) == ["b", "a"] and pid is journal.pids["a"]


@pytest.mark.parametrize("op", ["terminate_child", "restart_child", "delete_child"])
async def test_operations_on_an_unknown_child_raise_not_found(op: str) -> None:
    sup = await start_sup([])

    with pytest.raises(ChildError) as missing:
        await getattr(Supervisor, op)(sup, "nobody")

    assert missing.value.reason == "not_found"


async def test_restart_child_that_fails_raises_and_leaves_it_stopped() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])
    await Supervisor.terminate_child(sup, "a")
    journal.fail_starts["a"] = 1

    with pytest.raises(ChildError) as failed:
        await Supervisor.restart_child(sup, "a")

    assert isinstance(failed.value.reason, StartError)
    assert await pids_of(sup) == {"a": None}


# -- failures at start -----------------------------------------------------------------------


async def test_child_failing_at_init_fails_the_start_and_stops_started_children() -> None:
    journal = Journal(fail_starts={"b": 1})
    specs = [worker(journal, n) for n in "abc"]

    with pytest.raises(StartError) as failed:
        await Supervisor.start_link(specs)

    reason = failed.value.reason
    assert reason[:2] == ("failed_to_start_child", "b")
    assert isinstance(reason[2], StartError) and reason[2].reason == ("start_refused", "b")
    assert journal.take() == [("start", "a"), ("stop", "a")]  # c never started
    assert not otp.is_alive(journal.pids["a"])
    assert otp.is_alive(otp.self())  # the failed start does not take the caller down


@pytest.mark.parametrize(
    "opts",
    [{"strategy": "one_for_some"}, {"max_restarts": -1}, {"max_seconds": 0}],
)
async def test_bad_supervisor_options_fail_the_start(opts: dict[str, Any]) -> None:
    with pytest.raises(StartError) as failed:
        await Supervisor.start_link([], **opts)
    assert isinstance(failed.value.reason, ValueError)


async def test_duplicate_child_ids_fail_the_start() -> None:
    journal = Journal()
    with pytest.raises(StartError):
        await Supervisor.start_link([worker(journal, "a"), worker(journal, "a")])
    assert journal.events == []


async def test_child_that_ignores_its_start_is_kept_without_a_pid() -> None:
    async def ignore() -> None:
        return None

    sup = await start_sup(
        [ChildSpec(id="p", start=ignore), ChildSpec(id="t", start=ignore, restart="temporary")]
    )

    assert await pids_of(sup) == {"p": None}


# -- failed restarts -------------------------------------------------------------------------


async def test_a_restart_that_fails_is_tried_again() -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a"), worker(journal, "b")], max_restarts=5)
    old = journal.pids["b"]
    journal.fail_starts["b"] = 1

    await make_exit(old, "crash")
    await pids_of(sup)  # the failed restart has happened; the retry is queued behind it
    after = await pids_of(sup)

    assert after["b"] is not None and after["b"] is not old and otp.is_alive(after["b"])
    assert after["a"] is journal.pids["a"]


@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
async def test_a_failed_group_restart_ends_with_every_child_running(strategy: str) -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, n) for n in "abc"], strategy=strategy)
    before = await pids_of(sup)
    journal.fail_starts["c"] = 1

    await make_exit(journal.pids["a"], "crash")
    await pids_of(sup)
    after = await pids_of(sup)

    assert all(pid is not None and otp.is_alive(pid) for pid in after.values()), after
    assert all(after[n] is not before[n] for n in "abc")


async def test_failed_restarts_count_toward_intensity() -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, "a")], max_restarts=2, max_seconds=60)
    ref = otp.monitor(sup)
    journal.fail_starts["a"] = 1_000

    await make_exit(journal.pids["a"], "crash")  # restart 1 fails, 2 fails, 3 is too many

    assert await down_of(ref) == "shutdown"


# -- logging ---------------------------------------------------------------------------------


async def test_giving_up_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    otp.trap_exit(True)
    journal = Journal()
    sup = await start_sup([worker(journal, "a")], max_restarts=0, name="logged_sup")
    ref = otp.monitor(sup)

    with caplog.at_level(logging.ERROR, logger="otp"):
        await make_exit(journal.pids["a"], "crash")
        assert await down_of(ref) == "shutdown"

    give_up = [r for r in caplog.records if "max restart intensity" in r.getMessage()]
    assert len(give_up) == 1
    assert give_up[0].levelno == logging.ERROR
    assert repr(sup) in give_up[0].getMessage() and "logged_sup" in give_up[0].getMessage()
    crashes = [r for r in caplog.records if "crash report" in r.getMessage()]
    assert any(repr(journal.pids["a"]) in r.getMessage() for r in crashes)  # the child's
    assert not any(repr(sup) in r.getMessage() for r in crashes)  # "shutdown" is clean


async def test_a_failed_restart_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal()
    sup = await start_sup([worker(journal, "a")])
    journal.fail_starts["a"] = 1

    with caplog.at_level(logging.ERROR, logger="otp"):
        await make_exit(journal.pids["a"], "crash")
        await pids_of(sup)

    assert any(
        "restarting child 'a' failed" in r.getMessage() and repr(sup) in r.getMessage()
        for r in caplog.records
    )

