"""Presence trackers: what ``list`` shows and which diffs go out, as a subscriber sees them."""

from __future__ import annotations

from typing import Any

import pytest

import otp
from channels.presence import Presence, presence_spec
from channels.serializer import Broadcast
from otp import Pid, PubSub

TRACKER = "test.presence"
PUBSUB = "test.pubsub"
TOPIC = "room:lobby"
WAIT = 5.0


async def _tab() -> None:
    """A stand-in for a channel process: lives until told to go (or to crash), or killed."""
    if await otp.receive() == "crash":
        raise RuntimeError("a tab crashed")


async def start_tracker(shards: int = 2, window: float = 0, fetch: Any = None) -> None:
    """PubSub and a tracker, linked to the test process (not a fixture: a fixture's task
    ends after setup, and the tree linked to it would stop with it); the test subscribes."""
    otp.trap_exit(True)
    await PubSub.start_link(name=PUBSUB)
    await presence_spec(TRACKER, PUBSUB, shards=shards, broadcast_window=window,
                        fetch=fetch).start()
    PubSub.subscribe(PUBSUB, TOPIC)


async def next_diff() -> dict[str, Any]:
    msg: Broadcast = await otp.receive(
        timeout=WAIT, match=lambda m: type(m) is Broadcast and m.event == "presence_diff"
    )
    return msg.payload  # type: ignore[no-any-return]


def refs(presence: dict[str, Any]) -> list[str]:
    return [meta["phx_ref"] for meta in presence["metas"]]


async def test_one_key_holds_a_meta_per_tab_each_with_its_own_ref() -> None:
    # A zero window: every change is its own diff, so the test sees each one.
    await start_tracker()
    tab1, tab2 = otp.spawn(_tab), otp.spawn(_tab)
    ref1 = await Presence.track(TRACKER, tab1, TOPIC, "42", {"status": "online"})
    ref2 = await Presence.track(TRACKER, tab2, TOPIC, 42, {"status": "online"})

    listed = await Presence.list(TRACKER, TOPIC)
    assert list(listed) == ["42"]
    assert refs(listed["42"]) == [ref1, ref2]
    assert ref1 != ref2
    first = await next_diff()
    assert refs(first["joins"]["42"]) == [ref1] and first["leaves"] == {}


async def test_an_update_is_a_leave_and_a_join_naming_the_previous_ref() -> None:
    # A zero window: every change is its own diff, so the test sees each one.
    await start_tracker()
    tab = otp.spawn(_tab)
    old = await Presence.track(TRACKER, tab, TOPIC, "7", {"status": "online"})
    await next_diff()

    new = await Presence.update(TRACKER, tab, TOPIC, "7", {"status": "away"})

    diff = await next_diff()
    assert diff["leaves"]["7"]["metas"] == [{"status": "online", "phx_ref": old}]
    assert diff["joins"]["7"]["metas"] == [
        {"status": "away", "phx_ref": new, "phx_ref_prev": old}
    ]
    assert (await Presence.get_by_key(TRACKER, TOPIC, "7")) == diff["joins"]["7"]


@pytest.mark.parametrize("reason", ["returns", "crash", "kill", "shutdown"])
async def test_a_process_that_exits_for_any_reason_leaves(reason: str) -> None:
    # A zero window: every change is its own diff, so the test sees each one.
    await start_tracker()
    tab, other = otp.spawn(_tab), otp.spawn(_tab)
    ref = await Presence.track(TRACKER, tab, TOPIC, "1", {})
    await Presence.track(TRACKER, other, TOPIC, "2", {})
    await next_diff()
    await next_diff()

    if reason == "returns":
        otp.send(tab, "go")
    elif reason == "crash":
        otp.send(tab, "crash")
    else:
        otp.exit(tab, reason)

    diff = await next_diff()
    assert diff == {"joins": {}, "leaves": {"1": {"metas": [{"phx_ref": ref}]}}}
    assert list(await Presence.list(TRACKER, TOPIC)) == ["2"]


async def test_untrack_publishes_a_leave_and_other_topics_are_untouched() -> None:
    # A zero window: every change is its own diff, so the test sees each one.
    await start_tracker()
    tab = otp.spawn(_tab)
    await Presence.track(TRACKER, tab, TOPIC, "1", {})
    await Presence.track(TRACKER, tab, "room:other", "1", {})
    await next_diff()

    await Presence.untrack(TRACKER, tab, TOPIC, "1")

    diff = await next_diff()
    assert list(diff["leaves"]) == ["1"]
    assert await Presence.list(TRACKER, TOPIC) == {}
    assert list(await Presence.list(TRACKER, "room:other")) == ["1"]


