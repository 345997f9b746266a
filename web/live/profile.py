"""``/profile/edit``: photos uploaded over the socket (seed Example 28).

Up to 5 photos (``.jpg``, ``.jpeg``, ``.png``, 10 MB each), each with a preview, a progress
bar, a cancel button and its errors (too large, not accepted, too many files); saving stores
them with ``hearth.storage`` (``[storage] backend``), records their keys and URLs, and the
first photo a user ever saved becomes their avatar.
"""

from __future__ import annotations

import secrets
from typing import Any

from contexts import photos
from hearth.storage import Storage
from live import LiveSocket, LiveView, NoReply, Ok, Template, assign, put_flash
from live.uploads import (
    ERROR_TEXT,
    allow_upload,
    cancel_upload,
    consume_uploaded_entries,
    live_file_input,
    live_img_preview,
    upload_errors,
)

from .layout import flash_group

__all__ = ["MAX_PHOTOS", "ProfileLive"]

MAX_PHOTOS = 5
MAX_BYTES = 10_000_000


class ProfileLive(LiveView):
    template = Template("""
      <section class="profile">
        {flash_group(@flash)}
        <h1>Your photos</h1>
        <p :if={@avatar} class="avatar-line"><img class="avatar" src={@avatar} alt="">
          Your avatar</p>
        <form id="photos-form" phx-change="validate" phx-submit="save">
          <div class="drop" phx-drop-target={@uploads.photos.ref}>
            {live_file_input(@uploads.photos)}
            <p class="hint">Up to 5 photos (.jpg, .jpeg, .png), 10 MB each.</p>
          </div>
          <p :for={error in upload_errors(@uploads.photos)} class="field-error"
             data-field="photos">{ERROR_TEXT.get(error, error)}</p>
          <ul class="entries">
            <li :for={entry in @uploads.photos.entries} :key={entry.ref}
                id={f"entry-{entry.ref}"}>
              {live_img_preview(entry, width="72")}
              <span class="name">{entry.client_name}</span>
              <progress value={entry.progress} max="100">{entry.progress}%</progress>
              <button type="button" phx-click="cancel" phx-value-ref={entry.ref}
                      aria-label={f"cancel {entry.client_name}"}>&times;</button>
              <span :for={error in upload_errors(@uploads.photos, entry)}
                    class="field-error">{ERROR_TEXT.get(error, error)}</span>
            </li>
          </ul>
          <button type="submit" phx-disable-with="Saving…">Save</button>
        </form>
        <h2>Saved</h2>
        <p :if={not @saved} class="empty-note">No photos yet.</p>
        <div class="gallery">
          <img :for={photo in @saved} :key={photo.id} src={photo.url} alt="" width="120">
        </div>
      </section>
    """, globals={"flash_group": flash_group, "live_file_input": live_file_input,
                  "live_img_preview": live_img_preview, "upload_errors": upload_errors,
                  "ERROR_TEXT": ERROR_TEXT})

    async def mount(self, params: dict[str, Any], session: dict[str, Any],
                    socket: LiveSocket) -> Any:
        user = session["current_user"]
        socket.private["storage"] = session["storage"]  # [storage] backend, from the node
        allow_upload(socket, "photos", accept=[".jpg", ".jpeg", ".png"],
                     max_entries=MAX_PHOTOS, max_file_size=MAX_BYTES)
        return Ok(assign(socket, page_title="Your photos", saved=await photos.list_photos(
            user.id), avatar=await photos.avatar_url(user.id)))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event == "validate":
            return NoReply(socket)
        if event == "cancel":
            return NoReply(cancel_upload(socket, "photos", str(value.get("ref", ""))))
        if event == "save":
            return self._save(socket)
        raise ValueError(f"unknown event {event!r}")

    async def _save(self, socket: LiveSocket) -> Any:
        user = socket.assigns["current_user"]
        storage: Storage = socket.private["storage"]

        async def store(meta: dict[str, Any], entry: Any) -> tuple[str, str]:
            key = f"photos/{user.id}/{secrets.token_hex(8)}{entry.extension}"
            await storage.put(key, meta["path"], meta["type"])
            return key, await storage.url(key)

        stored = await consume_uploaded_entries(socket, "photos", store)
        if stored:
            await photos.add_photos(user.id, stored)
            put_flash(socket, "info", f"{len(stored)} photo(s) saved.")
        return NoReply(assign(socket, saved=await photos.list_photos(user.id),
                              avatar=await photos.avatar_url(user.id)))
