"""Children for the supervision tests: workers that write their starts and stops in a journal.

A test makes a child exit the way a user's code would (raise, return ``Stop``, get killed)
and waits for it with a monitor, never with a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import otp
from otp import ChildSpec, Down, Exit, GenServer, Ok, Pid, Reply, Stop

WAIT = 5.0  # upper bound on any wait, so a broken runtime fails a test instead of hanging it


@dataclass
class Journal:
    """What every child did, in order: ``("start", name)`` and ``("stop", name)`` events.

    ``fail_starts[name] = n`` makes the next ``n`` starts of ``name`` fail in ``init``;
    ``hold_terminate`` holds each ``terminate`` until the future is resolved, after telling
    ``listener`` ``("terminating", name)``.
    """

    events: list[tuple[str, str]] = field(default_factory=list)
    pids: dict[str, Pid] = field(default_factory=dict)
    stop_reasons: dict[str, list[Any]] = field(default_factory=dict)
    fail_starts: dict[str, int] = field(default_factory=dict)
    listener: Pid | None = None
    hold_terminate: asyncio.Future[None] | None = None

    def take(self) -> list[tuple[str, str]]:
        """The events so far, clearing them."""
        events, self.events = self.events, []
        return events


class Worker(GenServer):
    """A child that traps exits (so its ``terminate`` runs when its supervisor stops it)."""

    def init(self, journal: Journal, name: str, trap: bool = True) -> Any:
        if journal.fail_starts.get(name, 0) > 0:
            journal.fail_starts[name] -= 1
            return Stop(("start_refused", name))
        otp.trap_exit(trap)
        journal.events.append(("start", name))
        journal.pids[name] = otp.self()
        return Ok((journal, name))

    def handle_call(self, request: Any, from_: Any, state: Any) -> Any:
        return Reply(request, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        if request == "crash":
            raise RuntimeError("worker crashed on purpose")
        return Stop(request[1], state)

    def terminate(self, reason: Any, state: Any) -> Any:
        journal, name = state
        journal.events.append(("stop", name))
        journal.stop_reasons.setdefault(name, []).append(reason)
        if journal.hold_terminate is not None:
            return self._held(journal, name)
        return None

    async def _held(self, journal: Journal, name: str) -> None:
        assert journal.listener is not None and journal.hold_terminate is not None
        otp.send(journal.listener, ("terminating", name))
        await journal.hold_terminate


def worker(
    journal: Journal,
    name: str,
    restart: str = "permanent",
    shutdown: float | str | None = None,
    trap: bool = True,
) -> ChildSpec:
    """A spec for a :class:`Worker` whose id is ``name``."""
    return Worker.child_spec(
        journal, name, id=name, restart=restart, shutdown=shutdown, init_kwargs={"trap": trap}
    )


def stubborn(name: str, shutdown: float | str, listener: Pid) -> ChildSpec:
    """A coroutine child that traps exits and ignores every message, ``shutdown`` included.

    It tells ``listener`` ``("ready", name, pid)`` once it traps exits.
    """

    async def body() -> None:
        otp.trap_exit(True)
        otp.send(listener, ("ready", name, otp.self()))
        while True:
            await otp.receive()

    async def start() -> Pid:
        return otp.spawn_link(body)

    return ChildSpec(id=name, start=start, shutdown=shutdown)


async def expect(match: Callable[[Any], bool]) -> Any:
    """The first message in the test process's mailbox that ``match`` accepts."""
    return await otp.receive(timeout=WAIT, match=match)


async def down_of(ref: otp.Ref) -> Any:
    """Wait for the ``Down`` of the monitor ``ref``; returns the exit reason."""
    down: Down = await expect(lambda m: type(m) is Down and m.ref is ref)
    return down.reason


async def exit_of(pid: Pid) -> Any:
    """Wait for the ``Exit`` from the linked ``pid`` (the test traps exits); its reason."""
    msg: Exit = await expect(lambda m: type(m) is Exit and m.pid == pid)
    return msg.reason


async def make_exit(pid: Pid, how: Any) -> Any:
    """Make the child ``pid`` exit and wait until it has; returns its exit reason.

    ``how`` is ``"crash"`` (an exception in a callback), ``"kill"``, or any other value: the
    child returns ``Stop(how)``.
    """
    ref = otp.monitor(pid)
    if how == "crash":
        otp.cast(pid, "crash")
    elif how == "kill":
        otp.exit(pid, "kill")
    else:
        otp.cast(pid, ("stop", how))
    return await down_of(ref)


async def pids_of(sup: Any) -> dict[Any, Pid | None]:
    """``{id: pid}`` of the supervisor's children, in start order.

    The supervisor handles its mailbox in order, so this also waits until it has dealt with
    every exit that reached it before the call.
    """
    return {row.id: row.pid for row in await otp.Supervisor.which_children(sup)}