async def test_a_burst_of_joins_is_coalesced_into_few_diffs() -> None:
    await start_tracker(shards=1, window=0.05)
    tabs = [otp.spawn(_tab) for _ in range(1000)]

    for i, tab in enumerate(tabs):
        await Presence.track(TRACKER, tab, TOPIC, str(i), {})

    joined: set[str] = set()
    diffs = 0
    while len(joined) < 1000:
        joined.update((await next_diff())["joins"])
        diffs += 1
    assert diffs < 50  # a thousand joins, a handful of broadcasts
    otp.send(otp.self(), "marker")
    assert await otp.receive(timeout=WAIT) == "marker"  # and no stray diff after them


async def test_the_fetch_hook_enriches_states_and_diffs() -> None:
    calls: list[list[str]] = []

    async def fetch(topic: str, presences: dict[str, Any]) -> dict[str, Any]:
        calls.append(sorted(presences))  # one call per state or diff, not per key
        return {key: {**p, "user": {"name": f"user {key}"}} for key, p in presences.items()}

    await start_tracker(shards=1, fetch=fetch)
    a, b = otp.spawn(_tab), otp.spawn(_tab)
    await Presence.track(TRACKER, a, TOPIC, "1", {})
    await Presence.track(TRACKER, b, TOPIC, "2", {})

    assert (await next_diff())["joins"]["1"]["user"] == {"name": "user 1"}
    listed = await Presence.list(TRACKER, TOPIC)
    assert {k: v["user"]["name"] for k, v in listed.items()} == {"1": "user 1", "2": "user 2"}
    assert ["1", "2"] in calls


async def test_a_dead_process_is_not_tracked() -> None:
    # A zero window: every change is its own diff, so the test sees each one.
    await start_tracker()
    tab = otp.spawn(_tab)
    ref = otp.monitor(tab)
    otp.exit(tab, "kill")
    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)

    assert await Presence.track(TRACKER, tab, TOPIC, "1", {}) == ""
    assert await Presence.list(TRACKER, TOPIC) == {}


async def test_shards_report_their_replica_and_clock() -> None:
    # A zero window: every change is its own diff, so the test sees each one.
    await start_tracker()
    tab: Pid = otp.spawn(_tab)
    await Presence.track(TRACKER, tab, TOPIC, "1", {})
    infos = [otp.process_info(f"{TRACKER}.{i}") for i in range(2)]
    assert all(info is not None and info["behaviour"] == "presence_shard" for info in infos)
    owner = [i for i in infos if i and i["presences"] == 1]
    assert len(owner) == 1 and owner[0]["clock"] >= 1 and "@" in owner[0]["replica"]


async def test_a_restarted_shard_lists_everyone_still_joined_and_sends_the_leaves_it_missed(
) -> None:
    # One shard, so every presence lives on the shard that is killed.
    await start_tracker(shards=1)
    stays, goes = otp.spawn(_tab), otp.spawn(_tab)
    stay_ref = await Presence.track(TRACKER, stays, TOPIC, "1", {"status": "online"})
    go_ref = await Presence.track(TRACKER, goes, TOPIC, "2", {"status": "online"})
    await next_diff(), await next_diff()
    shard = otp.whereis(f"{TRACKER}.0")
    assert shard is not None

    otp.exit(shard, "kill")
    otp.exit(goes, "kill")  # leaves while no shard is watching
    (row,) = await otp.Supervisor.which_children(TRACKER)  # answered after the restart

    diff = await next_diff()
    assert row.pid is not None and row.pid != shard
    assert diff == {"joins": {}, "leaves": {"2": {"metas": [{"status": "online",
                                                             "phx_ref": go_ref}]}}}
    listed = await Presence.list(TRACKER, TOPIC)
    assert list(listed) == ["1"] and refs(listed["1"]) == [stay_ref]
    late = otp.spawn(_tab)
    await Presence.track(TRACKER, late, TOPIC, "3", {"status": "online"})
    assert set((await next_diff())["joins"]) == {"3"}
    otp.exit(stays, "kill")
    assert set((await next_diff())["leaves"]) == {"1"}
