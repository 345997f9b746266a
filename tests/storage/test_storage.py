"""Storage: the local backend on disk, and the S3 backend against a real SeaweedFS, including
the presigned POST a browser uploads with and what SeaweedFS refuses of it."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hearth.config import Config, ConfigError, load_config
from hearth.storage import (
    LOCAL_URL_PREFIX,
    PART_SIZE,
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    Storage,
    storage_for,
)

from ._seaweed import SeaweedFS, seaweedfs

BAD_KEYS = ["", "../secret", "a/../../b", "/etc/passwd", "a//b", "a/", "./a", ".hidden",
            "a/.tmp-x", "a b", "a\\b", "a\x00b", "clé.png", "~/x", "a:b", "x" * 600]


def local_config(tmp_path: Path) -> Config:
    return load_config(env={}, overrides={"database.path": str(tmp_path / "data" / "hearth.db")})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as running:
        yield running


def s3_config(server: SeaweedFS, **storage: Any) -> Config:
    return load_config(env={}, overrides={
        "storage.backend": "s3",
        "storage.s3_endpoint_url": server.endpoint_url,
        "storage.s3_bucket": server.bucket,
        "storage.s3_access_key": server.access_key,
        "storage.s3_secret_key": server.secret_key,
        **{f"storage.{key}": value for key, value in storage.items()},
    })


@pytest.fixture
async def s3(server: SeaweedFS, request: pytest.FixtureRequest) -> AsyncIterator[S3Storage]:
    """An S3Storage on the server, its keys under a prefix of the test's own."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name) + "/"
    async with S3Storage(s3_config(server, s3_key_prefix=prefix)) as storage:
        yield storage


async def post_upload(upload: dict[str, Any], body: bytes, content_type: str,
                      **fields: str) -> tuple[int, str]:
    """POST ``body`` as a browser's form would, with ``fields`` changed; the status and the
    S3 error code ("" for none)."""
    form = aiohttp.FormData()
    for name, value in {**upload["fields"], **fields}.items():
        form.add_field(name, value)
    form.add_field("file", body, filename="upload.bin", content_type=content_type)
    async with aiohttp.ClientSession() as session, \
            session.post(upload["url"], data=form) as response:
        text = await response.text()
    code = re.search(r"<Code>([^<]*)</Code>", text)
    return response.status, code.group(1) if code else ""


async def fetch(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read(), response.headers.get("Content-Type", "")


async def assert_absent(storage: Storage, key: str) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get(key)


# -- local ---------------------------------------------------------------------------------


async def test_local_put_get_delete_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(local_config(tmp_path))
    source = tmp_path / "upload.tmp"
    source.write_bytes(b"from a file" * 100_000)

    await storage.put("avatars/1.png", b"\x89PNG bytes", "image/png")
    await storage.put("files/big.bin", source, "application/octet-stream")
    await storage.put("avatars/1.png", b"replaced", "image/png")

    assert await storage.get("avatars/1.png") == b"replaced"
    assert await storage.get("files/big.bin") == source.read_bytes()
    assert source.exists()  # copied, not taken
    assert await storage.url("avatars/1.png") == "/uploads/avatars/1.png"
    assert LOCAL_URL_PREFIX == "/uploads/"
    await storage.delete("avatars/1.png")
    await assert_absent(storage, "avatars/1.png")
    await assert_absent(storage, "avatars")
    await storage.delete("avatars/1.png")  # deleting nothing is no error


async def test_local_files_are_private_and_only_whole(tmp_path: Path) -> None:
    storage = LocalStorage(local_config(tmp_path))

    await storage.put("a/b/c.txt", b"one", "text/plain")
    await storage.put("a/b/c.txt", b"two", "text/plain")

    root = tmp_path / "data" / "uploads"
    assert storage.path("a/b/c.txt") == root / "a" / "b" / "c.txt"
    for directory in (root, root / "a", root / "a" / "b"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "a" / "b" / "c.txt").stat().st_mode) == 0o600
    assert os.listdir(root / "a" / "b") == ["c.txt"]  # no temporary file left behind
    assert (root / "a" / "b" / "c.txt").read_bytes() == b"two"


