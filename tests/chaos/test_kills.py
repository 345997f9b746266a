"""Kill each child of a real node's tree under load; the node must come back whole.

A fresh ``hearth serve`` per kill (it starts in about 0.4 s), so a kill that breaks the node
cannot spill into the next one. Four browser tabs (ann on two devices, ben, cat) are signed in
and joined to ``room:lobby``, each posting a message every 50 ms. The child is killed with the
admin endpoint (``hearth kill NAME``), and once the tree shows it running again, what people
would notice is checked, each within :data:`RECOVERY` seconds, and every failure is reported:

- every tab receives a message posted (through the API) after the restart;
- every tab's presence, and a newcomer's, lists everyone still joined, with each of their
  tabs;
- every tab's messages are acknowledged again;
- every message that was acknowledged is in the database;
- the node's threads and descriptors are back to what they were before the kill;
- logging out closes every socket of that user;
- SIGTERM stops the node, with status 0, within its shutdown time.

The node itself is stopped under the same load too: SIGTERM (status 0, nothing acknowledged
lost) and kill -9 (the database whole, nothing acknowledged lost).

Clients reconnect and rejoin on phoenix.js's schedules (a channel's first rejoin comes after
1 s), which is why :data:`RECOVERY` leaves room for one rejoin and a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from ._node import SHUTDOWN_TIMEOUT, ServedNode, children, serving
from ._room import Lobby, Member, lobby, log_out

# The served nodes keep their own SQLite file, which these tests read and check (PRAGMA
# integrity_check); tests/store/test_outage.py is the PostgreSQL server killed under writers.
pytestmark = pytest.mark.sqlite_only("the served nodes' own SQLite file is read and checked")

KILLS = (
    "hearth.repo",
    "hearth.pubsub",
    "hearth.registry",
    "hearth.presence",
    "hearth.presence.0",
    "hearth.presence.1",
    "hearth.presence.2",
    "hearth.presence.3",
    "dirty",
    "dirty.0",
    "dirty.1",
    "hearth.rate_limiter",
    "hearth.mailer",
    "hearth.tasks",
    "hearth.sessions",
    "hearth.live",
    "hearth.endpoint",
)
"""Every named process of the tree at start: root children, presence shards, dirty workers."""

RESTART = 5.0
"""Seconds the supervisor gets to show the killed child running again."""
RECOVERY = 5.0
"""Seconds after the restart for each check: phoenix.js rejoins a crashed channel after 1 s,
then 2 s more if that fails."""
EXIT = SHUTDOWN_TIMEOUT + 5.0
"""Seconds SIGTERM gets: the shutdown time, and interpreter start-up and teardown."""
BASELINE_SAMPLES = 10
PROBE_PACE = 0.1
"""Seconds between messages posted through the API while waiting for everyone to get one."""


async def eventually(condition: Callable[[], bool | Awaitable[bool]], within: float,
                     pace: float = 0.02) -> bool:
    """Poll ``condition`` every ``pace`` seconds until it holds (True) or ``within`` seconds
    pass (False)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return True
        if loop.time() >= end:
            return False
        await asyncio.sleep(pace)  # polling pace, not synchronisation


class Report:
    """The failures of one kill, each as what a user would see; all are reported at once."""

    def __init__(self, when: str, node: ServedNode) -> None:
        self.when = when
        self.node = node
        self.failures: list[str] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except AssertionError as e:
            # Only the message: pytest's rewritten "assert ..." line says nothing to a user.
            self.failures.append(f"{self.when}, {str(e).partition(chr(10) + 'assert ')[0]}")

    def raise_failures(self) -> None:
        if self.failures:
            pytest.fail(
                "\n".join(f"- {f}" for f in self.failures)
                + f"\n\nthe node's log, last lines:\n{self.node.log_tail()}",
                pytrace=False,
            )


# -- the checks --------------------------------------------------------------------------------


