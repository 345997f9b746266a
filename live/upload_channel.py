"""The channel of one file being uploaded: topic ``lvu:<entry ref>`` (protocol.md §4.10).

The client joins with the token the view's preflight gave for this entry. The token binds
the view (its container id), the upload, the entry, the declared size, the size limit and
the browser (its session, signed in or not); the view itself is asked too (the entry must be
one it preflighted, not joined already), and it names the temporary file. Chunks come as
binary pushes and are written as they come; the server counts the bytes: past the limit or
the declared size the upload is refused (``file_size_limit_exceeded``) and the channel
stops. No chunk for ``chunk_timeout`` ms ends the upload too. The view learns each ending
and owns the temporary file, which it removes when the entry is consumed or cancelled, or
when it exits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, BinaryIO

import otp
from channels import token as tokens
from channels.channel import Channel, Error, Socket
from otp import NoReply, Ok, Reply, Stop

__all__ = ["SALT", "UPLOAD_DONE", "UPLOAD_ERROR", "UPLOAD_JOIN", "UploadChannel", "seal_entry"]

SALT = "live upload entry"
MAX_AGE = 86400.0
UPLOAD_JOIN = "$live_upload_join"
UPLOAD_DONE = "$live_upload_done"
UPLOAD_ERROR = "$live_upload_error"

log = logging.getLogger(__name__)


def seal_entry(secret: bytes, view_id: str, upload_ref: str, entry_ref: str, size: int,
               limit: int, browser: str | None, chunk_timeout: int) -> str:
    """The token one entry's upload channel joins with."""
    data = {"v": view_id, "u": upload_ref, "e": entry_ref, "s": size, "m": limit,
            "b": browser, "t": chunk_timeout}
    return tokens.encrypt(secret, SALT, data, max_age=MAX_AGE)


class UploadChannel(Channel):
    """One entry's upload; see the module docstring."""

    file: BinaryIO | None
    received: int
    data: dict[str, Any]
    view: otp.Pid
    chunks: int
    timer: otp.TimerRef | None

    async def join(self, topic: str, payload: Any, socket: Socket) -> Any:
        from .channel import LiveContext, view_process

        ctx: LiveContext = socket.assigns["live_context"]
        raw = payload.get("token") if isinstance(payload, dict) else None
        try:
            data = tokens.decrypt(ctx.secret, SALT, raw, max_age=MAX_AGE)
        except tokens.TokenError:
            return Error({"reason": "invalid_token"})
        if not isinstance(data, dict) or data.get("e") != topic.removeprefix("lvu:") \
                or data.get("b") != socket.assigns.get("browser_ref"):
            return Error({"reason": "invalid_token"})
        view = view_process(data["v"])
        if view is None:
            return Error({"reason": "disallowed"})
        try:
            answer = await otp.call(view, (UPLOAD_JOIN, data["u"], data["e"], self.pid))
        except otp.ProcessExited:
            return Error({"reason": "disallowed"})
        if not isinstance(answer, str) or answer in ("already_registered", "disallowed"):
            return Error({"reason": answer if isinstance(answer, str) else "disallowed"})
        # Opened, written and closed on a thread: disk work stays off the event loop.
        self.file = await asyncio.to_thread(open, answer, "wb")
        self.received, self.data, self.view, self.chunks, self.timer = 0, data, view, 0, None
        otp.link(view)  # the view's end ends the upload
        self._arm()
        return Ok(socket)

    def _arm(self) -> None:
        """The chunk timeout, from now: one timer at a time (the last one cancelled)."""
        if self.timer is not None:
            otp.cancel_timer(self.timer)
        self.chunks += 1
        self.timer = otp.send_after(self.pid, ("$chunk_timeout", self.chunks),
                                    self.data["t"] / 1000)

    async def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        if event != "chunk" or not isinstance(payload, bytes) or self.file is None:
            return Reply(("error", {"reason": "a chunk is a binary push"}), socket)
        limit = min(self.data["m"], self.data["s"])
        if self.received + len(payload) > limit:
            self._end(UPLOAD_ERROR, "file_size_limit_exceeded")
            return Stop("normal", socket, reply=("error", {
                "reason": "file_size_limit_exceeded", "limit": self.data["m"]}))
        await asyncio.to_thread(self.file.write, payload)
        self.received += len(payload)
        if self.received == self.data["s"]:
            self._end(UPLOAD_DONE, self.received)
            if self.timer is not None:
                otp.cancel_timer(self.timer)
            return Reply("ok", socket)
        self._arm()
        return Reply("ok", socket)

    def handle_message(self, msg: Any, socket: Socket) -> Any:
        if type(msg) is otp.Exit and msg.pid == getattr(self, "view", None):
            self.file = None  # the view, gone, has removed the file
            return Stop("normal", socket)
        if isinstance(msg, tuple) and msg and msg[0] == "$chunk_timeout":
            if msg[1] == self.chunks and self.file is not None:
                self._end(UPLOAD_ERROR, "timeout")
                return Stop("normal", socket)
            return NoReply(socket)
        return super().handle_message(msg, socket)

    def _end(self, kind: str, detail: Any) -> None:
        file, self.file = self.file, None
        if file is not None:
            file.close()
            otp.send(self.view, (kind, self.data["u"], self.data["e"], detail))

    def terminate(self, reason: Any, socket: Socket) -> None:
        if getattr(self, "file", None) is not None:  # ended mid-way: the client left
            self._end(UPLOAD_ERROR, "abandoned")
