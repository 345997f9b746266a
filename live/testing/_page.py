"""What a LiveViewTest reads of a page: its HTTP render, and the errors and redirects a
test can meet (see :mod:`live.testing`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape as html_escape
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin

import aiohttp
from lxml import html as lxml_html  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from ._view import View

TextFilter = str | re.Pattern[str] | None
"""What an element's text must contain (a string) or match (a pattern)."""

DEFAULT_TIMEOUT = 5.0
"""Seconds a push waits for its reply, and an assertion or wait for what it expects."""
REJOIN_AFTER = (0.01, 0.05, 0.1, 0.5)
"""The rejoin schedule after a crash, in seconds (the browser waits 1 s, then 2 s, 5 s, ...)."""
LIVE_PATH = "/live"


# -- what a test reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """Where a page or a view sent the browser, and the flash it carried."""

    to: str
    flash: dict[str, str] = field(default_factory=dict)
    kind: str = "redirect"
    """``"redirect"`` (a page load) or ``"live_redirect"`` (navigation over the socket)."""
    flash_token: str | None = field(default=None, repr=False, compare=False)
    """The sealed flash, as the client keeps it for the next page."""
    origin: View | None = field(default=None, repr=False, compare=False)
    """The view that navigated, whose socket a live navigation continues on."""


class LiveRedirect(Exception):
    """The page or the view went elsewhere: follow it with :func:`follow_redirect`."""

    def __init__(self, redirect: Redirect) -> None:
        flash = f" with flash {redirect.flash}" if redirect.flash else ""
        super().__init__(f"{redirect.kind} to {redirect.to}{flash}")
        self.redirect = redirect

    @property
    def to(self) -> str:
        return self.redirect.to

    @property
    def flash(self) -> dict[str, str]:
        return self.redirect.flash

    @property
    def kind(self) -> str:
        return self.redirect.kind


class ViewCrashed(Exception):
    """The view's process crashed before it replied (the client got ``phx_error``); the
    client rejoins by itself, with a fresh mount: wait for it with :meth:`View.wait_for`."""


class PushError(Exception):
    """The view answered a push with an error reply (``response``: what it said)."""

    def __init__(self, event: str, response: Any) -> None:
        super().__init__(f"{event!r} refused: {response!r}")
        self.response = response

    @property
    def reason(self) -> str:
        return str(self.response.get("reason")) if isinstance(self.response, dict) else ""


class _Node(Protocol):
    @property
    def url(self) -> str: ...


class _Answer(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def location(self) -> str | None: ...
    @property
    def flashes(self) -> list[tuple[str, str]]: ...


class Browser(Protocol):
    """What the client needs of a conn (``hearth.testing.Conn`` has it): its cookies'
    HTTP session, the node it talks to, and the node's key to open flashes."""

    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def node(self) -> _Node: ...
    @property
    def secret(self) -> bytes: ...
    async def get(self, path: str) -> _Answer: ...


# -- the page -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A live page as its HTTP render served it: what the client reads before it joins."""

    url: str
    view_id: str
    session: str
    static: str | None
    csrf_token: str
    html: str
    """The container's inner HTML."""
    title: str
    title_prefix: str = ""
    title_suffix: str = ""
    title_default: str | None = None

    @property
    def topic(self) -> str:
        return f"lv:{self.view_id}"


async def get_page(conn: Browser, path: str) -> Page:
    """GET ``path`` and read its live container; :class:`LiveRedirect` if it redirects."""
    resp = await conn.get(path)
    if 300 <= resp.status < 400 and resp.location is not None:
        raise LiveRedirect(Redirect(resp.location, dict(resp.flashes)))
    if resp.status != 200:
        raise AssertionError(f"GET {path}: status {resp.status}: {resp.text[:300]!r}")
    doc = lxml_html.document_fromstring(resp.text)
    found = doc.xpath("//*[@data-phx-main]") or doc.xpath("//*[@data-phx-session]")
    if not found:
        raise AssertionError(f"GET {path}: not a live page (no data-phx-session container)")
    container = found[0]
    csrf = doc.xpath('//meta[@name="csrf-token"]/@content')
    if not csrf:
        raise AssertionError(f"GET {path}: the page has no <meta name=\"csrf-token\">")
    titles = doc.xpath("//title")
    title = titles[0] if titles else None
    static = container.get("data-phx-static") or None
    return Page(
        url=urljoin(conn.node.url, path), view_id=container.get("id"),
        session=container.get("data-phx-session"), static=static, csrf_token=str(csrf[0]),
        html=_inner_html(container),
        title=title.text_content() if title is not None else "",
        title_prefix=title.get("data-prefix", "") if title is not None else "",
        title_suffix=title.get("data-suffix", "") if title is not None else "",
        title_default=title.get("data-default") if title is not None else None,
    )


def _inner_html(el: Any) -> str:
    text = html_escape(el.text or "", quote=False)
    return text + "".join(lxml_html.tostring(child, encoding=str) for child in el)