async def everyone_receives_a_broadcast(room: Lobby, label: str) -> None:
    marks = {id(m): len(m.bodies) for m in room.members}

    def reached(m: Member) -> bool:
        return any(b.startswith(f"probe {label} ") for b in m.bodies[marks[id(m)]:])

    async def all_reached() -> bool:
        if all(reached(m) for m in room.members):
            return True
        await room.probe(label)  # keep posting: a tab that is rejoining misses one
        return False

    if not await eventually(all_reached, RECOVERY, pace=PROBE_PACE):
        missing = [m.name for m in room.members if not reached(m)]
        errors = f" (the API answered {room.probe_errors[-1]})" if room.probe_errors else ""
        raise AssertionError(
            f"{', '.join(missing)} got no broadcast of the {room.probes} messages posted "
            f"in the room within {RECOVERY:g} s{errors}"
        )


async def presence_is_complete(room: Lobby) -> None:
    """Every tab, and a reader who opens the room now, lists every joined tab."""
    names = {str(m.user_id): m.user for m in room.members}

    def named(listed: dict[str, int] | None) -> dict[str, int] | None:
        return None if listed is None else {names.get(k, k): n for k, n in listed.items()}

    newcomer: dict[str, int] | None = None

    async def complete() -> bool:
        nonlocal newcomer
        expected = room.expected_presence()
        if len(expected) != len(names) or any(m.listed() != expected for m in room.members):
            return False
        newcomer = await room.newcomers_view(RECOVERY)
        return newcomer == expected

    if not await eventually(complete, RECOVERY):
        seen = "; ".join(f"{m.name} ({m.lobby.state}) lists {named(m.listed())}"
                         for m in room.members)
        shown = str(named(newcomer)) if newcomer is not None else "nothing"
        raise AssertionError(
            f"presence is not {named(room.expected_presence())} (user: tabs joined) within "
            f"{RECOVERY:g} s: a reader opening the room is shown {shown}; {seen}"
        )


async def everyone_can_post(room: Lobby) -> None:
    marks = {id(m): m.acks for m in room.members}
    if not await eventually(lambda: all(m.acks > marks[id(m)] for m in room.members),
                            RECOVERY):
        stuck = [f"{m.name} (last answer: {m.last_answer})" for m in room.members
                 if m.acks == marks[id(m)]]
        raise AssertionError(
            f"no message of {', '.join(stuck)} was acknowledged within {RECOVERY:g} s"
        )


async def no_acknowledged_message_lost(room: Lobby) -> None:
    stored = await room.node.stored_messages()
    acked = {**room.acked, **{i: b for m in room.members for i, b in m.acked.items()}}
    lost = {i: b for i, b in acked.items() if stored.get(i) != b}
    assert not lost, (
        f"{len(lost)} of {len(acked)} acknowledged messages are not in the room's history: "
        f"{sorted(lost.items())[:5]}"
    )


async def threads_and_descriptors_return(
    node: ServedNode, threads: int, fds: int, targets: list[str]
) -> None:
    def back() -> bool:
        return node.threads() <= threads and node.descriptors() <= fds

    if not await eventually(back, RECOVERY):
        now = node.descriptor_targets()
        extra = [t for t in now if t not in targets or now.count(t) > targets.count(t)]
        raise AssertionError(
            f"the node holds {node.threads()} threads and {node.descriptors()} descriptors "
            f"{RECOVERY:g} s on, {threads} and {fds} before the kill; open now and not "
            f"then (or more often): {sorted(set(extra))}"
        )


async def logout_closes_every_socket(node: ServedNode, room: Lobby) -> None:
    anns = [m for m in room.members if m.user == "ann"]
    marks = {id(m): len(m.closes) for m in anns}
    await log_out(node, anns[0])
    if not await eventually(lambda: all(len(m.closes) > marks[id(m)] for m in anns),
                            RECOVERY):
        still = [m.name for m in anns if len(m.closes) == marks[id(m)]]
        raise AssertionError(
            f"ann logged out on her {anns[0].device}, and {len(still)} of her {len(anns)} "
            f"sockets ({', '.join(still)}) were still open {RECOVERY:g} s later"
        )


