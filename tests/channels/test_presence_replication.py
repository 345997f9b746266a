"""A tracker shard in a cluster, against a replica of another node played by the test: what
it asks for, what it merges, and the diffs its own subscribers see.

The test speaks the replicas' protocol on the shard's channel (``phx_tracker:<shard>``) as
the same shard on another node would, and watches what the shard's local subscribers get.
"""

from __future__ import annotations

from typing import Any

import otp
from channels.presence import (
    Presence,
    Replication,
    _Beat,
    _Delta,
    _Transfer,
    _TransferReq,
    presence_spec,
)
from channels.serializer import Broadcast
from otp import PubSub

TRACKER = "test.replicated"
SHARD = f"{TRACKER}.0"
CHANNEL = f"phx_tracker:{SHARD}"
PUBSUB = "test.pubsub"
TOPIC = "room:lobby"
WAIT = 5.0
OTHER = f"{SHARD}@other-boot"


async def _tab() -> None:
    await otp.receive()


async def start(down_after: float = 30.0) -> None:
    otp.trap_exit(True)
    await PubSub.start_link(name=PUBSUB)
    PubSub.subscribe(PUBSUB, CHANNEL)
    await presence_spec(TRACKER, PUBSUB, shards=1, broadcast_window=0,
                        replication=Replication("here", 0.05, down_after)).start()
    PubSub.subscribe(PUBSUB, TOPIC)


def say(message: Any) -> None:
    """What the other node's shard sends (the test does not hear itself)."""
    PubSub.broadcast_from(PUBSUB, otp.self(), CHANNEL, message)


async def heard(kind: type, where: Any = None) -> Any:
    return await otp.receive(timeout=WAIT, match=lambda m: type(m) is kind
                             and (where is None or where(m)))


async def next_diff() -> dict[str, Any]:
    msg: Broadcast = await heard(Broadcast, lambda m: m.event == "presence_diff")
    return msg.payload


def meta(ref: str, status: str = "online") -> dict[str, Any]:
    return {"status": status, "phx_ref": ref, "phx_node": "there"}


def listed(presences: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    return {key: [(m["phx_ref"], m["phx_node"]) for m in p["metas"]]
            for key, p in presences.items()}


async def test_a_new_shard_asks_everyone_and_says_who_it_is() -> None:
    await start()

    assert (await heard(_TransferReq)).to == "*"
    beat = await heard(_Beat)
    assert (beat.node, beat.clock) == ("here", 0)


async def test_an_unknown_replica_is_asked_for_its_state_which_joins_once() -> None:
    await start()

    say(_Beat(OTHER, "there", 2))
    asked = await heard(_TransferReq, lambda m: m.to == OTHER)
    assert asked.sender.startswith(f"{SHARD}@")
    say(_Transfer(OTHER, "there", 2, [(TOPIC, "7", meta("r1"))]))

    diff = await next_diff()
    assert listed(diff["joins"]) == {"7": [("r1", "there")]} and diff["leaves"] == {}
    say(_Transfer(OTHER, "there", 2, [(TOPIC, "7", meta("r1"))]))  # again: nothing new
    say(_Delta(OTHER, "there", 2, 3, [("+", TOPIC, "8", meta("r2"))]))
    assert listed((await next_diff())["joins"]) == {"8": [("r2", "there")]}
    assert listed(await Presence.list(TRACKER, TOPIC)) == {"7": [("r1", "there")],
                                                           "8": [("r2", "there")]}


async def test_deltas_apply_in_order_and_a_gap_asks_for_the_whole_state() -> None:
    await start()
    say(_Transfer(OTHER, "there", 0, []))
    say(_Delta(OTHER, "there", 0, 2, [("+", TOPIC, "7", meta("r1")),
                                      ("+", TOPIC, "8", meta("r2"))]))
    assert set((await next_diff())["joins"]) == {"7", "8"}

    say(_Delta(OTHER, "there", 2, 3, [("-", TOPIC, "r1")]))
    assert listed((await next_diff())["leaves"]) == {"7": [("r1", "there")]}
    say(_Delta(OTHER, "there", 5, 6, [("+", TOPIC, "9", meta("r4"))]))  # 3..5 never came
    await heard(_TransferReq, lambda m: m.to == OTHER)
    # The state as it is at 6: r2 left meanwhile, r3 and r4 joined.
    say(_Transfer(OTHER, "there", 6, [(TOPIC, "8", meta("r3")), (TOPIC, "9", meta("r4"))]))

    diff = await next_diff()
    assert listed(diff["joins"]) == {"8": [("r3", "there")], "9": [("r4", "there")]}
    assert listed(diff["leaves"]) == {"8": [("r2", "there")]}
    say(_Transfer(OTHER, "there", 4, [(TOPIC, "7", meta("r1"))]))  # older: ignored
    say(_Delta(OTHER, "there", 6, 7, [("-", TOPIC, "r4")]))
    assert listed((await next_diff())["leaves"]) == {"9": [("r4", "there")]}
    assert listed(await Presence.list(TRACKER, TOPIC)) == {"8": [("r3", "there")]}


async def test_local_changes_go_out_as_deltas_with_the_node_in_each_meta() -> None:
    await start()
    tab = otp.spawn(_tab)

    ref = await Presence.track(TRACKER, tab, TOPIC, "42", {"status": "online"})

    delta = await heard(_Delta)
    assert (delta.from_clock, delta.to_clock, delta.node) == (0, 1, "here")
    assert delta.changes == [("+", TOPIC, "42", {"status": "online", "phx_ref": ref,
                                                 "phx_node": "here"})]
    otp.exit(tab, "kill")
    leave = await heard(_Delta, lambda m: m.from_clock == 1)
    assert (leave.to_clock, leave.changes) == (2, [("-", TOPIC, ref)])
    say(_TransferReq(delta.replica, OTHER))
    assert (await heard(_Transfer)).entries == []


async def test_a_restarted_node_replaces_its_old_replica_at_once() -> None:
    await start()
    say(_Transfer(OTHER, "there", 1, [(TOPIC, "7", meta("r1"))]))
    assert set((await next_diff())["joins"]) == {"7"}

    say(_Beat(f"{SHARD}@new-boot", "there", 0))

    assert listed((await next_diff())["leaves"]) == {"7": [("r1", "there")]}
    assert await Presence.list(TRACKER, TOPIC) == {}


async def test_a_silent_replica_is_down_and_its_presences_leave() -> None:
    await start(down_after=0.3)
    say(_Transfer(OTHER, "there", 1, [(TOPIC, "7", meta("r1"))]))
    assert set((await next_diff())["joins"]) == {"7"}

    # Nothing more from it: after down_after, the leave.
    assert listed((await next_diff())["leaves"]) == {"7": [("r1", "there")]}
    assert await Presence.list(TRACKER, TOPIC) == {}
