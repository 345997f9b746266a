"""Live uploads over the socket (Phoenix's ``allow_upload``, seed Example 28; protocol.md
§4.10).

``allow_upload(socket, "photos", accept=[".jpg", ".png"], max_entries=5,
max_file_size=10_000_000)`` makes ``@uploads.photos``: the template renders it with
``live_file_input(@uploads.photos)`` inside a form with ``phx-change`` and ``phx-submit``,
lists ``@uploads.photos.entries`` (each with ``client_name``, ``client_size``,
``client_type``, ``progress``, ``done``, ``valid`` and ``errors``) and shows previews with
``live_img_preview(entry)``. The client sends the files it chose with the form's change
event; each is checked here (type by name, size as declared, how many) before the view's
``handle_event`` runs. On submit (or at once with ``auto_upload``) the client asks for
tokens (``allow_upload``), joins ``lvu:<entry ref>`` with one per file and sends the file in
chunks (:mod:`live.upload_channel`), which are written to a temporary file as they come; the
server counts the bytes and never trusts the declared size. ``consume_uploaded_entries``
hands each finished file to a function (which stores it) and removes the temporary file; a
cancelled entry's file, and every file of a view that exits for any reason, is removed too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from .view import LiveSocket

__all__ = [
    "UploadConfig",
    "UploadEntry",
    "allow_upload",
    "cancel_upload",
    "consume_uploaded_entries",
    "consume_uploaded_entry",
    "content_matches",
    "live_file_input",
    "live_img_preview",
    "upload_errors",
    "uploaded_entries",
]

CHUNK_SIZE = 64_000
CHUNK_TIMEOUT = 10_000
MAX_FILE_SIZE = 8_000_000

# What a file's first bytes must be, for the image types a page may accept.
_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".webp": (b"RIFF",),
}
_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".gif": "image/gif", ".webp": "image/webp"}


@dataclass(eq=False)
class UploadEntry:
    """One file the client chose; ``ref`` is the client's name for it."""

    ref: str
    upload_ref: str
    client_name: str
    client_size: int
    client_type: str
    client_last_modified: Any = None
    progress: int = 0
    preflighted: bool = False
    done: bool = False
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)
    path: str | None = None
    """The temporary file its chunks are written to (by its upload channel)."""
    received: int = 0
    meta: dict[str, Any] | None = None
    """For an external upload: what the ``external`` function gave its client uploader."""

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def extension(self) -> str:
        return os.path.splitext(self.client_name)[1].lower()