async def test_a_failed_local_write_leaves_the_old_object(tmp_path: Path) -> None:
    storage = LocalStorage(local_config(tmp_path))
    await storage.put("doc.txt", b"old", "text/plain")

    with pytest.raises(FileNotFoundError):
        await storage.put("doc.txt", tmp_path / "no-such-file", "text/plain")

    assert await storage.get("doc.txt") == b"old"
    assert os.listdir(tmp_path / "data" / "uploads") == ["doc.txt"]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_local_storage_refuses_bad_keys(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(local_config(tmp_path))

    with pytest.raises(InvalidKey):
        await storage.put(key, b"x", "text/plain")
    with pytest.raises(InvalidKey):
        await storage.get(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)
    with pytest.raises(InvalidKey):
        await storage.url(key)

    assert os.listdir(tmp_path) == []  # nothing written, anywhere


async def test_local_storage_has_no_direct_uploads(tmp_path: Path) -> None:
    storage = LocalStorage(local_config(tmp_path))

    with pytest.raises(NotImplementedError, match="local storage has no direct uploads"):
        await storage.presign_upload("a.png", "image/png", 1000, 60)


# -- S3 on SeaweedFS -----------------------------------------------------------------------


async def test_s3_put_get_delete_round_trip(s3: S3Storage, tmp_path: Path) -> None:
    source = tmp_path / "upload.tmp"
    source.write_bytes(b"from a file" * 1000)

    await s3.put("avatars/1.png", b"\x89PNG bytes", "image/png")
    await s3.put("files/small.txt", source, "text/plain")

    assert await s3.get("avatars/1.png") == b"\x89PNG bytes"
    assert await s3.get("files/small.txt") == source.read_bytes()
    client = await s3.client()
    head = await client.head_object(Bucket=s3.config.s3_bucket,
                                    Key=s3.config.s3_key_prefix + "avatars/1.png")
    assert head["ContentType"] == "image/png"
    await s3.delete("avatars/1.png")
    await assert_absent(s3, "avatars/1.png")
    await s3.delete("avatars/1.png")


async def test_s3_url_is_a_presigned_get_a_browser_reads(s3: S3Storage) -> None:
    await s3.put("photos/cat.jpg", b"meow", "image/jpeg")

    url = await s3.url("photos/cat.jpg")

    assert url.startswith(f"{s3.config.s3_endpoint_url}/{s3.config.s3_bucket}/"
                          f"{s3.config.s3_key_prefix}photos/cat.jpg?")
    assert "X-Amz-Expires=3600" in url
    assert await fetch(url) == (200, b"meow", "image/jpeg")
    status, _, _ = await fetch(url.replace("cat.jpg", "dog.jpg"))
    assert status == 403  # the signature covers the key


async def test_s3_url_without_expiry_is_the_plain_object_url(server: SeaweedFS) -> None:
    async with S3Storage(s3_config(server, url_expires=0, s3_key_prefix="p/")) as storage:
        await storage.put("x.txt", b"x", "text/plain")

        url = await storage.url("x.txt")

    assert url == f"{server.endpoint_url}/{server.bucket}/p/x.txt"
    status, _, _ = await fetch(url)
    assert status == 403  # this bucket is not public-read: such URLs need one that is


async def test_s3_put_of_a_file_bigger_than_a_part_goes_up_in_parts(s3: S3Storage,
                                                                    tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(PART_SIZE) + b"the last part")

    await s3.put("big.bin", source, "application/octet-stream")

    assert await s3.get("big.bin") == source.read_bytes()
    client = await s3.client()
    head = await client.head_object(Bucket=s3.config.s3_bucket,
                                    Key=s3.config.s3_key_prefix + "big.bin")
    assert head["ETag"].endswith('-2"')  # a multipart upload of two parts


async def test_presigned_post_uploads_straight_to_seaweedfs(s3: S3Storage) -> None:
    upload = await s3.presign_upload("uploads/a.png", "image/png", max_bytes=100, expires=60)

    assert upload["url"] == f"{s3.config.s3_endpoint_url}/{s3.config.s3_bucket}"
    assert upload["fields"]["key"] == s3.config.s3_key_prefix + "uploads/a.png"
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 0, 100] in policy["conditions"]
    assert {"key": s3.config.s3_key_prefix + "uploads/a.png"} in policy["conditions"]

    assert await post_upload(upload, b"p" * 100, "image/png") == (204, "")

    assert await s3.get("uploads/a.png") == b"p" * 100
    status, body, content_type = await fetch(await s3.url("uploads/a.png"))
    assert (status, body, content_type) == (200, b"p" * 100, "image/png")


