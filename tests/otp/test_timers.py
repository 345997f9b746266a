"""Timers: send_after delivers on the loop's clock; cancel_timer stops it and says how early."""

from __future__ import annotations

import asyncio
from typing import Any

import otp

from ._mailbox import expect, nothing_before


async def test_send_after_delivers_the_message() -> None:
    otp.send_after(otp.self(), "tick", 0.01)

    assert await expect() == "tick"


async def test_send_after_delivers_in_order_of_due_time() -> None:
    me = otp.self()
    otp.send_after(me, "third", 0.03)
    otp.send_after(me, "first", 0.01)
    otp.send_after(me, "second", 0.02)

    assert [await expect() for _ in range(3)] == ["first", "second", "third"]


async def test_send_after_does_not_deliver_before_its_delay() -> None:
    me = otp.self()
    otp.send_after(me, "late", 0.03)

    otp.send(me, "now")

    assert await expect() == "now"
    assert await expect() == "late"


async def test_send_after_resolves_a_name_when_it_fires() -> None:
    otp.send_after("timer_target", "found you", 0.01)

    otp.register("timer_target", otp.self())

    assert await expect() == "found you"


async def test_send_after_to_a_gone_target_is_dropped_without_error() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        otp.send_after("never_registered", "lost", 0.01)
        await nothing_before("marker", delay=0.02)
    finally:
        loop.set_exception_handler(None)

    assert errors == []


async def test_cancel_timer_returns_the_time_left_and_prevents_delivery() -> None:
    me = otp.self()
    ref = otp.send_after(me, "cancelled", 0.05)

    left = otp.cancel_timer(ref)

    assert left is not False
    assert 0 < left <= 0.05
    await nothing_before("marker", delay=0.1)


async def test_cancel_timer_after_delivery_returns_false() -> None:
    ref = otp.send_after(otp.self(), "delivered", 0.01)
    assert await expect() == "delivered"

    assert otp.cancel_timer(ref) is False


async def test_cancel_timer_of_a_timer_due_now_returns_false_once_it_fired() -> None:
    ref = otp.send_after(otp.self(), "now", 0)
    assert await expect() == "now"

    assert otp.cancel_timer(ref) is False


async def test_cancel_timer_twice_returns_false_the_second_time() -> None:
    ref = otp.send_after(otp.self(), "x", 0.05)

    assert otp.cancel_timer(ref) is not False
    assert otp.cancel_timer(ref) is False


async def test_a_timer_reaches_a_gen_server_as_info() -> None:
    class Ticker(otp.GenServer):
        def init(self, owner: otp.Pid) -> Any:
            otp.send_after(otp.self(), "tick", 0.01)
            return otp.Ok(owner)

        def handle_info(self, msg: Any, owner: otp.Pid) -> Any:
            otp.send(owner, ("got", msg))
            return otp.NoReply(owner)

    await Ticker.start(otp.self())

    assert await expect() == ("got", "tick")
