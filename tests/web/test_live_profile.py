"""``/profile/edit`` through the LiveView test client: photos chosen, uploaded over the
socket in chunks with their progress, refused (too many, not accepted, too large, a PNG name
on other bytes) and saved with ``hearth.storage``, the first becoming the avatar; on local
storage (the default, served under ``/uploads/``) and on S3 (a real SeaweedFS)."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contexts import photos
from contexts.accounts import User
from hearth.config import load_config
from hearth.storage import S3Storage
from hearth.testing import Conn, TestNode, insert, log_in
from live.testing import (
    FileEntry,
    LiveRedirect,
    UploadRefused,
    View,
    file_input,
    live,
    preflight_upload,
    render_upload,
)
from tests.storage._seaweed import SeaweedFS, seaweedfs

FORM = "#photos-form"


def png(size: int = 200, shade: int = 0) -> bytes:
    """A real 2x2 PNG of one ``shade``, ``size`` bytes long (a tEXt chunk pads it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    pixels = b"".join(b"\x00" + bytes((shade, 255 - shade, 128)) * 2 for _ in range(2))
    head = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)))
    end = chunk(b"IEND", b"")
    padding = size - len(head) - len(end) - 12 - len(b"Comment\x00")
    assert padding >= 0, f"a PNG of these pixels takes more than {size} bytes"
    return head + chunk(b"tEXt", b"Comment\x00" + b"x" * padding) + end


def image(name: str, content: bytes, content_type: str = "image/png",
          **extra: Any) -> dict[str, Any]:
    return {"name": name, "content": content, "type": content_type, **extra}


async def signed_in(conn: Conn, name: str = "ann") -> User:
    user: User = await insert("user", email=f"{name}@example.com", display_name=name)
    await log_in(conn, user)
    return user


def entries(view: View) -> list[tuple[str, str, str]]:
    """Each chosen file the page lists: its name, its progress bar's value, its errors."""
    return [(li.cssselect(".name")[0].text_content(),
             li.cssselect("progress")[0].get("value"),
             " ".join(e.text_content() for e in li.cssselect(".field-error")))
            for li in view.document.select("ul.entries li")]


def gallery(view: View) -> list[str]:
    return [img.get("src") for img in view.document.select(".gallery img")]


def avatar(view: View) -> str | None:
    found = view.document.select("img.avatar")
    return found[0].get("src") if found else None


def uploads_dir(node: TestNode) -> Path:
    return Path(node.config.database.path).parent / "uploads"


def stored_files(node: TestNode) -> list[Path]:
    root = uploads_dir(node)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- choosing -----------------------------------------------------------------------------------


async def test_two_pngs_chosen_are_listed_with_their_progress(conn: Conn) -> None:
    await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, FORM, "photos", [image("a.png", png(shade=10)),
                                               image("b.png", png(shade=200))])

    await upload.render_change()
    assert entries(view) == [("a.png", "0", ""), ("b.png", "0", "")]
    assert len(view.document.select("ul.entries img[data-phx-hook='Phoenix.LiveImgPreview']")) == 2

    await render_upload(upload, "a.png", 50)
    assert entries(view) == [("a.png", "50", ""), ("b.png", "0", "")]

    await render_upload(upload, "a.png", 50)  # the other half: done
    await render_upload(upload, "b.png")
    assert entries(view) == [("a.png", "100", ""), ("b.png", "100", "")]
    assert view.has_element("ul.entries progress", "100%")


# -- saving -------------------------------------------------------------------------------------