async def test_presigned_post_with_a_tampered_signature_is_refused(s3: S3Storage) -> None:
    upload = await s3.presign_upload("t.png", "image/png", max_bytes=100, expires=60)
    signature = upload["fields"]["x-amz-signature"]
    tampered = ("0" if signature[0] != "0" else "1") + signature[1:]

    result = await post_upload(upload, b"p", "image/png", **{"x-amz-signature": tampered})

    assert result == (403, "SignatureDoesNotMatch")
    await assert_absent(s3, "t.png")


async def test_presigned_post_with_a_widened_policy_is_refused(s3: S3Storage) -> None:
    upload = await s3.presign_upload("w.png", "image/png", max_bytes=100, expires=60)
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    policy["conditions"] = [c for c in policy["conditions"]
                            if not (isinstance(c, list) and c[0] == "content-length-range")]
    widened = base64.b64encode(json.dumps(policy).encode()).decode()

    result = await post_upload(upload, b"p" * 1000, "image/png", policy=widened)

    assert result == (403, "SignatureDoesNotMatch")
    await assert_absent(s3, "w.png")


async def test_presigned_post_over_the_size_limit_is_refused(s3: S3Storage) -> None:
    upload = await s3.presign_upload("big.png", "image/png", max_bytes=100, expires=60)

    assert await post_upload(upload, b"p" * 101, "image/png") == (400, "EntityTooLarge")
    await assert_absent(s3, "big.png")


async def test_presigned_post_for_another_key_is_refused(s3: S3Storage) -> None:
    upload = await s3.presign_upload("mine.png", "image/png", max_bytes=100, expires=60)

    result = await post_upload(upload, b"p", "image/png",
                               key=s3.config.s3_key_prefix + "theirs.png")

    assert result == (403, "AccessDenied")
    await assert_absent(s3, "theirs.png")
    await assert_absent(s3, "mine.png")


async def test_presigned_post_with_another_content_type_is_refused(s3: S3Storage) -> None:
    upload = await s3.presign_upload("page.png", "image/png", max_bytes=100, expires=60)

    result = await post_upload(upload, b"<script>", "text/html", **{"Content-Type": "text/html"})

    assert result == (403, "AccessDenied")
    await assert_absent(s3, "page.png")


async def test_the_policy_content_type_is_the_one_stored(s3: S3Storage) -> None:
    # The file part's own Content-Type header is not the object's: the form field is, and
    # the policy pins that one.
    upload = await s3.presign_upload("pinned.png", "image/png", max_bytes=100, expires=60)

    assert await post_upload(upload, b"<script>", "text/html") == (204, "")

    _, _, content_type = await fetch(await s3.url("pinned.png"))
    assert content_type == "image/png"


async def test_an_expired_presigned_post_is_refused(s3: S3Storage) -> None:
    # presign_upload takes only expires > 0; ask the client itself for one already expired.
    client = await s3.client()
    key = s3.config.s3_key_prefix + "late.png"
    upload = await client.generate_presigned_post(
        s3.config.s3_bucket, key, Fields={"Content-Type": "image/png"},
        Conditions=[{"Content-Type": "image/png"}, ["content-length-range", 0, 100]],
        ExpiresIn=-60,
    )

    assert await post_upload(upload, b"p", "image/png") == (403, "AccessDenied")
    await assert_absent(s3, "late.png")
    with pytest.raises(ValueError, match="expires"):
        await s3.presign_upload("late.png", "image/png", max_bytes=100, expires=0)


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", ".hidden"])
async def test_s3_storage_refuses_bad_keys_before_sending_anything(s3: S3Storage,
                                                                   key: str) -> None:
    with pytest.raises(InvalidKey):
        await s3.put(key, b"x", "text/plain")
    with pytest.raises(InvalidKey):
        await s3.presign_upload(key, "text/plain", 10, 60)
    with pytest.raises(InvalidKey):
        await s3.url(key)


