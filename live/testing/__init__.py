"""LiveViewTest: drive a live page over the real wire, as the browser's client does (Example 43).

The seed's counter test, with this module (the app's counter shows the number in a span of
its own, so the heading's text is what reads "Count: 0"; with the seed's ``<h1>Count:
{@count}</h1>``, ``"Count: 0" in html`` reads the same)::

    from live.testing import live

    async def test_mount_and_render_counter(conn):
        view, html = await live(conn, "/counter")
        assert view.has_element("h1", "Count: 0")          # html =~ "Count: 0"

    async def test_increment_event(conn):
        view, _html = await live(conn, "/counter")
        await view.element("button", "+").render_click()
        assert view.has_element("h1", "Count: 1")          # render(view) =~ "Count: 1"

:func:`live` GETs the page with the conn's cookies (``conn``: a ``hearth.testing.Conn``, or
anything with its ``get``, ``http``, ``node`` and ``secret``), reads the view's container and
the CSRF meta tag, connects to ``/live/websocket`` with the same cookies and joins
``lv:<id>`` as ``phoenix_live_view`` 1.2.12 does. Every diff is merged and patched into a DOM
by :mod:`live.testing.rendered` the moment it arrives (replies and server pushes alike, in
the order the socket brought them), so :meth:`View.render` is the page as the browser shows
it, and :meth:`View.wait_for` waits for a pushed change (``handle_info``) without sleeping.

Interacting, as Phoenix's LiveViewTest (each ``render_*`` returns the view's HTML once the
reply is applied):

- ``view.element(css, text=None)`` -> :class:`Element` (``text``: a substring or a pattern
  of its text): ``render_click(value=None)`` (the element's ``phx-click``: an event name,
  or JS commands whose ``push``/``patch``/``navigate`` run, the others being the browser's
  alone and not applied here; a link without one is followed), ``render_keyup(value)`` and
  ``render_keydown(value)`` (``phx-key`` filters on ``value["key"]``, as the client does),
  ``render_hook(event, value)``, ``has_element()``, ``render()`` (the element's HTML),
  ``text``. Events carry the element's ``phx-value-*`` and ``value``, as the client's do.
- ``view.form(css, data=None)`` -> :class:`Form`: ``render_change(data=None, target=None)``
  and ``render_submit(data=None)``; the form's fields as the DOM has them, overridden by
  ``data`` (nested dicts: ``{"post": {"title": "Hi"}}``), URL-encoded with Plug's nested
  keys, the ``_target`` meta (the last field given, unless ``target`` names one), and
  ``_unused_`` markers for the fields not filled in yet (all count as used once submitted).
- ``view.has_element(css, text=None)``, ``view.render()``, ``view.document`` (the DOM, to
  ``select`` many elements), ``await view.wait_for(lambda html: ..., timeout=5)``,
  :func:`render_patch`, :func:`page_title`.
- For tests of the protocol itself: :meth:`View.push` (a raw push on the view's topic; the
  :class:`~channels.client.Reply`), :meth:`LiveClient.push` (a raw frame on any topic),
  :func:`get_page` and :meth:`LiveClient.join` (a page's join, its :class:`Page` changed
  first with ``dataclasses.replace``).

Assertions: :func:`assert_patch` (a ``push_patch`` the view made; returns the path),
:func:`assert_redirect` (returns the flash), :func:`assert_push_event`,
:func:`assert_reply` (a hook's reply). Each waits up to its ``timeout`` for what it expects.

Redirects are raised: :func:`live` and every ``render_*`` raise :class:`LiveRedirect` when the
page or the view goes elsewhere (an HTTP redirect of the page, a join refused with a redirect,
a ``redirect`` or ``push_navigate`` in the reply); its :class:`Redirect` has ``to``, ``flash``
(opened with the node's key) and ``kind`` (``"redirect"``: a page load; ``"live_redirect"``:
navigation over the socket). ``await follow_redirect(redirected, conn)`` goes there as the
client does (a live navigation joins the new view on the same socket, falling back to a page
load when refused as ``unauthorized``; a redirect's flash rides the ``__phoenix_flash__``
cookie) and returns ``(view, html)`` as :func:`live` does::

    with pytest.raises(LiveRedirect) as redirected:
        await view.element("#confirm-delete").render_click()
    assert redirected.value.flash == {"info": "Post deleted."}
    posts, html = await follow_redirect(redirected.value, conn)

A redirect pushed by the server (from ``handle_info``) is seen by :func:`assert_redirect`.
Other failures: :class:`ViewCrashed` (the view's process crashed before it replied: the client
got ``phx_error`` and rejoins by itself, with a fresh mount), :class:`PushError` (the view
answered with an error reply), :class:`channels.client.JoinError` (the join was refused:
``stale``, ``unauthorized``, ...). A diff that does not merge or patch fails the next call
on the view with the :class:`~live.testing.rendered.RenderError`.

Layout: ``_page`` (the HTTP render, redirects and errors), ``_view`` (the socket and the
joined view), ``_elements`` (elements and forms), ``_functions`` (the module functions above),
``rendered`` (the client's merge rules and the DOM); this module re-exports what tests use.

Lifetime: each :func:`live` opens a socket of its own (one page, one socket); pass
``client=view.client`` to join another view over the same one. Sockets do not reconnect, so
they end when their conn closes (the ``conn`` fixture's end), with ``await view.close()``
(which leaves the view, and closes the socket :func:`live` opened with its last view) or
``await view.client.close()``; a :class:`LiveClient` is also an ``async with`` block.
"""

from channels.client import JoinError

from ._elements import (
    Element,
    Form,
)
from ._functions import (
    assert_patch,
    assert_push_event,
    assert_redirect,
    assert_reply,
    follow_redirect,
    has_element,
    live,
    page_title,
    render,
    render_async,
    render_patch,
)
from ._page import (
    DEFAULT_TIMEOUT,
    Browser,
    LiveRedirect,
    Page,
    PushError,
    Redirect,
    ViewCrashed,
    get_page,
)
from ._uploads import (
    FileEntry,
    Upload,
    Uploader,
    UploadRefused,
    file_input,
    preflight_upload,
    render_upload,
)
from ._view import (
    LiveClient,
    View,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Browser",
    "Element",
    "FileEntry",
    "Form",
    "JoinError",
    "LiveClient",
    "LiveRedirect",
    "Page",
    "PushError",
    "Redirect",
    "Upload",
    "UploadRefused",
    "Uploader",
    "View",
    "ViewCrashed",
    "assert_patch",
    "assert_push_event",
    "assert_redirect",
    "assert_reply",
    "file_input",
    "follow_redirect",
    "get_page",
    "has_element",
    "live",
    "page_title",
    "preflight_upload",
    "render",
    "render_async",
    "render_patch",
    "render_upload",
]
