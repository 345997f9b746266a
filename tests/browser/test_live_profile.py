"""/profile/edit in headless Chromium with the stock client and local storage (the default):
real PNG files chosen in the file input go up over the socket (``lvu:`` channels, in chunks),
each entry's progress bar climbs to 100, and the saved photos and the avatar show; a file of
a kind the page does not take says so and is cancelled with its cancel button.

What each progress bar shows is recorded by a MutationObserver the test installs in the page
(the entries leave the page once saved, so a poll could miss their last value); every other
wait is Playwright's ``expect`` on the page, never a sleep.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from hearth.testing import TestNode, insert
from tests.browser import test_live_pages
from tests.browser.test_live_pages import browsing, open_live

chromium = test_live_pages.chromium
screenshots = test_live_pages.screenshots
"""The browser, and the shared folder of the live pages' screenshots."""

FILE_INPUT = "#photos-form input[type=file]"

WATCH_PROGRESS = """() => {
  window.__progress = {};
  const record = () => {
    for (const li of document.querySelectorAll(".entries li")) {
      const name = li.querySelector(".name").textContent;
      const value = li.querySelector("progress").getAttribute("value");
      const seen = (window.__progress[name] ||= []);
      if (seen[seen.length - 1] !== value) seen.push(value);
    }
  };
  record();
  new MutationObserver(record).observe(document.body,
      {subtree: true, childList: true, attributes: true, characterData: true});
}"""
"""Record, for each chosen file by name, every value its progress bar shows, in order."""


def photo(width: int, height: int, seed: int) -> bytes:
    """A real PNG of random pixels (which do not compress: several upload chunks)."""
    noise = random.Random(seed)
    rows = b"".join(b"\x00" + noise.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def progress_seen(page: Page) -> dict[str, list[int]]:
    seen = await page.evaluate("window.__progress")
    return {name: [int(v) for v in values] for name, values in seen.items()}


async def test_photos_go_up_to_100_and_are_saved_the_first_as_the_avatar(
    chromium: Browser, hearth_node: TestNode, tmp_path: Path, screenshots: Path
) -> None:
    chosen = {"first.png": photo(240, 200, seed=1), "second.png": photo(200, 160, seed=2)}
    for name, content in chosen.items():
        (tmp_path / name).write_bytes(content)
    user = await insert("user", display_name="Ann")
    context, page = await browsing(chromium, hearth_node, user)
    try:
        await open_live(page, "/profile/edit")
        await expect(page.locator(".empty-note")).to_have_text("No photos yet.")
        await page.evaluate(WATCH_PROGRESS)

        await page.set_input_files(FILE_INPUT, [str(tmp_path / name) for name in chosen])
        bars = page.locator(".entries li progress")
        await expect(page.locator(".entries li .name")).to_have_text(list(chosen))
        for bar in await bars.all():  # nothing goes up before the submit
            await expect(bar).to_have_attribute("value", "0")
        await page.click("#photos-form button[type=submit]")

        await expect(page.locator("#flash-info")).to_have_text("2 photo(s) saved.")
        await expect(page.locator(".entries li")).to_have_count(0)
        seen = await progress_seen(page)
        assert set(seen) == set(chosen)
        for name, values in seen.items():  # each bar climbed, chunk by chunk, to 100
            assert values[0] == 0 and values[-1] == 100, (name, values)
            assert values == sorted(values), (name, values)
        gallery = page.locator(".gallery img")
        await expect(gallery).to_have_count(2)
        sources = [await img.get_attribute("src") or "" for img in await gallery.all()]
        assert all(src.startswith(f"/uploads/photos/{user.id}/") for src in sources)
        for img, width in zip(await gallery.all(), (240, 200), strict=True):
            await expect(img).to_have_js_property("naturalWidth", width)  # served and shown
        avatar = page.locator("img.avatar")
        await expect(avatar).to_have_attribute("src", sources[0])
        await expect(avatar).to_have_js_property("naturalWidth", 240)
        root = Path(hearth_node.config.database.path).parent
        assert [(root / src.lstrip("/")).read_bytes() for src in sources] == list(
            chosen.values())
        await page.screenshot(path=screenshots / "profile-photos-saved.png", full_page=True)
    finally:
        await context.close()


async def test_a_text_file_is_not_accepted_and_is_cancelled_with_its_button(
    chromium: Browser, hearth_node: TestNode, tmp_path: Path, screenshots: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    user = await insert("user", display_name="Ann")
    context, page = await browsing(chromium, hearth_node, user)
    try:
        await open_live(page, "/profile/edit")

        await page.set_input_files(FILE_INPUT, str(notes))
        entry = page.locator(".entries li")
        await expect(entry).to_have_count(1)
        await expect(entry.locator(".name")).to_have_text("notes.txt")
        await expect(entry.locator(".field-error")).to_have_text(
            "That kind of file is not accepted.")
        await page.screenshot(path=screenshots / "profile-not-accepted.png", full_page=True)

        await page.click("button[aria-label='cancel notes.txt']")

        await expect(entry).to_have_count(0)
        await expect(page.locator(".field-error")).to_have_count(0)
        await expect(page.locator(FILE_INPUT)).to_have_attribute("data-phx-active-refs", "")
        await expect(page.locator(".empty-note")).to_have_text("No photos yet.")
        await page.screenshot(path=screenshots / "profile-cancelled.png", full_page=True)
    finally:
        await context.close()
