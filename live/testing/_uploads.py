"""Uploads in a LiveViewTest, as Phoenix's ``file_input``, ``render_upload`` and
``preflight_upload``: files chosen in a form's file input and sent over the real wire, as the
stock client sends them (see :mod:`live.uploads` for the server's side).

::

    photos = file_input(view, "#photos-form", "photos", [
        {"name": "a.png", "content": PNG, "type": "image/png"},
        {"name": "b.png", "content": PNG, "type": "image/png"},
    ])
    html = await photos.render_change()        # chosen: listed, each at 0 %
    html = await render_upload(photos, "a.png", 49)   # the first 49 % of a.png sent
    html = await render_upload(photos, "a.png", 51)   # the rest: done
    await view.form("#photos-form").render_submit()   # consumed by the view

- :func:`file_input` ``(view, form_selector, name, entries)``: the file input named ``name``
  inside the form (it must be a ``live_file_input``); ``entries`` are dicts with ``name``,
  ``content`` (bytes) and ``type``, and optionally ``last_modified`` and ``size``: the size
  the client declares, by default ``len(content)`` (more lets a test declare a file too large
  without sending one; what is sent is ``content`` whatever it says). ``uploaders=``
  (keyword) holds the page's client uploaders for external uploads, by name (see below).
  Nothing is sent yet. Returns an :class:`Upload`.
- :meth:`Upload.render_change`: the change event of the form as the client sends it when the
  files are chosen (the input's or the form's ``phx-change``, the form's fields, ``_target``
  the input, and ``uploads`` naming every file); the view's HTML. The first
  :func:`preflight_upload` or :func:`render_upload` sends it, if the test did not.
- :func:`preflight_upload` ``(upload)``: the ``allow_upload`` push the client makes on submit
  (or at once with ``auto_upload``); its reply, a dict: ``ref``, ``config`` (``chunk_size``,
  ``chunk_timeout``, ``max_entries``, ``max_file_size``), ``entries`` (a token by file ref,
  for those allowed, or an external upload's meta: ``{"uploader": ..., ...}``) and
  ``errors`` (reasons by file ref, for those refused). An error reply
  raises :class:`~live.testing.PushError`. Kept: :func:`render_upload` uses it.
- :func:`render_upload` ``(upload, name, percent=100)``: the change event (the first time),
  the preflight (the first time), the join of ``lvu:<file ref>`` with the file's token, then
  ``percent`` % more of the file, as Phoenix's does (``49`` then ``51`` sends all of it),
  in the config's ``chunk_size`` binary ``chunk`` pushes, each followed by the ``progress``
  push the client makes (the whole percent sent so far, when it grew); the view's HTML once
  the last reply is applied. A file the preflight refused raises :class:`UploadRefused`
  with its reasons (``["too_large"]``); so does a chunk the upload channel refuses (the
  client's ``progress`` ``{"error": reason}`` push sent first, as the client does); a
  refused join raises :class:`~channels.client.JoinError`.

An external upload (``allow_upload(..., external=fn)``: the preflight gives the file's meta
instead of a token) goes where the meta says, as the client's uploader named by
``meta["uploader"]`` sends it: give that uploader's Python twin in ``uploaders``, an
:data:`Uploader` (``await uploader(meta, entry)`` sends ``entry.content``; ``None`` once
there, else why not). It is called when the last of the file is to be sent, and the progress
pushes are the same. Without one, as in Phoenix's test, only the progress is pushed and the
file goes nowhere.

What the server decides after the last byte (a ``.png`` whose bytes are not a PNG is
``not_accepted``) is on the page when :func:`render_upload` returns: the view learns the
upload ended before the last chunk's reply, and its diff comes first on the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from channels.client import Channel

from ._elements import Element, _commands, _encode, _meta, _target_cid
from ._page import PushError

if TYPE_CHECKING:
    from ._view import View

__all__ = ["FileEntry", "Upload", "UploadRefused", "Uploader", "file_input",
           "preflight_upload", "render_upload"]

_refs = itertools.count()
"""File refs, as the client's ``LiveUploader.genFileRef`` counts them: one counter for the
page (here, the test run), so no two files share a ``lvu:`` topic on a socket."""


Uploader = Callable[[dict[str, Any], "FileEntry"], Awaitable[str | None]]
"""An external upload's sender, as a page's client uploader (``LiveSocket``'s ``uploaders``):
``await uploader(meta, entry)`` sends ``entry.content`` where the preflight's ``meta`` says;
``None`` once it is there, or the reason it was refused (the client's ``entry.error``)."""


class UploadRefused(Exception):
    """The preflight or the upload channel refused the file (``reasons``: what it said,
    ``["not_accepted"]``); the view's page shows it too."""

    def __init__(self, name: str, reasons: list[str]) -> None:
        super().__init__(f"upload of {name!r} refused: {', '.join(reasons)}")
        self.name = name
        self.reasons = reasons


@dataclass
class FileEntry:
    """One chosen file: what the client knows of it, and how much of it was sent."""

    ref: str
    name: str
    content: bytes
    type: str
    size: int
    last_modified: int
    sent: int = 0
    progress: int = -1
    """The last percent pushed as ``progress`` (the client's ``_lastProgressSent``)."""
    channel: Channel | None = None

    def serialized(self, path: str) -> dict[str, Any]:
        """The file as the change event names it (``LiveUploader.serializeUploads``)."""
        return {"path": path, "ref": self.ref, "last_modified": self.last_modified,
                "name": self.name, "relative_path": "", "type": self.type, "size": self.size}

    def preflight(self) -> dict[str, Any]:
        """The file as the preflight names it (``UploadEntry.toPreflightPayload``)."""
        return {"last_modified": self.last_modified, "name": self.name, "relative_path": "",
                "size": self.size, "type": self.type, "ref": self.ref}


class Upload:
    """Files chosen in one file input of a view (made by :func:`file_input`)."""

    def __init__(self, view: View, form_selector: str, name: str, entries: list[FileEntry],
                 uploaders: Mapping[str, Uploader] | None = None) -> None:
        self.view = view
        self.uploaders: Mapping[str, Uploader] = uploaders or {}
        self.form_selector = form_selector
        self.name = name
        self.entries = entries
        self.ref = str(self._input().get("data-phx-upload-ref"))
        """The upload's ref (``data-phx-upload-ref``), as the preflight names it."""
        self.changed = False
        """Whether the chosen files' change event was sent."""
        self.preflighted: dict[str, Any] | None = None
        """The preflight's reply, once made."""
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<Upload {self.name!r} of {self.form_selector!r}: {len(self.entries)} files>"

    def entry(self, name: str) -> FileEntry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise AssertionError(f"{self} has no file {name!r} (files: "
                             f"{', '.join(e.name for e in self.entries)})")

    async def render_change(self) -> str:
        """The change event the client sends when the files are chosen; the view's HTML."""
        form, el = self._form(), self._input()
        binding = el.get("phx-change") or form.get("phx-change")
        if binding is None:
            raise AssertionError(f"{self}: neither the input nor its form has phx-change")
        used = self.view._used.setdefault(str(form.get("id") or self.form_selector), set())
        used.add(self.name)
        # The client serializes only the input's own values when it has phx-change; a file
        # input's files are never form values (they go in ``uploads``).
        value = "" if el.get("phx-change") else _encode(form, [], used)
        uploads = {self.ref: [e.serialized(self.name) for e in self.entries]}
        meta = {"_target": self.name, **_meta(form, None)}
        html = self.view.render()
        for kind, args in _commands(binding):
            if kind == "push":
                payload: dict[str, Any] = {
                    "type": "form", "event": args["event"], "value": value,
                    "meta": {**meta, **(args.get("value") or {})}, "uploads": uploads}
                cid = _target_cid(self.view, form, args.get("target"))
                if cid is not None:
                    payload["cid"] = cid
                reply = await self.view.push("event", payload)
                if reply.status != "ok":
                    raise PushError(args["event"], reply.response)
                html = self.view.render()
        self.changed = True
        return html

    async def preflight(self) -> dict[str, Any]:
        if not self.changed:
            await self.render_change()
        payload: dict[str, Any] = {"ref": self.ref,
                                   "entries": [e.preflight() for e in self.entries]}
        cid = _target_cid(self.view, self._form())
        if cid is not None:
            payload["cid"] = cid
        reply = await self.view.push("allow_upload", payload)
        if reply.status != "ok" or not isinstance(reply.response, dict):
            raise PushError("allow_upload", reply.response)
        self.preflighted = reply.response
        return reply.response

    async def upload(self, name: str, percent: float) -> str:
        entry = self.entry(name)
        answer = self.preflighted if self.preflighted is not None else await self.preflight()
        meta = (answer.get("entries") or {}).get(entry.ref)
        if meta is None:
            reasons = (answer.get("errors") or {}).get(entry.ref) or ["failed preflight"]
            raise UploadRefused(name, [str(r) for r in reasons])
        total = len(entry.content)
        until = min(total, entry.sent + math.trunc(total * percent / 100))
        if isinstance(meta, dict):
            await self._external(entry, meta, until)
        else:
            await self._over_channel(entry, str(meta), until, int(answer["config"]["chunk_size"]))
        return self.view.render()

    async def _over_channel(self, entry: FileEntry, token: str, until: int,
                            chunk_size: int) -> None:
        """The client's ``EntryUploader``: join ``lvu:<ref>``, then chunks and progress."""
        if entry.channel is None:
            entry.channel = self.view.client.socket.channel(f"lvu:{entry.ref}",
                                                            {"token": token})
            entry.channel.on("phx_error", lambda _payload: self._leave(entry))
            await entry.channel.join()
        while entry.sent < until:
            chunk = entry.content[entry.sent:min(until, entry.sent + chunk_size)]
            reply = await entry.channel.push("chunk", chunk)
            if reply.status != "ok":
                reason = str(reply.response.get("reason") if isinstance(reply.response, dict)
                             else reply.response)
                await entry.channel.leave()
                await self._progress(entry, {"error": reason})
                raise UploadRefused(entry.name, [reason])
            entry.sent += len(chunk)
            await self._report(entry)

    async def _external(self, entry: FileEntry, meta: dict[str, Any], until: int) -> None:
        """An external upload: the page's uploader of that name sends the file once all of
        it is to be sent; without one, only the progress is reported (as Phoenix's test)."""
        uploader = self.uploaders.get(str(meta.get("uploader")))
        if uploader is not None and until == len(entry.content) > entry.sent:
            reason = await uploader(meta, entry)
            if reason is not None:
                await self._progress(entry, {"error": reason})
                raise UploadRefused(entry.name, [reason])
        entry.sent = until
        await self._report(entry)

    async def _report(self, entry: FileEntry) -> None:
        """The ``progress`` push, when the whole percent sent grew (``UploadEntry.progress``
        of the client)."""
        total = len(entry.content)
        done = math.floor(entry.sent / total * 100) if total else 100
        if done > entry.progress:
            entry.progress = min(done, 100)
            await self._progress(entry, entry.progress)

    async def _progress(self, entry: FileEntry, progress: int | dict[str, str]) -> None:
        """The ``progress`` push of ``View.pushFileProgress``."""
        form = self._form()
        payload: dict[str, Any] = {"event": self._input().get("phx-progress"),
                                   "ref": self.ref, "entry_ref": entry.ref,
                                   "progress": progress}
        cid = _target_cid(self.view, form)
        if cid is not None:
            payload["cid"] = cid
        reply = await self.view.push("progress", payload)
        if reply.status != "ok":
            raise PushError("progress", reply.response)

    def _leave(self, entry: FileEntry) -> None:
        """The upload channel crashed: the client leaves it (no rejoin with a used token)."""
        channel = entry.channel
        if channel is not None:
            task = asyncio.get_running_loop().create_task(channel.leave())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _form(self) -> Any:
        form = Element(self.view, self.form_selector).find()
        if form.tag != "form":
            raise AssertionError(f"{self.form_selector!r} is a <{form.tag}>, not a <form>")
        return form

    def _input(self) -> Any:
        form = self._form()
        found = [el for el in form.iter("input")
                 if el.get("type") == "file" and el.get("name") == self.name]
        if not found:
            raise AssertionError(f"the form {self.form_selector!r} has no file input named "
                                 f"{self.name!r}")
        el = found[0]
        if el.get("data-phx-upload-ref") is None:
            raise AssertionError(f"the file input {self.name!r} is not a live_file_input (no "
                                 "data-phx-upload-ref): was the upload allowed?")
        return el


def file_input(view: View, form_selector: str, name: str, entries: list[Mapping[str, Any]],
               *, uploaders: Mapping[str, Uploader] | None = None) -> Upload:
    """Files chosen in the file input ``name`` of the form ``form_selector``; see the module
    docstring. Nothing is sent until :meth:`Upload.render_change` or :func:`render_upload`."""
    chosen = []
    for given in entries:
        content = given["content"]
        if not isinstance(content, bytes):
            raise TypeError(f"file_input: the content of {given.get('name')!r} must be bytes")
        size = given.get("size", len(content))
        chosen.append(FileEntry(str(next(_refs)), str(given["name"]), content,
                                str(given.get("type", "")), int(size),
                                int(given.get("last_modified", 1_700_000_000_000))))
    return Upload(view, form_selector, name, chosen, uploaders)


async def preflight_upload(upload: Upload) -> dict[str, Any]:
    """The preflight (``allow_upload``) of the chosen files, the change event sent first if
    it was not; its reply (``ref``, ``config``, ``entries``, ``errors``)."""
    return await upload.preflight()


async def render_upload(upload: Upload, name: str, percent: float = 100) -> str:
    """Send ``percent`` % more of the file ``name`` (preflight and join first, if needed);
    the view's HTML. :class:`UploadRefused` if the file is refused."""
    return await upload.upload(name, percent)