async def test_saved_photos_are_stored_listed_served_and_the_first_is_the_avatar(
    conn: Conn, hearth_node: TestNode
) -> None:
    user = await signed_in(conn)
    first, second = png(shade=10), png(300, shade=200)
    view, _ = await live(conn, "/profile/edit")
    assert view.has_element(".empty-note", "No photos yet.")
    assert avatar(view) is None
    upload = file_input(view, FORM, "photos", [image("first.png", first),
                                               image("second.png", second)])
    await render_upload(upload, "first.png")
    await render_upload(upload, "second.png")

    await view.form(FORM).render_submit()

    assert view.has_element("#flash-info", "2 photo(s) saved.")
    assert entries(view) == []
    urls = gallery(view)
    assert len(urls) == 2
    assert all(re.fullmatch(rf"/uploads/photos/{user.id}/[0-9a-f]{{16}}\.png", u) for u in urls)
    assert avatar(view) == urls[0]
    assert not view.has_element(".empty-note")
    root = uploads_dir(hearth_node)
    assert stored_files(hearth_node) == sorted(root / u.removeprefix("/uploads/") for u in urls)
    assert [(root / u.removeprefix("/uploads/")).read_bytes() for u in urls] == [first, second]
    for url, content in zip(urls, [first, second], strict=True):
        served = await conn.get(url)
        assert served.status == 200
        assert served.headers["Content-Type"] == "image/png"
        assert served.raw == content
    assert [p.url for p in await photos.list_photos(user.id)] == urls


# -- refusals -----------------------------------------------------------------------------------


async def test_a_sixth_file_is_too_many(conn: Conn) -> None:
    await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, FORM, "photos",
                        [image(f"p{n}.png", png(shade=n)) for n in range(6)])

    await upload.render_change()
    answer = await preflight_upload(upload)

    assert view.has_element(f"{FORM} .field-error[data-field=photos]", "Too many files.")
    assert answer["errors"] == {upload.entry("p5.png").ref: ["too_many_files"]}
    assert sorted(answer["entries"]) == sorted(upload.entry(f"p{n}.png").ref for n in range(5))


async def test_a_gif_or_a_txt_is_not_accepted(conn: Conn) -> None:
    await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, FORM, "photos", [
        image("cat.gif", b"GIF89a" + b"\x00" * 40, "image/gif"),
        image("notes.txt", b"some notes", "text/plain"),
    ])

    await upload.render_change()

    refused = "That kind of file is not accepted."
    assert entries(view) == [("cat.gif", "0", refused), ("notes.txt", "0", refused)]
    for name in ("cat.gif", "notes.txt"):
        with pytest.raises(UploadRefused) as raised:
            await render_upload(upload, name)
        assert raised.value.reasons == ["not_accepted"]


async def test_a_file_declared_over_10_mb_is_too_large(conn: Conn) -> None:
    await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, FORM, "photos",
                        [image("huge.png", png(), size=10_000_001)])

    answer = await preflight_upload(upload)

    assert answer["errors"] == {upload.entry("huge.png").ref: ["too_large"]}
    assert answer["entries"] == {}
    assert entries(view) == [("huge.png", "0", "The file is too large.")]
    with pytest.raises(UploadRefused, match="too_large"):
        await render_upload(upload, "huge.png")


async def test_a_png_name_on_other_bytes_ends_not_accepted_and_nothing_is_saved(
    conn: Conn, hearth_node: TestNode
) -> None:
    user = await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, FORM, "photos",
                        [image("photo.png", b"<html><script>1</script>" + b" " * 100)])
    assert (await preflight_upload(upload))["errors"] == {}

    await render_upload(upload, "photo.png")
    assert entries(view) == [("photo.png", "100", "That kind of file is not accepted.")]

    await view.form(FORM).render_submit()
    assert gallery(view) == []
    assert view.has_element(".empty-note", "No photos yet.")
    assert stored_files(hearth_node) == []
    assert await photos.list_photos(user.id) == []


async def test_a_signed_out_visitor_is_sent_to_log_in(conn: Conn) -> None:
    with pytest.raises(LiveRedirect) as refused:
        await live(conn, "/profile/edit")

    assert refused.value.to == "/login?next=/profile/edit"
    assert refused.value.flash == {"error": "You must log in to see this page."}


