"""The application's live pages through the LiveView test client (seed Example 43)."""

from __future__ import annotations

from hearth.testing import Conn
from live.testing import live, render


async def test_mount_and_render_counter(conn: Conn) -> None:
    view, html = await live(conn, "/counter")

    assert 'Count: <span id="count">0</span>' in html
    assert view.has_element("h1", "Count: 0")


async def test_increment_event(conn: Conn) -> None:
    view, _html = await live(conn, "/counter")

    assert '<span id="count">1</span>' in await view.element("button", "+").render_click()
    assert view.has_element("h1", "Count: 1")
    assert "Count: " in render(view)
