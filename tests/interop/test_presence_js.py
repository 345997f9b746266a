"""Presence (protocol.md §2) as the phoenix.js ``Presence`` helper sees it: syncState on
every (re)join, syncDiff for joins and leaves, onJoin / onLeave, and a list that matches the
server's at every step.

Each Node process is one connection of one user (``presence.mjs``); its ``sync`` events carry
the helper's list as ``{key: [phx_ref, ...]}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.presence import Presence

from ..channels.conftest import Server
from ._app import TRACKER
from .conftest import Run, Script

TOPIC = "presence:lobby"


async def server_view() -> dict[str, list[str]]:
    listed = await Presence.list(TRACKER, TOPIC)
    return {key: sorted(m["phx_ref"] for m in p["metas"]) for key, p in listed.items()}


def shape(**counts: int) -> Any:
    """A ``where`` for ``sync`` events: exactly these keys, with these numbers of metas."""
    return lambda e: {k: len(refs) for k, refs in e["list"].items()} == counts


def view(event: dict[str, Any]) -> dict[str, list[str]]:
    return {key: sorted(refs) for key, refs in event["list"].items()}


async def settled(
    scripts: list[Script], also: Callable[[dict[str, Any]], bool] | None = None, **counts: int
) -> dict[str, list[str]]:
    """Wait until every helper lists ``counts`` (and ``also`` holds); their lists, which must
    be the server's."""
    wanted = shape(**counts)
    views = [
        view(await s.expect("sync", where=lambda e: wanted(e) and (also is None or also(e))))
        for s in scripts
    ]
    expected = await server_view()
    for script, seen in zip(scripts, views, strict=True):
        assert seen == expected, f"{script.name}: {seen} != server {expected}"
    return expected


async def test_presence_joins_tabs_kills_and_crashes_keep_every_helper_in_sync(
    interop: Server, run_js: Run
) -> None:
    ann1 = await run_js("presence.mjs", interop.url, "ann", "ann1", TOPIC, name="ann1")
    first = await settled([ann1], ann=1)
    [a1] = first["ann"]

    # Two users: each helper gets the other's join (onJoin with no current presence).
    bob = await run_js("presence.mjs", interop.url, "bob", "bob", TOPIC, name="bob")
    both = await settled([ann1, bob], ann=1, bob=1)
    [b1] = both["bob"]
    [joined] = ann1.seen("presence_join", key="bob")
    assert joined["current"] == [] and joined["joined"] == [b1]

    # A second connection for ann: one key, two metas, each with its own phx_ref.
    ann2 = await run_js("presence.mjs", interop.url, "ann", "ann2", TOPIC, name="ann2")
    tabs = await settled([ann1, bob, ann2], ann=2, bob=1)
    [a2] = [ref for ref in tabs["ann"] if ref != a1]
    for script in (ann1, bob):
        [tab] = [e for e in script.seen("presence_join", key="ann") if a2 in e["joined"]]
        assert tab["current"] == [a1] and tab["joined"] == [a2]

    # ann2's connection dies without a goodbye (SIGKILL): its meta leaves, ann stays.
    await ann2.kill()
    after_kill = await settled([ann1, bob], ann=1, bob=1)
    assert after_kill == {"ann": [a1], "bob": [b1]}
    for script in (ann1, bob):
        [left] = script.seen("presence_leave", key="ann")
        assert left["left"] == [a2] and left["remaining"] == [a1]

    # bob's channel crashes; it rejoins by itself with a new join_ref and a new phx_ref.
    # ann sees bob's old meta leave and the new one join; bob's own helper, resynced by the
    # presence_state after the rejoin, agrees with ann and the server.
    before = bob.seen("sync")[-1]["join_ref"]
    await bob.send(cmd="crash")
    final = await settled([ann1, bob], lambda e: e["list"]["bob"] != [b1], ann=1, bob=1)
    assert bob.seen("sync")[-1]["join_ref"] != before
    [b2] = final["bob"]
    assert b2 != b1 and final["ann"] == [a1]
    [gone] = ann1.seen("presence_leave", key="bob")
    assert gone["left"] == [b1]
    [back] = [e for e in ann1.seen("presence_join", key="bob") if e["joined"] == [b2]]
    assert back["current"] in ([], [b1])  # [b1]: the leave and the join came in one diff
    # bob's own helper: the resync replaced b1 by b2 (a leave and a join of bob).
    assert [e["left"] for e in bob.seen("presence_leave", key="bob")] == [[b1]]

    for script in (ann1, bob):
        await script.send(cmd="exit")
        await script.finish()
