"""/profile/edit in headless Chromium with the stock client and S3 storage (SeaweedFS): the
page's S3 uploader sends the photos straight to the bucket (no upload channel is joined),
their progress reaches 100, and the saved photos and the avatar show."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from playwright.async_api import Browser, expect

from hearth.testing import TestNode, insert
from tests.browser import test_live_pages
from tests.browser.test_live_pages import SentFrames, browsing, open_live
from tests.browser.test_room_page import WAIT_MS
from tests.storage._seaweed import SeaweedFS, seaweedfs

chromium = test_live_pages.chromium
screenshots = test_live_pages.screenshots


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour."""
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with seaweedfs(tmp_path_factory.mktemp("seaweed")) as server:
        client = botocore.session.get_session().create_client(
            "s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
            aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key)
        # The page posts from its own origin: the bucket must let it (as an operator sets up).
        client.put_bucket_cors(Bucket=server.bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["POST", "GET"],
             "AllowedHeaders": ["*"]}]})
        yield server


@pytest.fixture
def hearth_overrides(s3: SeaweedFS) -> dict[str, Any]:
    return {"storage.backend": "s3", "storage.s3_endpoint_url": s3.endpoint_url,
            "storage.s3_bucket": s3.bucket, "storage.s3_access_key": s3.access_key,
            "storage.s3_secret_key": s3.secret_key}


async def test_photos_go_straight_to_the_bucket_and_become_the_avatar(
    chromium: Browser, hearth_node: TestNode, s3: SeaweedFS, tmp_path: Path,
    screenshots: Path,
) -> None:
    files = []
    for name, colour in (("red.png", (200, 60, 20)), ("blue.png", (20, 90, 200))):
        path = tmp_path / name
        path.write_bytes(png(160, 120, colour))
        files.append(str(path))
    user = await insert("user", display_name="Ann")
    context, page = await browsing(chromium, hearth_node, user)
    sent = SentFrames(page)
    async with context:
        await open_live(page, "/profile/edit")

        await page.set_input_files("input[type=file]", files)
        progress = page.locator(".entries li progress")
        await expect(progress).to_have_count(2)
        for bar in await progress.all():  # nothing goes up before the submit
            await expect(bar).to_have_attribute("value", "0")
        await page.click("#photos-form button[type=submit]")
        await expect(page.locator(".flash-info")).to_have_text("2 photo(s) saved.",
                                                              timeout=WAIT_MS)

        saved = page.locator(".gallery img")
        await expect(saved).to_have_count(2)
        await expect(page.locator("img.avatar")).to_be_visible()
        for img in await saved.all():
            assert s3.endpoint_url in (await img.get_attribute("src") or "")
            assert await img.evaluate("el => el.complete && el.naturalWidth") == 160
        assert not [f for f in sent.frames if str(f[2]).startswith("lvu:")]  # no byte here
        hundreds = [i for i, f in enumerate(sent.frames) if f[3] == "progress"
                    and f[4].get("progress") == 100]
        save = next(i for i, f in enumerate(sent.frames) if f[3] == "event"
                    and f[4].get("event") == "save")
        assert len(hundreds) == 2 and max(hundreds) < save  # each reached 100, then the save
        await page.screenshot(path=screenshots / "profile-s3.png", full_page=True)
