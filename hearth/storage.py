"""Storage: where uploaded files are kept, a behaviour chosen by ``[storage] backend``.

Objects are named by keys such as ``"avatars/3f2a.png"``: letters, digits and ``_.-``, in
segments joined by ``/``; no segment starts with a dot (so no ``..``), none is empty (so no
absolute key). Every backend refuses any other key with :class:`InvalidKey`, before it
touches a file or the network. The backends (:func:`storage_for`):

- ``"local"``, the default, :class:`LocalStorage`: files under ``<dir of database.path>/
  uploads/`` (directories 0700, files 0600), each written to a temporary file and renamed,
  so a reader sees the old object or the new one, never half of one. Hearth serves them under
  :data:`LOCAL_URL_PREFIX`. Browsers cannot upload to it directly: :meth:`presign_upload`
  raises ``NotImplementedError``.
- ``"s3"``, :class:`S3Storage`: a bucket of AWS S3 or of an S3-compatible server (SeaweedFS,
  MinIO ...), through aiobotocore. Downloads are presigned GET URLs valid ``url_expires``
  seconds (or plain URLs of a public-read bucket when it is 0), and a browser uploads
  straight to the bucket with a presigned POST (:meth:`S3Storage.presign_upload`).
- ``"package.module:attribute"``: another implementation; a class is made with the whole
  :class:`~hearth.config.Config` (the local backend needs ``[database]`` as well).

Blocking work stays off the event loop: local file IO runs in threads
(``asyncio.to_thread``), and so does botocore's reading of its service model when the S3
client is first made. What botocore does on the loop is hashing what it signs: the SigV4
digest of a bytes body whole, of a file one :data:`PART_SIZE` part at a time (about 5 ms).

The S3 secret key never reaches a repr or a log line: ``StorageConfig`` leaves it out of its
repr, :class:`S3Storage`'s repr names the endpoint and bucket only, and the key itself is
never sent (requests carry signatures made with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, TypeAlias
from urllib.parse import quote

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from hearth.behaviours import implementation
from hearth.config import Config, ConfigError

__all__ = [
    "LOCAL_URL_PREFIX",
    "PART_SIZE",
    "InvalidKey",
    "LocalStorage",
    "ObjectNotFound",
    "S3Storage",
    "Storage",
    "check_key",
    "storage_for",
]

LOCAL_URL_PREFIX = "/uploads/"
"""Where Hearth serves :class:`LocalStorage`'s objects: ``url("a/b.png")`` is
``"/uploads/a/b.png"``."""

PART_SIZE = 8 * 1024 * 1024
"""Bytes of a file :class:`S3Storage` reads and sends at once; a bigger file goes up as a
multipart upload of parts this size (S3 takes parts of 5 MiB and more)."""

MAX_KEY_LENGTH = 512
"""The longest key, in characters; each ``/``-separated segment is at most 255 (a file
name)."""

_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
_CONTENT_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")

Body: TypeAlias = bytes | str | os.PathLike[str]
"""What :meth:`Storage.put` stores: the bytes themselves, or the path of a local file
(read in parts, never whole into memory)."""


class InvalidKey(ValueError):
    """The key is not one a Storage takes (see the module's docstring); nothing was done.
    A key built from user input must be checked (:func:`check_key`) before it gets here."""


class ObjectNotFound(LookupError):
    """:meth:`Storage.get` of a key that holds no object."""


class Storage(Protocol):
    """Where uploaded files are kept. Each method raises :class:`InvalidKey` for a bad key;
    a failing backend (disk full, S3 unreachable or refusing) raises its own error
    (``OSError``, ``botocore.exceptions.ClientError``): the caller crashes, and its
    supervisor decides."""

    async def put(self, key: str, body: Body, content_type: str) -> None:
        """Store ``body`` (bytes, or a local file's path) under ``key``, replacing what was
        there; returns once it is stored."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; raises :class:`ObjectNotFound`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a key that holds none is no error."""
        ...

    async def url(self, key: str) -> str:
        """Where a browser reads the object (it need not exist yet)."""
        ...

    async def presign_upload(self, key: str, content_type: str, max_bytes: int,
                             expires: int) -> dict[str, Any]:
        """What a browser needs to upload one file of ``content_type`` and at most
        ``max_bytes`` bytes straight to the storage as ``key``, for ``expires`` seconds:
        ``{"url": ..., "fields": {...}}``, a multipart/form-data POST of the fields and
        then the file (field ``file``). Raises ``NotImplementedError`` where the storage
        takes no direct uploads."""
        ...


def check_key(key: str) -> str:
    """``key`` if a Storage takes it; raises :class:`InvalidKey` saying why not."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidKey(
            f"bad storage key {key!r}: use letters, digits and _.- in segments joined by /, "
            "none empty or starting with a dot"
        )
    if len(key) > MAX_KEY_LENGTH or any(len(part) > 255 for part in key.split("/")):
        raise InvalidKey(f"storage key too long: at most {MAX_KEY_LENGTH} characters, "
                         "255 a segment")
    return key


def _check_content_type(content_type: str) -> str:
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"bad content type {content_type!r}: printable ASCII, one line")
    return content_type


# -- local ---------------------------------------------------------------------------------


class LocalStorage:
    """Files under ``<dir of database.path>/uploads/``; see the module's docstring."""

    def __init__(self, config: Config) -> None:
        self.root = Path(config.database.path).parent / "uploads"

    def path(self, key: str) -> Path:
        """The file that holds ``key``'s object; raises :class:`InvalidKey`."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put(self, key: str, body: Body, content_type: str) -> None:
        """Store ``body``; the content type is not kept (whoever serves
        :data:`LOCAL_URL_PREFIX` names it, from the key's extension)."""
        target = self.path(key)
        _check_content_type(content_type)
        if isinstance(body, bytes):
            await asyncio.to_thread(self._write, target, lambda out: out.write(body))
        else:
            source = Path(body)
            await asyncio.to_thread(self._write, target, lambda out: _copy(source, out))

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    async def delete(self, key: str) -> None:
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            await asyncio.to_thread(path.unlink)

    async def url(self, key: str) -> str:
        return LOCAL_URL_PREFIX + check_key(key)

    async def presign_upload(self, key: str, content_type: str, max_bytes: int,
                             expires: int) -> dict[str, Any]:
        raise NotImplementedError(
            "local storage has no direct uploads: browsers upload through Hearth "
            '(set [storage] backend = "s3" for uploads straight to a bucket)'
        )

    def _write(self, target: Path, write: Callable[[IO[bytes]], object]) -> None:
        """Write through a temporary file (0600) beside ``target``, then rename it."""
        self._make_dirs(target.parent)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def _make_dirs(self, directory: Path) -> None:
        # mkdir(parents=True) gives the parents the default mode: make each level 0700.
        self.root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        level = self.root
        level.mkdir(mode=0o700, exist_ok=True)
        for part in directory.relative_to(self.root).parts:
            level = level / part
            level.mkdir(mode=0o700, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"


def _copy(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            out.write(chunk)


# -- S3 ------------------------------------------------------------------------------------


class S3Storage:
    """A bucket of S3 or of an S3-compatible server; see the module's docstring.

    The client is made on first use and kept; :meth:`close` (or ``async with``) closes it.
    Keys are stored under ``s3_key_prefix``. Endpoint, region and credentials come from
    ``[storage]`` only, never from botocore's own files (``~/.aws``)."""

    def __init__(self, config: Config) -> None:
        self.config = config.storage
        if not (self.config.s3_bucket and self.config.s3_access_key
                and self.config.s3_secret_key):
            raise ConfigError("S3Storage needs storage.s3_bucket, storage.s3_access_key and "
                              "storage.s3_secret_key")
        self._client: Any = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    def object_key(self, key: str) -> str:
        """The key in the bucket: ``s3_key_prefix`` and ``key``; raises :class:`InvalidKey`."""
        return self.config.s3_key_prefix + check_key(key)

    async def put(self, key: str, body: Body, content_type: str) -> None:
        name = self.object_key(key)
        _check_content_type(content_type)
        client = await self.client()
        bucket = self.config.s3_bucket
        if isinstance(body, bytes):
            await client.put_object(Bucket=bucket, Key=name, Body=body, ContentType=content_type)
            return
        file = await asyncio.to_thread(Path(body).open, "rb")
        try:
            first = await asyncio.to_thread(file.read, PART_SIZE)
            if len(first) < PART_SIZE:
                await client.put_object(Bucket=bucket, Key=name, Body=first,
                                        ContentType=content_type)
                return
            await self._put_parts(client, name, content_type, first, file)
        finally:
            await asyncio.to_thread(file.close)

    async def _put_parts(self, client: Any, name: str, content_type: str, first: bytes,
                         file: IO[bytes]) -> None:
        bucket = self.config.s3_bucket
        started = await client.create_multipart_upload(Bucket=bucket, Key=name,
                                                       ContentType=content_type)
        upload_id = started["UploadId"]
        parts: list[dict[str, Any]] = []
        try:
            part = first
            while part:
                number = len(parts) + 1
                sent = await client.upload_part(Bucket=bucket, Key=name, UploadId=upload_id,
                                                PartNumber=number, Body=part)
                parts.append({"PartNumber": number, "ETag": sent["ETag"]})
                part = await asyncio.to_thread(file.read, PART_SIZE)
            await client.complete_multipart_upload(Bucket=bucket, Key=name,
                                                   UploadId=upload_id,
                                                   MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(Exception):
                await client.abort_multipart_upload(Bucket=bucket, Key=name,
                                                    UploadId=upload_id)
            raise

    async def get(self, key: str) -> bytes:
        name = self.object_key(key)
        client = await self.client()
        try:
            response = await client.get_object(Bucket=self.config.s3_bucket, Key=name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from None
            raise
        async with response["Body"] as stream:
            data: bytes = await stream.read()
        return data

    async def delete(self, key: str) -> None:
        name = self.object_key(key)
        client = await self.client()
        await client.delete_object(Bucket=self.config.s3_bucket, Key=name)

    async def url(self, key: str) -> str:
        """A presigned GET URL valid ``url_expires`` seconds; with 0, the object's plain
        URL (the bucket must be public-read)."""
        name = self.object_key(key)
        config = self.config
        if config.url_expires == 0:
            if config.s3_endpoint_url:
                return f"{config.s3_endpoint_url.rstrip('/')}/{config.s3_bucket}/{quote(name)}"
            return f"https://{config.s3_bucket}.s3.{config.s3_region}.amazonaws.com/{quote(name)}"
        client = await self.client()
        url: str = await client.generate_presigned_url(
            "get_object", Params={"Bucket": config.s3_bucket, "Key": name},
            ExpiresIn=config.url_expires,
        )
        return url

    async def presign_upload(self, key: str, content_type: str, max_bytes: int,
                             expires: int) -> dict[str, Any]:
        """A presigned POST whose policy holds the exact key, the content type and
        ``content-length-range`` 0..``max_bytes``; the server refuses an upload that breaks
        any of them, or comes after ``expires`` seconds."""
        name = self.object_key(key)
        _check_content_type(content_type)
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be at least 0, not {max_bytes}")
        if expires <= 0:
            raise ValueError(f"expires must be seconds > 0, not {expires}")
        client = await self.client()
        # generate_presigned_post adds {"bucket": ...} and {"key": name} to the conditions.
        post: dict[str, Any] = await client.generate_presigned_post(
            self.config.s3_bucket, name,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type},
                        ["content-length-range", 0, max_bytes]],
            ExpiresIn=expires,
        )
        return {"url": post["url"], "fields": dict(post["fields"])}

    async def client(self) -> Any:
        """The aiobotocore S3 client, made on first use."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await self._make_client()
        return self._client

    async def _make_client(self) -> Any:
        config = self.config
        session = AioSession()
        session.set_config_variable("config_file", os.devnull)
        session.set_config_variable("credentials_file", os.devnull)
        # botocore reads its JSON models from disk (0.15 s): in a thread, not on the loop.
        await asyncio.to_thread(_load_models, session)
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(session.create_client(
            "s3",
            endpoint_url=config.s3_endpoint_url or None,
            region_name=config.s3_region,
            aws_access_key_id=config.s3_access_key,
            aws_secret_access_key=config.s3_secret_key,
            config=AioConfig(
                signature_version="s3v4",
                s3={"addressing_style": "path" if config.s3_endpoint_url else "auto"},
                connect_timeout=10,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 3},
                ignore_configured_endpoint_urls=True,
            ),
        ))
        self._exit = stack
        return client

    async def close(self) -> None:
        """Close the client (if one was made); the next call makes a new one."""
        stack, self._exit, self._client = self._exit, None, None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> S3Storage:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def __repr__(self) -> str:  # never the secret key
        where = self.config.s3_endpoint_url or "AWS"
        return f"S3Storage({where}, bucket={self.config.s3_bucket!r})"


def _load_models(session: Any) -> None:
    """Read what making an S3 client reads, into the session's loader cache."""
    loader = session.get_component("data_loader")
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        loader.load_data(name)
    for kind in ("service-2", "endpoint-rule-set-1"):
        loader.load_service_model("s3", kind)


def storage_for(config: Config) -> Storage:
    """The storage ``[storage] backend`` chooses; raises ``hearth.config.ConfigError``."""
    backend = config.storage.backend
    if backend == "local":
        return LocalStorage(config)
    if backend == "s3":
        return S3Storage(config)
    storage: Storage = implementation(backend, "storage.backend", Storage, config)
    return storage
