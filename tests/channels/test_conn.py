"""A WebSocket connection writes the first frame of a loop turn at once and the frames after
it, in order, in one write at the next turn; closing writes them first."""

from __future__ import annotations

import asyncio

from channels.conn import CLOSE_GOING_AWAY, WebSocketConn, metrics
from channels.serializer import TEXT, Message, encode, ws_frame


class Transport:
    """Records writes; never closing, never buffering."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


def frame(n: int) -> bytes:
    return ws_frame(encode(Message("1", None, "room:a", "msg", {"n": n}), 2), TEXT)


def conn_on(transport: Transport, closed: list[int]) -> WebSocketConn:
    return WebSocketConn(2, transport, 1 << 20,  # type: ignore[arg-type]
                         lambda code, _reason: closed.append(code))


async def test_the_frames_after_the_first_of_a_turn_go_out_together_in_order() -> None:
    transport, closed = Transport(), []
    conn = conn_on(transport, closed)
    before = metrics["frames_out"]

    for n in range(3):
        conn.push("1", "room:a", "msg", {"n": n})
    assert transport.writes == [frame(0)]

    await asyncio.sleep(0)
    assert transport.writes == [frame(0), frame(1) + frame(2)]
    assert metrics["frames_out"] - before == 3

    conn.push("1", "room:a", "msg", {"n": 3})  # a new turn: at once
    assert transport.writes == [frame(0), frame(1) + frame(2), frame(3)]


async def test_closing_writes_what_the_turn_held_before_the_close() -> None:
    transport, closed = Transport(), []
    conn = conn_on(transport, closed)

    conn.push("1", "room:a", "msg", {"n": 0})
    conn.push("1", "room:a", "msg", {"n": 1})
    conn.close(CLOSE_GOING_AWAY, "bye")

    assert transport.writes == [frame(0), frame(1)]
    assert closed == [CLOSE_GOING_AWAY]
    await asyncio.sleep(0)
    conn.push("1", "room:a", "msg", {"n": 2})
    assert transport.writes == [frame(0), frame(1)]