@dataclass(eq=False)
class UploadConfig:
    """``@uploads.<name>``: what the page accepts, and the entries chosen so far."""

    name: str
    ref: str
    accept: tuple[str, ...]
    max_entries: int
    max_file_size: int
    chunk_size: int
    chunk_timeout: int
    auto_upload: bool
    external: Callable[[UploadEntry, LiveSocket], Any] | None = None
    entries: list[UploadEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def entry(self, ref: Any) -> UploadEntry | None:
        return next((e for e in self.entries if e.ref == ref), None)

    def accepts(self, name: str, content_type: str) -> bool:
        if not self.accept or self.accept == ("any",):
            return True
        extension = os.path.splitext(name)[1].lower()
        return any(a in (extension, content_type)
                   or (a.endswith("/*") and content_type.startswith(a[:-1]))
                   for a in self.accept)


class Uploads:
    """``@uploads``: the view's upload configs by name, read as attributes."""

    __slots__ = ("_by_name",)

    def __init__(self) -> None:
        self._by_name: dict[str, UploadConfig] = {}

    def __getattr__(self, name: str) -> UploadConfig:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(f"no upload {name!r} was allowed") from None

    def by_ref(self, ref: Any) -> UploadConfig | None:
        return next((c for c in self._by_name.values() if c.ref == ref), None)

    def all(self) -> list[UploadConfig]:
        return list(self._by_name.values())


def _uploads(socket: LiveSocket) -> Uploads:
    uploads = socket.assigns.get("uploads")
    if not isinstance(uploads, Uploads):
        uploads = Uploads()
        socket.assigns["uploads"] = uploads
    return uploads


def allow_upload(socket: LiveSocket, name: str, *, accept: Iterable[str] | str = "any",
                 max_entries: int = 1, max_file_size: int = MAX_FILE_SIZE,
                 chunk_size: int = CHUNK_SIZE, chunk_timeout: int = CHUNK_TIMEOUT,
                 auto_upload: bool = False,
                 external: Callable[[UploadEntry, LiveSocket], Any] | None = None
                 ) -> LiveSocket:
    """Let the page upload files as ``name``; ``accept`` is extensions (``".png"``), types
    (``"image/png"``, ``"image/*"``) or ``"any"``; sizes in bytes, timeout in ms.

    ``external(entry, socket)`` (plain or async) makes the upload go straight from the
    browser to where the file is kept: it returns what the page's client uploader needs
    (``{"uploader": "S3", "url": ..., "fields": ...}``, a presigned POST whose policy limits
    the key, the type and the size), and the bytes never cross this server; the consumer then
    gets that dict, and should check the object arrived."""
    if max_entries < 1 or max_file_size < 1 or chunk_size < 1 or chunk_timeout < 1:
        raise ValueError("allow_upload: max_entries, max_file_size, chunk_size and "
                         "chunk_timeout must be at least 1")
    accepted = (accept,) if isinstance(accept, str) else tuple(a.lower() for a in accept)
    uploads = _uploads(socket)
    uploads._by_name[name] = UploadConfig(
        name, "phx-" + secrets.token_urlsafe(9), accepted, max_entries, max_file_size,
        chunk_size, chunk_timeout, auto_upload, external)
    socket.changed.add("uploads")
    return socket


def register_entries(socket: LiveSocket, ref: str, entries: list[Any]) -> UploadConfig | None:
    """The files a form's change event names for upload ``ref``: new ones are added and
    checked (type by name, declared size, how many); those the client no longer has go."""
    config = _uploads(socket).by_ref(ref)
    if config is None or not isinstance(entries, list):
        return None
    seen = set()
    for raw in entries:
        if not isinstance(raw, dict) or not isinstance(raw.get("ref"), str):
            continue
        seen.add(raw["ref"])
        if config.entry(raw["ref"]) is not None:
            continue
        name = str(raw.get("name") or raw["ref"])[:255]
        size = raw.get("size")
        entry = UploadEntry(raw["ref"], config.ref, name,
                            size if isinstance(size, int) and size >= 0 else 0,
                            str(raw.get("type") or ""), raw.get("last_modified"))
        if not config.accepts(name, entry.client_type):
            entry.errors.append("not_accepted")
        if entry.client_size > config.max_file_size:
            entry.errors.append("too_large")
        config.entries.append(entry)
    _recount(config)
    socket.changed.add("uploads")
    return config


def _recount(config: UploadConfig) -> None:
    live = [e for e in config.entries if not e.cancelled]
    config.errors = ["too_many_files"] if len(live) > config.max_entries else []


def cancel_upload(socket: LiveSocket, name: str, ref: str) -> LiveSocket:
    """Drop the entry ``ref`` of upload ``name`` (its temporary file is removed)."""
    config = getattr(_uploads(socket), name)
    entry = config.entry(ref)
    if entry is not None:
        discard(entry)
        config.entries.remove(entry)
        _recount(config)
        socket.changed.add("uploads")
    return socket


def discard(entry: UploadEntry) -> None:
    """Remove the entry's temporary file, if it has one."""
    entry.cancelled = True
    path, entry.path = entry.path, None
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def uploaded_entries(socket: LiveSocket, name: str) -> tuple[list[UploadEntry],
                                                                 list[UploadEntry]]:
    """The entries of upload ``name``: those done, those still uploading."""
    config = getattr(_uploads(socket), name)
    done = [e for e in config.entries if e.done and e.valid]
    return done, [e for e in config.entries if not e.done]


def check_content(entry: UploadEntry) -> None:
    """For an image type, the file's first bytes must be that type's: a name is a claim."""
    if entry.path is None:
        return
    with open(entry.path, "rb") as f:
        head = f.read(16)
    if not content_matches(entry.client_name, head):
        entry.errors.append("not_accepted")


def content_matches(name: str, head: bytes) -> bool:
    """Whether ``head``, a file's first bytes, is what ``name``'s image extension claims
    (names of other types are not checked)."""
    prefixes = _MAGIC.get(os.path.splitext(name)[1].lower())
    return prefixes is None or any(head.startswith(p) for p in prefixes)


async def consume_uploaded_entries(socket: LiveSocket, name: str,
                                   fn: Callable[[dict[str, Any], UploadEntry], Any]
                                   ) -> list[Any]:
    """Hand each finished, valid file of upload ``name`` to ``fn({"path": ...}, entry)``
    (plain or async; it stores the file), then remove the temporary files and the entries;
    the results, in order. Entries still uploading stay."""
    config = getattr(_uploads(socket), name)
    results = []
    for entry in [e for e in config.entries if e.done]:
        meta: dict[str, Any] | None = None
        if entry.valid and entry.meta is not None:
            meta = {**entry.meta, "external": True}
        elif entry.valid and entry.path is not None:
            meta = {"path": entry.path}
        if meta is not None:
            meta["type"] = _TYPES.get(entry.extension, entry.client_type)
            result = fn(meta, entry)
            if hasattr(result, "__await__"):
                result = await result
            results.append(result)
        discard(entry)
        config.entries.remove(entry)
    _recount(config)
    socket.changed.add("uploads")
    return results


async def consume_uploaded_entry(socket: LiveSocket, entry: UploadEntry,
                                 fn: Callable[[dict[str, Any], UploadEntry], Any]) -> Any:
    """:func:`consume_uploaded_entries` for one finished entry; its result."""
    config = next(c for c in _uploads(socket).all() if entry in c.entries)
    if not entry.done:
        raise ValueError(f"{entry.client_name} has not finished uploading")
    others = [e for e in config.entries if e is not entry]
    config.entries = [entry]
    try:
        results = await consume_uploaded_entries(socket, config.name, fn)
    finally:
        config.entries = others + config.entries
    _recount(config)
    return results[0] if results else None


def upload_errors(config: UploadConfig, entry: UploadEntry | None = None) -> list[str]:
    """The upload's own errors (``too_many_files``), or one entry's."""
    return list(config.errors if entry is None else entry.errors)


ERROR_TEXT = {"too_large": "The file is too large.",
              "not_accepted": "That kind of file is not accepted.",
              "too_many_files": "Too many files.",
              "file_size_limit_exceeded": "The file is larger than it said."}


def live_file_input(config: UploadConfig, **attrs: Any) -> Markup:
    """The ``<input type="file">`` the client drives, with every attribute it reads."""
    active = [e for e in config.entries if not e.cancelled]
    parts = {
        "type": "file", "id": config.ref, "name": config.name,
        "accept": ",".join(a for a in config.accept if a != "any") or None,
        "data-phx-hook": "Phoenix.LiveFileUpload", "data-phx-update": "ignore",
        "data-phx-upload-ref": config.ref,
        "data-phx-active-refs": ",".join(e.ref for e in active),
        "data-phx-done-refs": ",".join(e.ref for e in active if e.done),
        "data-phx-preflighted-refs": ",".join(e.ref for e in active if e.preflighted),
        "data-phx-error-refs": ",".join(e.ref for e in active if e.errors),
        "multiple": config.max_entries > 1 or None,
        "data-phx-auto-upload": config.auto_upload or None,
        **attrs,
    }
    return Markup("<input" + "".join(_attr(k, v) for k, v in parts.items()) + ">")


def live_img_preview(entry: UploadEntry, **attrs: Any) -> Markup:
    """An ``<img>`` the client fills with the chosen file, before it is uploaded."""
    parts = {"id": f"phx-preview-{entry.ref}", "data-phx-upload-ref": entry.upload_ref,
             "data-phx-entry-ref": entry.ref, "data-phx-hook": "Phoenix.LiveImgPreview",
             "data-phx-update": "ignore", **attrs}
    return Markup("<img" + "".join(_attr(k, v) for k, v in parts.items()) + ">")


def _attr(name: str, value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return f" {name}"
    return f' {name}="{escape(value)}"'