async def test_the_s3_secret_is_never_in_a_repr_or_the_logs(
    server: SeaweedFS, caplog: pytest.LogCaptureFixture
) -> None:
    config = s3_config(server)
    caplog.set_level(logging.DEBUG)

    async with S3Storage(config) as storage:
        await storage.put("secret-test.txt", b"x", "text/plain")
        await storage.get("secret-test.txt")
        url = await storage.url("secret-test.txt")
        upload = await storage.presign_upload("secret-test.txt", "text/plain", 10, 60)
        await storage.delete("secret-test.txt")
        shown = [repr(storage), str(storage), repr(config), repr(config.storage), url,
                 json.dumps(upload), caplog.text]

    assert "botocore" in caplog.text  # its debug lines were captured, and hold no secret
    for text in shown:
        assert server.secret_key not in text
    assert server.secret_key not in repr(server)


# -- choosing a backend --------------------------------------------------------------------


class Recorder:
    """A Storage a config can name: ``tests.storage.test_storage:Recorder``."""

    def __init__(self, config: Config) -> None:
        self.config = config

    async def put(self, key: str, body: Any, content_type: str) -> None:
        pass

    async def get(self, key: str) -> bytes:
        return b""

    async def delete(self, key: str) -> None:
        pass

    async def url(self, key: str) -> str:
        return key

    async def presign_upload(self, key: str, content_type: str, max_bytes: int,
                             expires: int) -> dict[str, Any]:
        return {}


class NotAStorage:
    def __init__(self, config: Config) -> None:
        self.config = config


async def test_storage_for_chooses_the_backend(tmp_path: Path, server: SeaweedFS) -> None:
    local = storage_for(local_config(tmp_path))
    s3 = storage_for(s3_config(server))
    named = storage_for(load_config(env={}, overrides={
        "storage.backend": "tests.storage.test_storage:Recorder"}))

    assert isinstance(local, LocalStorage)
    assert isinstance(s3, S3Storage)
    assert isinstance(named, Recorder)
    assert named.config.storage.backend == "tests.storage.test_storage:Recorder"
    with pytest.raises(ConfigError, match=r"storage\.backend: .* is not a Storage: it has no "
                                          r"put, get, delete, url, presign_upload"):
        storage_for(load_config(env={}, overrides={
            "storage.backend": "tests.storage.test_storage:NotAStorage"}))


def test_the_storage_section_is_checked() -> None:
    with pytest.raises(ConfigError, match=re.escape("storage.backend must be local, s3, or")):
        load_config(env={"HEARTH_STORAGE_BACKEND": "ftp"})
    with pytest.raises(ConfigError, match=re.escape(
            'storage.backend = "s3" needs storage.s3_bucket, storage.s3_access_key, '
            "storage.s3_secret_key")):
        load_config(env={"HEARTH_STORAGE_BACKEND": "s3"})
    with pytest.raises(ConfigError, match=re.escape("storage.s3_key_prefix must be")):
        load_config(env={"HEARTH_STORAGE_S3_KEY_PREFIX": "../up"})
    with pytest.raises(ConfigError, match=re.escape("storage.url_expires must be seconds from 0")):
        load_config(env={"HEARTH_STORAGE_URL_EXPIRES": "604801"})
    with pytest.raises(ConfigError, match=re.escape("storage.s3_endpoint_url must be")):
        load_config(env={"HEARTH_STORAGE_S3_ENDPOINT_URL": "127.0.0.1:8333"})
