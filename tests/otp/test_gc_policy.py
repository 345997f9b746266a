"""The node's collector policy: what it freezes, the thresholds it sets, the pauses it counts."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import otp
from otp import GcPolicy, Supervisor, apply_gc_policy, gc_stats, remove_gc_policy


class Node:
    """Something that lives as long as the node: a reference cycle, as trees are."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def interpreter_collector() -> Iterator[None]:
    """Every test starts and ends with the interpreter's own collector."""
    thresholds = gc.get_threshold()
    remove_gc_policy()
    yield
    remove_gc_policy()
    gc.set_threshold(*thresholds)


def tracked(obj: Any) -> bool:
    """Whether the collector still visits ``obj`` (frozen objects are not listed)."""
    return any(o is obj for o in gc.get_objects())


def total_pauses(stats: dict[str, Any], gen: int) -> int:
    return sum(stats["generations"][str(gen)]["pauses"].values())


async def test_the_node_freezes_what_lives_once_its_tree_is_up() -> None:
    seen: dict[str, Any] = {}
    before = Node()

    async def started(root: otp.Pid) -> None:
        seen["frozen"] = not tracked(before)
        seen["info"] = otp.node_info()["gc"]
        seen["frozen_count"] = gc.get_freeze_count()
        otp.exit(root, "kill")

    spec = Supervisor.child_spec([], id="root")
    code = await otp.serve_node(spec, on_started=started, install_signals=False,
                                gc=GcPolicy(thresholds=(5_000, 5, 3)))

    assert code == 1  # the root was killed: the node stops
    assert seen["frozen"]
    assert seen["info"]["policy"] is True
    assert seen["frozen_count"] > 0
    assert seen["info"]["thresholds"] == [5_000, 5, 3]


async def test_without_a_policy_the_node_leaves_the_collector_alone() -> None:
    seen: dict[str, Any] = {}
    before = Node()

    async def started(root: otp.Pid) -> None:
        seen["tracked"] = tracked(before)
        seen["info"] = otp.node_info()["gc"]
        seen["frozen_count"] = gc.get_freeze_count()
        otp.exit(root, "kill")

    await otp.serve_node(Supervisor.child_spec([], id="root"), on_started=started,
                         install_signals=False)

    assert seen["tracked"]
    assert seen["info"]["policy"] is False
    assert seen["frozen_count"] == 0


def test_garbage_from_before_the_start_is_collected_not_frozen() -> None:
    dead = Node()
    gone = weakref.ref(dead)
    del dead

    apply_gc_policy(GcPolicy())

    assert gone() is None


def test_a_full_collection_over_the_bound_freezes_what_survived_it() -> None:
    apply_gc_policy(GcPolicy(freeze_after_ms=0.0))
    connection = Node()  # arrives after the start: the first freeze did not see it
    assert tracked(connection)

    gc.collect()

    assert not tracked(connection)
    assert gc_stats()["freezes"] == 1


def test_a_full_collection_within_the_bound_freezes_nothing() -> None:
    apply_gc_policy(GcPolicy(freeze_after_ms=60_000.0))
    connection = Node()

    gc.collect()

    assert tracked(connection)
    assert gc_stats()["freezes"] == 0


def test_cycles_left_unfrozen_are_still_collected() -> None:
    apply_gc_policy(GcPolicy(freeze_after_ms=60_000.0))
    short_lived = Node()
    gone = weakref.ref(short_lived)
    del short_lived

    gc.collect()

    assert gone() is None


def test_every_pause_is_counted_in_its_generation_and_bucket() -> None:
    apply_gc_policy(GcPolicy(freeze=False, thresholds=None))

    gc.collect(0)
    gc.collect(1)
    gc.collect(2)
    stats = gc_stats(reset=True)

    assert [total_pauses(stats, gen) for gen in range(3)] == [1, 1, 1]
    assert set(stats["generations"]["2"]["pauses"]) == {
        "<1ms", "1-5ms", "5-10ms", "10-50ms", "50-100ms", ">=100ms"}
    assert stats["longest_ms"] >= stats["generations"]["0"]["longest_ms"] > 0
    assert [total_pauses(gc_stats(), gen) for gen in range(3)] == [0, 0, 0]  # reset


def test_thresholds_are_set_and_given_back() -> None:
    before = gc.get_threshold()

    apply_gc_policy(GcPolicy(thresholds=(9_000, 4, 2)))
    during = gc.get_threshold()
    remove_gc_policy()

    assert during == (9_000, 4, 2)
    assert gc.get_threshold() == before
    assert gc_stats() == {"policy": False, "thresholds": list(before)}


def test_a_policy_is_checked_when_made() -> None:
    with pytest.raises(ValueError, match="freeze_after_ms"):
        GcPolicy(freeze_after_ms=-1)
    with pytest.raises(ValueError, match="thresholds"):
        GcPolicy(thresholds=(0, 10, 10))


def test_the_configured_policy_is_the_default_one() -> None:
    from hearth.cli import gc_policy
    from hearth.config import load_config

    assert gc_policy(load_config("config.toml", env={})) == GcPolicy()
    assert gc_policy(load_config(None, env={"HEARTH_NODE_GC_FREEZE": "false"})).freeze is False


def collection_finished(gen: int | None = None) -> asyncio.Future[int]:
    """A future that gets the generation of the next collection to finish (of ``gen``, if
    given); the hook removes itself."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    def hook(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and not done.done() and gen in (None, info["generation"]):
            done.set_result(info["generation"])
            gc.callbacks.remove(hook)

    gc.callbacks.append(hook)
    return done


async def test_a_tick_collects_young_cycles_the_allocation_count_never_would() -> None:
    # Frees balancing allocations (old connections closing as new ones open) keep the
    # allocation count under threshold0, so CPython starts no collection: the tick does.
    apply_gc_policy(GcPolicy(freeze=False, thresholds=(1_000_000, 5, 1), tick_ms=5.0))
    dead = Node()
    gone = weakref.ref(dead)
    del dead
    assert gone() is not None  # a cycle: reference counting alone does not free it

    await asyncio.wait_for(collection_finished(), 5.0)

    assert gone() is None
    assert gc_stats()["ticks"] >= 1


async def test_a_tick_runs_the_generation_the_counts_call_for() -> None:
    apply_gc_policy(GcPolicy(freeze=False, thresholds=(1_000_000, 5, 1), tick_ms=5.0))
    for _ in range(6):  # six young collections: generation 1's count passes its threshold 5
        gc.collect(0)

    generation = await asyncio.wait_for(collection_finished(), 5.0)
    after = await asyncio.wait_for(collection_finished(), 5.0)

    assert generation == 1
    assert after == 0  # generation 1 collected: its count starts again


async def test_a_tick_runs_full_collections_that_freeze_what_survived() -> None:
    apply_gc_policy(GcPolicy(freeze_after_ms=0.0, thresholds=(1_000_000, 0, 0), tick_ms=5.0))
    connection = Node()
    assert tracked(connection)

    await asyncio.wait_for(collection_finished(2), 5.0)

    assert not tracked(connection)
    assert gc_stats()["freezes"] >= 1


async def test_tick_ms_0_means_no_tick() -> None:
    apply_gc_policy(GcPolicy(freeze=False, thresholds=(1_000_000, 5, 1), tick_ms=0.0))

    gc.collect(0)

    assert gc_stats()["ticks"] == 0
    with pytest.raises(ValueError, match="tick_ms"):
        GcPolicy(tick_ms=-1)
