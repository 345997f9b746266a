"""A WebSocket response that refuses unmasked client frames (RFC 6455 §5.1).

Every frame a client sends must be masked, and a server that gets an unmasked one must close
the connection (1002). aiohttp's frame parser unmasks what is masked and accepts the rest,
so :class:`MaskedWebSocketResponse` puts a scanner in front of it: the scanner reads each
frame's header (two to fourteen bytes) as the bytes arrive, skips its payload, and passes
the bytes on untouched. The frames before an unmasked one are delivered; the unmasked one
and what follows are not, and ``receive`` closes the connection with 1002.
"""

from __future__ import annotations

from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

__all__ = ["MaskedWebSocketResponse"]

_MASKED = 0x80
_LENGTH = 0x7F


class _MaskScanner:
    """Sits where aiohttp's protocol feeds its WebSocket parser; see the module docstring."""

    __slots__ = ("head", "parser", "queue", "refused", "skip")

    def __init__(self) -> None:
        self.parser: Any = None  # aiohttp's parser and its queue, set once they exist
        self.queue: Any = None
        self.skip = 0  # payload bytes of the current frame still to come
        self.head = b""  # the start of a header cut off at the end of the last chunk
        self.refused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.refused:
            return True, b""
        bad = self.scan(data)
        if bad is None:
            result: tuple[bool, bytes] = self.parser.feed_data(data)
            return result
        if bad:
            self.parser.feed_data(data[:bad])
        self.refuse()
        return True, b""

    def refuse(self) -> None:
        """Deliver nothing more; the next ``receive`` closes the connection with 1002."""
        self.refused = True
        self.queue.set_exception(
            WebSocketError(WSCloseCode.PROTOCOL_ERROR, "client frames must be masked")
        )

    def feed_eof(self) -> None:
        self.parser.feed_eof()

    def scan(self, data: bytes) -> int | None:
        """Follow the frames through ``data``; the offset in ``data`` where an unmasked
        frame starts, or ``None`` if there is none."""
        size = len(data)
        if not self.head and self.skip >= size:
            self.skip -= size
            return None
        carried = len(self.head)
        buf = self.head + data if carried else data
        pos = 0 if carried else self.skip
        self.head, self.skip = b"", 0
        end = len(buf)
        while pos < end:
            if end - pos < 2:
                self.head = buf[pos:]
                break
            second = buf[pos + 1]
            if not second & _MASKED:
                return max(pos - carried, 0)
            length = second & _LENGTH
            extra = 2 if length == 126 else 8 if length == 127 else 0
            header = 2 + extra + 4
            if end - pos < header:
                self.head = buf[pos:]
                break
            if extra:
                length = int.from_bytes(buf[pos + 2 : pos + 2 + extra], "big")
            frame_end = pos + header + length
            if frame_end > end:
                self.skip = frame_end - end
                break
            pos = frame_end
        return None


class MaskedWebSocketResponse(web.WebSocketResponse):
    """``web.WebSocketResponse`` that closes with 1002 on an unmasked client frame."""

    def _post_start(self, request: Any, protocol: str | None, writer: Any) -> None:
        handler = request.protocol
        # Bytes that came with the handshake reach the parser inside _post_start: they are
        # scanned first, so the scanner starts in step with the frames.
        scanner = _MaskScanner()
        early = bytes(handler._message_tail)
        bad = scanner.scan(early) if early else None
        if bad is not None:
            handler._message_tail = early[:bad]
        super()._post_start(request, protocol, writer)
        scanner.parser, scanner.queue = handler._payload_parser, self._reader
        if bad is not None:
            scanner.refuse()
        handler._payload_parser = scanner
