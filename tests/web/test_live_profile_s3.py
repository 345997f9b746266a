"""/profile/edit with ``[storage] backend = "s3"``: photos go from the browser straight to a
real S3-compatible server (SeaweedFS), never through Hearth, and the page checks on save that
each arrived and is the image it says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from hearth.testing import Conn, insert, log_in
from live.testing import View, live
from tests.live.test_uploads import PNG, choose, input_of
from tests.storage._seaweed import SeaweedFS, seaweedfs


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with seaweedfs(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture
def hearth_overrides(s3: SeaweedFS) -> dict[str, Any]:
    return {"storage.backend": "s3", "storage.s3_endpoint_url": s3.endpoint_url,
            "storage.s3_bucket": s3.bucket, "storage.s3_access_key": s3.access_key,
            "storage.s3_secret_key": s3.secret_key}


async def profile(conn: Conn) -> View:
    await log_in(conn, await insert("user", display_name="Ann"))
    view, _ = await live(conn, "/profile/edit")
    return view


async def post_to_bucket(meta: dict[str, Any], body: bytes, name: str = "a.png") -> int:
    """What the page's S3 uploader does in the browser: the presigned POST, the file last."""
    form = aiohttp.FormData()
    for key, value in meta["fields"].items():
        form.add_field(key, value)
    form.add_field("file", body, filename=name, content_type="image/png")
    async with aiohttp.ClientSession() as http, http.post(meta["url"], data=form) as answer:
        return answer.status


async def done(view: View, ref: str) -> None:
    await view.push("progress", {"event": None, "ref": input_of(view).get(
        "data-phx-upload-ref"), "entry_ref": ref, "progress": 100})


async def test_a_photo_goes_straight_to_the_bucket_and_is_saved(conn: Conn,
                                                                 s3: SeaweedFS) -> None:
    view = await profile(conn)

    answer = await choose(view, ("a.png", len(PNG)))
    meta = answer["entries"]["0"]
    status = await post_to_bucket(meta, PNG)
    await done(view, "0")
    await view.form("#photos-form").render_submit()

    assert meta["uploader"] == "S3" and meta["key"].startswith("photos/")
    assert status in (200, 201, 204)
    assert view.has_element(".flash-info", "1 photo(s) saved.")
    [saved] = view.document.select(".gallery img")
    assert meta["key"] in saved.get("src") and "X-Amz-Signature" in saved.get("src")
    assert view.has_element("img.avatar")


async def test_a_photo_that_never_arrived_is_not_saved(conn: Conn) -> None:
    view = await profile(conn)
    await choose(view, ("a.png", len(PNG)))

    await done(view, "0")  # the client says so, but nothing reached the bucket
    await view.form("#photos-form").render_submit()

    assert view.has_element(".flash-error", "a.png never arrived")
    assert not view.document.select(".gallery img")


async def test_a_file_that_is_not_the_image_it_says_is_deleted(conn: Conn) -> None:
    view = await profile(conn)
    answer = await choose(view, ("a.png", 100))
    await post_to_bucket(answer["entries"]["0"], b"<html>" + b"x" * 94)

    await done(view, "0")
    await view.form("#photos-form").render_submit()

    assert view.has_element(".flash-error", "a.png is not the image it says")
    assert not view.document.select(".gallery img")


async def test_the_bucket_refuses_more_than_the_policy_allows(conn: Conn) -> None:
    view = await profile(conn)
    answer = await choose(view, ("a.png", 100))

    status = await post_to_bucket(answer["entries"]["0"], PNG + b"\x00" * 10_000_001)

    assert status == 400  # EntityTooLarge: the policy's content-length-range