# -- on S3 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3 server for the module's S3 tests (started only if one runs)."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as running:
        yield running


def s3_settings(server: SeaweedFS) -> dict[str, Any]:
    return {"storage.backend": "s3", "storage.s3_endpoint_url": server.endpoint_url,
            "storage.s3_bucket": server.bucket, "storage.s3_access_key": server.access_key,
            "storage.s3_secret_key": server.secret_key}


@pytest.fixture
def hearth_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The node stores on the running SeaweedFS for the tests that ask for it (``seaweed``);
    the others keep local storage."""
    if "seaweed" not in request.fixturenames:
        return {}
    return s3_settings(request.getfixturevalue("seaweed"))


async def to_bucket(meta: dict[str, Any], entry: FileEntry) -> str | None:
    """The page's S3 uploader (web/static/live.js) in Python: the presigned POST's fields,
    then the file."""
    form = aiohttp.FormData()
    for key, value in meta["fields"].items():
        form.add_field(key, value)
    form.add_field("file", entry.content, filename=entry.name, content_type=entry.type)
    async with aiohttp.ClientSession() as http, http.post(meta["url"], data=form) as answer:
        ok = 200 <= answer.status < 300
        return None if ok else f"the storage refused the file ({answer.status})"


async def test_with_s3_storage_the_photos_land_in_the_bucket_listed_with_presigned_urls(
    conn: Conn, hearth_node: TestNode, seaweed: SeaweedFS
) -> None:
    user = await signed_in(conn)
    first, second = png(shade=30), png(400, shade=90)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, FORM, "photos", [image("one.png", first),
                                               image("two.png", second)],
                        uploaders={"S3": to_bucket})
    await render_upload(upload, "one.png")
    await render_upload(upload, "two.png")

    await view.form(FORM).render_submit()

    assert view.has_element("#flash-info", "2 photo(s) saved.")
    saved = await photos.list_photos(user.id)
    assert [p.url for p in saved] == gallery(view)
    assert avatar(view) == saved[0].url
    assert stored_files(hearth_node) == []  # nothing on local disk
    config = load_config(env={}, overrides=s3_settings(seaweed))
    async with S3Storage(config) as bucket, aiohttp.ClientSession() as browser:
        assert [await bucket.get(p.key) for p in saved] == [first, second]
        for photo, content in zip(saved, [first, second], strict=True):
            assert re.fullmatch(rf"photos/{user.id}/[0-9a-f]{{16}}\.png", photo.key)
            assert photo.url.startswith(f"{seaweed.endpoint_url}/{seaweed.bucket}/{photo.key}?")
            assert "X-Amz-Signature=" in photo.url
            async with browser.get(photo.url) as answer:  # the presigned URL, as a browser
                assert answer.status == 200
                assert await answer.read() == content


async def test_more_bytes_than_declared_are_refused_and_said_once(conn: Conn) -> None:
    await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    upload = file_input(view, "#photos-form", "photos", [image("a.png", png(300), size=100)])

    with pytest.raises(UploadRefused):
        await render_upload(upload, "a.png")

    assert entries(view) == [("a.png", "0", "The file is larger than it said.")]


async def test_photos_at_the_size_limit_go_up_past_the_event_rate(conn: Conn) -> None:
    # 2 x 9.9 MB: 310 chunks of 64 kB and 200 progress reports, past the user's event burst
    # (200): an upload's own pushes are bounded by its size, not by the event rate.
    await signed_in(conn)
    view, _ = await live(conn, "/profile/edit")
    big = [png(shade=n)[:8] + b"\x00" * 9_900_000 for n in (1, 2)]
    upload = file_input(view, FORM, "photos", [image("a.png", big[0]), image("b.png", big[1])])

    await render_upload(upload, "a.png")
    await render_upload(upload, "b.png")
    await view.form(FORM).render_submit()

    assert view.has_element("#flash-info", "2 photo(s) saved.")