async def sigterm_exits_0(node: ServedNode) -> None:
    code = await node.terminate(EXIT)
    said = " although its log says it stopped" if any(
        line.rstrip().endswith(f"node {node.config.node.name} stopped") for line in node.log
    ) else ""
    assert code is not None, (
        f"SIGTERM left the node running {EXIT:g} s later{said} (its shutdown time is "
        f"{SHUTDOWN_TIMEOUT:g} s)"
    )
    assert code == 0, f"SIGTERM stopped the node with exit status {code}, not 0"


async def why_not_running(node: ServedNode, killed: str, old: str) -> str:
    """What an operator finds when ``killed`` does not come back."""
    if not node.running:
        return f"the node exited with status {node.proc.returncode}"
    try:
        now = await node.pid_of(killed)
    except aiohttp.ClientError as e:
        return f"the node no longer answers its admin endpoint ({e!r})"
    if now == old:
        status = f"`hearth kill {killed}` did not take: it still runs as {old}"
        if node.kill_unanswered:
            status += " (and the kill request was cut off without an answer)"
        return status
    return "the tree does not show it running"


# -- the tests ---------------------------------------------------------------------------------


async def test_every_named_process_of_the_tree_is_killed_here(tmp_path: Path) -> None:
    async with serving(tmp_path) as node:
        tree = await node.tree()
    named = {c["process"]["name"] for c in children(tree)
             if c.get("process") and c["process"].get("name")}
    assert named == set(KILLS), (
        f"in the tree but not killed here: {sorted(named - set(KILLS))}; "
        f"killed here but not in the tree: {sorted(set(KILLS) - named)}"
    )


@pytest.mark.parametrize("killed", KILLS)
async def test_a_killed_process_leaves_the_node_whole(tmp_path: Path, killed: str) -> None:
    async with serving(tmp_path) as node, lobby(node) as room:
        # Before any kill: the room works, or the test itself is broken.
        before = Report("before any kill", node)
        with before.check():
            await presence_is_complete(room)
        with before.check():
            await everyone_receives_a_broadcast(room, "before")
        before.raise_failures()

        room.start_load()
        with before.check():
            await everyone_can_post(room)
        before.raise_failures()
        # The least seen over a few samples: a request just answered may hold a descriptor.
        threads, fds = node.threads(), node.descriptors()
        targets = node.descriptor_targets()
        for _ in range(BASELINE_SAMPLES):
            await asyncio.sleep(0.02)  # sampling pace, not synchronisation
            threads, fds = min(threads, node.threads()), min(fds, node.descriptors())
            if len(seen := node.descriptor_targets()) <= len(targets):
                targets = seen

        old = await node.kill(killed)
        new = await node.restarted(killed, old, RESTART)
        report = Report(f"after {killed} was killed and restarted", node)
        if new is None:
            status = await why_not_running(node, killed, old)
            report.failures.append(f"{killed} was not restarted within {RESTART:g} s: {status}")
            report.raise_failures()

        with report.check():
            await everyone_receives_a_broadcast(room, "after")
        with report.check():
            await presence_is_complete(room)
        with report.check():
            await everyone_can_post(room)
        await room.stop_load()
        with report.check():
            await no_acknowledged_message_lost(room)
        with report.check():
            await threads_and_descriptors_return(node, threads, fds, targets)
        with report.check():
            await logout_closes_every_socket(node, room)
        with report.check():
            await sigterm_exits_0(node)
        report.raise_failures()


async def test_sigterm_under_load_exits_0_and_keeps_every_acknowledged_message(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path) as node, lobby(node) as room:
        room.start_load()
        await everyone_can_post(room)

        code = await node.terminate(EXIT)
        await room.stop_load()

        assert code == 0, (
            f"SIGTERM under load: the node {'is still running' if code is None else 'exited'}"
            f" {EXIT:g} s later{'' if code is None else f' with status {code}'}\n"
            + node.log_tail()
        )
        await no_acknowledged_message_lost(room)


async def test_kill_9_under_load_keeps_every_acknowledged_message(tmp_path: Path) -> None:
    async with serving(tmp_path) as node, lobby(node) as room:
        room.start_load()
        await everyone_can_post(room)

        node.proc.kill()
        await node.proc.wait()
        await room.stop_load()

        assert await node.integrity() == "ok"
        await no_acknowledged_message_lost(room)
