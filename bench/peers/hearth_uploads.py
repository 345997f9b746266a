"""The upload page ``bench/live.py`` sends its 50 MB files to: ``hearth serve`` imports
:data:`ROUTER` through its config (``[live] router = "hearth_uploads:ROUTER"``, with this folder
on ``PYTHONPATH``), as ``tests/live/test_uploads.py`` installs its own.

``/bench/upload`` is ``/profile/edit`` (``web/live/profile.py``) without what a benchmark
does not measure: no sign-in (the members' session would need a user), any kind of file, one
entry of up to :data:`MAX_BYTES`, the client's default chunk size (64,000 bytes) and chunk
timeout. Its submit consumes the finished entry as the profile page does, storing nothing (the
temporary file the chunks went to is removed), and answers the bytes the server counted
(``{"saved": [bytes]}`` in the reply's ``"r"``), which the benchmark checks.
"""

from __future__ import annotations

from typing import Any

from live import LiveSocket, LiveView, NoReply, Ok, Reply, Template
from live.router import LiveRouter, LiveSession, live
from live.uploads import allow_upload, consume_uploaded_entries, live_file_input, upload_errors

__all__ = ["MAX_BYTES", "ROUTER", "UploadLive"]

MAX_BYTES = 64_000_000


class UploadLive(LiveView):
    template = Template("""
      <main><form id="upload-form" phx-change="validate" phx-submit="save">
        {live_file_input(@uploads.file)}
        <p :for={e in @uploads.file.entries} :key={e.ref} id={f"entry-{e.ref}"}
           >{e.client_name} {e.progress} {"done" if e.done else ""} {",".join(e.errors)}</p>
        <p id="errors">{",".join(upload_errors(@uploads.file))}</p>
      </form></main>
    """, globals={"live_file_input": live_file_input, "upload_errors": upload_errors})

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        return Ok(allow_upload(socket, "file", max_file_size=MAX_BYTES))

    async def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event == "save":
            saved = await consume_uploaded_entries(socket, "file",
                                                   lambda meta, entry: entry.received)
            return Reply({"saved": saved}, socket)
        return NoReply(socket)


ROUTER = LiveRouter([LiveSession("bench", [live("/bench/upload", UploadLive)])])
