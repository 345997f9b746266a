"""Phoenix socket frames: decode what clients send, encode what the server sends.

V2 (``vsn=2.0.0``, what phoenix.js sends) frames are JSON arrays
``[join_ref, ref, topic, event, payload]`` or binary pushes (kind byte 0); V1 frames are
JSON objects. A frame that does not parse, has the wrong shape or a non-object payload raises
:class:`BadFrame`, which costs the connection nothing but an error log line.

A broadcast is encoded once for every subscriber: :class:`Broadcast` caches its encodings,
down to the WebSocket frame bytes (server frames are unmasked, so they are the same for all).
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import orjson

__all__ = [
    "BadFrame",
    "Broadcast",
    "Message",
    "decode",
    "decode_binary",
    "encode",
    "encode_binary",
    "ws_frame",
]

TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8


class BadFrame(ValueError):
    """A client frame that is not a Phoenix message; the reason says what is wrong."""


class Message(NamedTuple):
    """One Phoenix message, in either direction. ``payload`` is a dict, or bytes for binary."""

    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


def _ref(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadFrame(f"{what} must be a string or null")


def decode(data: bytes | str, vsn: int) -> Message:
    """A text frame as a :class:`Message`; raises :class:`BadFrame`."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise BadFrame(f"invalid JSON: {e}") from None
    if vsn == 2:
        if not isinstance(raw, list) or len(raw) < 5:
            raise BadFrame("a V2 frame is an array [join_ref, ref, topic, event, payload]")
        join_ref, ref, topic, event, payload = raw[:5]
    else:
        if not isinstance(raw, dict):
            raise BadFrame("a V1 frame is an object with topic, event, payload and ref")
        join_ref, ref = raw.get("join_ref"), raw.get("ref")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise BadFrame("topic and event must be strings")
    if not isinstance(payload, dict):
        raise BadFrame("payload must be a JSON object")
    return Message(_ref(join_ref, "join_ref"), _ref(ref, "ref"), topic, event, payload)


def decode_binary(data: bytes) -> Message:
    """A V2 binary push (kind 0) as a :class:`Message` with a bytes payload."""
    if len(data) < 5 or data[0] != 0:
        raise BadFrame("a binary frame from a client must be a push (kind 0)")
    lens = data[1:5]
    start = 5
    parts = []
    for n in lens:
        chunk = data[start : start + n]
        if len(chunk) != n:
            raise BadFrame("binary frame shorter than its header says")
        try:
            parts.append(chunk.decode())
        except UnicodeDecodeError:
            raise BadFrame("binary frame header is not UTF-8") from None
        start += n
    join_ref, ref, topic, event = parts
    return Message(join_ref or None, ref or None, topic, event, bytes(data[start:]))


def encode(msg: Message, vsn: int) -> bytes:
    """A server message as JSON text (bytes, UTF-8)."""
    if vsn == 2:
        return orjson.dumps([msg.join_ref, msg.ref, msg.topic, msg.event, msg.payload])
    obj: dict[str, Any] = {"topic": msg.topic, "event": msg.event, "payload": msg.payload,
                           "ref": msg.ref}
    return orjson.dumps(obj)


def encode_binary(msg: Message, kind: int) -> bytes:
    """A server message with a bytes payload as a V2 binary frame: kind 0 push, 1 reply
    (``msg.event`` is the status), 2 broadcast."""
    join_ref = (msg.join_ref or "").encode()
    ref = (msg.ref or "").encode()
    topic = msg.topic.encode()
    event = msg.event.encode()
    for part in (join_ref, ref, topic, event):
        if len(part) > 255:
            raise ValueError("binary frame fields are limited to 255 bytes")
    if kind == 0:
        head = bytes((0, len(join_ref), len(topic), len(event))) + join_ref + topic + event
    elif kind == 1:
        head = bytes((1, len(join_ref), len(ref), len(topic), len(event)))
        head += join_ref + ref + topic + event
    else:
        head = bytes((2, len(topic), len(event))) + topic + event
    return head + msg.payload


def ws_frame(data: bytes, opcode: int = TEXT) -> bytes:
    """A complete, unmasked WebSocket frame (FIN set) carrying ``data``."""
    n = len(data)
    if n < 126:
        return bytes((0x80 | opcode, n)) + data
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + data
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + data


class Broadcast:
    """A message for every subscriber of ``topic``; each encoding is made once, on first
    use, and shared by all connections."""

    __slots__ = ("_frames", "_texts", "event", "payload", "topic")

    def __init__(self, topic: str, event: str, payload: Any) -> None:
        self.topic = topic
        self.event = event
        self.payload = payload
        self._texts: dict[int, bytes] = {}
        self._frames: dict[int, bytes] = {}

    def __repr__(self) -> str:
        return f"Broadcast({self.topic!r}, {self.event!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # To another node (otp.RedisAdapter): the message, not this node's encodings of it.
        return (Broadcast, (self.topic, self.event, self.payload))

    def text(self, vsn: int) -> bytes:
        """The JSON text of this broadcast for serializer ``vsn``."""
        text = self._texts.get(vsn)
        if text is None:
            if isinstance(self.payload, bytes):
                text = encode_binary(Message(None, None, self.topic, self.event, self.payload), 2)
            else:
                text = encode(Message(None, None, self.topic, self.event, self.payload), vsn)
            self._texts[vsn] = text
        return text

    def frame(self, vsn: int) -> bytes:
        """The WebSocket frame bytes of this broadcast for serializer ``vsn``."""
        frame = self._frames.get(vsn)
        if frame is None:
            opcode = BINARY if isinstance(self.payload, bytes) else TEXT
            frame = self._frames[vsn] = ws_frame(self.text(vsn), opcode)
        return frame
