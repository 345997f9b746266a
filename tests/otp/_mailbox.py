"""Waiting on the test process's mailbox: the one way these tests synchronise.

The test task becomes a process on its first ``otp.self()``/``monitor``/``receive``; from then
on a test waits for what it expects to see (a message, a ``Down``, an ``Exit``), bounded by
``WAIT`` so a broken runtime fails the test instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import otp
from otp import Down, Exit, Pid, Ref

WAIT = 5.0


async def expect(match: Callable[[Any], bool] | None = None) -> Any:
    """The first message in the test process's mailbox (that ``match`` accepts)."""
    return await otp.receive(timeout=WAIT, match=match)


async def down_of(ref: Ref) -> Any:
    """Wait for the ``Down`` of the monitor ``ref``; returns the exit reason."""
    down: Down = await expect(lambda m: type(m) is Down and m.ref is ref)
    return down.reason


async def exit_of(pid: Pid) -> Any:
    """Wait for the ``Exit`` from the linked ``pid`` (the test traps exits); its reason."""
    msg: Exit = await expect(lambda m: type(m) is Exit and m.pid == pid)
    return msg.reason


async def nothing_before(marker: Any, delay: float = 0.0) -> None:
    """Assert the mailbox holds nothing before ``marker``, sent to ourselves after ``delay``.

    Exit signals, ``Down`` messages and timers deliver synchronously or on the loop's clock,
    so a marker sent after them arrives after anything they would have delivered.
    """
    if delay:
        otp.send_after(otp.self(), marker, delay)
    else:
        otp.send(otp.self(), marker)
    msg = await expect()
    assert msg == marker, f"{msg!r} arrived before {marker!r}"


async def stop_tree(pid: Pid, reason: Any = "shutdown") -> Any:
    """Stop a server the test started with ``start_link`` the way its parent would: an exit
    signal from the parent, which runs ``terminate``. Returns the server's exit reason."""
    otp.trap_exit(True)
    ref = otp.monitor(pid)
    otp.exit(pid, reason)
    return await down_of(ref)
