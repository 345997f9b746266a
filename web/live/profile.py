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
from hearth.storage import ObjectNotFound, S3Storage, Storage
from live import LiveSocket, LiveView, NoReply, Ok, Template, assign, put_flash
from live.uploads import (
    ERROR_TEXT,
    UploadEntry,
    allow_upload,
    cancel_upload,
    consume_uploaded_entries,
    content_matches,
    live_file_input,
    live_img_preview,
    upload_errors,
)

from .layout import flash_group

__all__ = ["MAX_PHOTOS", "ProfileLive"]

MAX_PHOTOS = 5
MAX_BYTES = 10_000_000
_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def _key(user_id: int, extension: str) -> str:
    return f"photos/{user_id}/{secrets.token_hex(8)}{extension}"


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
              {live_img_preview(entry, width="72") if entry.valid else ""}
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
        storage: Storage = session["storage"]  # [storage] backend, from the node
        socket.private["storage"] = storage

        async def direct(entry: UploadEntry, _socket: LiveSocket) -> dict[str, Any]:
            key = _key(user.id, entry.extension)
            post = await storage.presign_upload(key, _TYPES[entry.extension], MAX_BYTES,
                                                expires=600)
            return {"uploader": "S3", "key": key, **post}

        # S3 takes the files straight from the browser; local storage over the socket.
        allow_upload(socket, "photos", accept=[".jpg", ".jpeg", ".png"],
                     max_entries=MAX_PHOTOS, max_file_size=MAX_BYTES,
                     external=direct if isinstance(storage, S3Storage) else None)
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

        refused: list[str] = []

        async def store(meta: dict[str, Any], entry: Any) -> tuple[str, str] | None:
            if meta.get("external"):  # in the bucket already, if the browser sent it
                key = meta["key"]
                try:
                    head = (await storage.get(key))[:16]
                except ObjectNotFound:
                    refused.append(f"{entry.client_name} never arrived")
                    return None
                if not content_matches(entry.client_name, head):
                    await storage.delete(key)
                    refused.append(f"{entry.client_name} is not the image it says")
                    return None
                return key, await storage.url(key)
            key = _key(user.id, entry.extension)
            await storage.put(key, meta["path"], meta["type"])
            return key, await storage.url(key)

        stored = [s for s in await consume_uploaded_entries(socket, "photos", store) if s]
        if refused:
            put_flash(socket, "error", "; ".join(refused) + ".")
        if stored:
            await photos.add_photos(user.id, stored)
            put_flash(socket, "info", f"{len(stored)} photo(s) saved.")
        return NoReply(assign(socket, saved=await photos.list_photos(user.id),
                              avatar=await photos.avatar_url(user.id)))
