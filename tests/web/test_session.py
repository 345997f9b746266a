"""The session cookie: sealed, short of what it must not carry, and ended on the server."""

from __future__ import annotations

import base64
import time

import pytest

from actors.repo import Repo
from hearth.testing import PASSWORD, SECRET_KEY, Conn, Response, TestNode, insert, log_in
from web.session import Session, decode, encode

SECRET = SECRET_KEY.encode()
DAY = 86400.0


async def log_in_by_form(conn: Conn, email: str, *, follow: bool = True) -> Response:
    """Open the login page and submit it, as a person does; the answer (followed)."""
    await conn.get("/login")
    return await conn.post("/login", {"email": email, "password": PASSWORD}, follow=follow)


def flip(value: str, index: int) -> str:
    """``value`` with one bit of its ``index``-th decoded byte flipped."""
    raw = bytearray(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


# -- the sealed value ------------------------------------------------------------------------


def test_a_sealed_session_opens_with_the_same_key() -> None:
    session = Session("tok", "csrf", [("info", "Hello")], issued_at=time.time())

    opened = decode(encode(session, SECRET), SECRET, DAY)

    assert opened is not None
    assert (opened.token, opened.csrf, opened.flashes) == ("tok", "csrf", [("info", "Hello")])


def test_the_cookie_does_not_show_what_it_carries() -> None:
    value = encode(Session("the-session-token", "the-csrf-token"), SECRET)

    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert b"the-session-token" not in raw and b"the-csrf-token" not in raw


@pytest.mark.parametrize("index", [0, 1, 12, 13, 20, -1])
def test_a_cookie_with_any_byte_changed_does_not_open(index: int) -> None:
    value = encode(Session("tok", "csrf"), SECRET)

    assert decode(flip(value, index), SECRET, DAY) is None


@pytest.mark.parametrize("value", ["", "x", "!!!!", "AQ", "AQ" + "A" * 60, "Zm9v" * 20])
def test_garbage_does_not_open(value: str) -> None:
    assert decode(value, SECRET, DAY) is None


def test_a_cookie_sealed_with_another_key_does_not_open() -> None:
    value = encode(Session("tok", "csrf"), b"another secret key, also long enough")

    assert decode(value, SECRET, DAY) is None


def test_a_cookie_issued_longer_ago_than_max_age_does_not_open() -> None:
    value = encode(Session("tok", "csrf", issued_at=time.time() - DAY - 1), SECRET)

    assert decode(value, SECRET, DAY) is None


# -- in a browser ----------------------------------------------------------------------------


@pytest.mark.hearth_config({"auth.session_max_age": 3600.0})
async def test_the_cookie_is_httponly_lax_for_the_whole_site_and_lives_session_max_age(
    conn: Conn,
) -> None:
    await insert("user", email="alice@example.com")

    page = await log_in_by_form(conn, "alice@example.com", follow=False)

    assert page.status == 303
    cookie = page.set_cookie
    assert cookie is not None
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert "path=/" in cookie.lower()
    assert "max-age=3600" in cookie.lower()
    assert "secure" not in attributes  # plain http, cookie_secure "auto"


@pytest.mark.hearth_config({"auth.cookie_secure": "always"})
async def test_cookie_secure_always_marks_the_cookie_secure(conn: Conn) -> None:
    page = await conn.get("/login")

    assert page.set_cookie is not None
    assert "; secure" in page.set_cookie.lower()


async def test_the_cookie_is_written_only_when_the_session_changes(conn: Conn) -> None:
    first = await conn.get("/")
    second = await conn.get("/")
    health = await conn.get("/health")

    assert first.set_cookie is not None  # the CSRF token was made
    assert second.set_cookie is None
    assert health.set_cookie is None


async def test_responses_setting_the_cookie_and_signed_in_pages_are_marked_no_store(
    conn: Conn,
) -> None:
    await insert("user", email="alice@example.com")
    first = await conn.get("/login")  # makes the CSRF token: sets the cookie
    public = await conn.get("/posts")  # a visitor's page, cookie unchanged
    signed_in = await log_in_by_form(conn, "alice@example.com", follow=False)
    landing = await conn.get("/")  # shows the welcome flash: cookie rewritten
    private = await conn.get("/account")  # nothing changes: only the user is there
    signed_out = await conn.post("/logout")

    assert first.set_cookie is not None and public.set_cookie is None
    assert first.headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in public.headers
    for page in (signed_in, landing, signed_out):
        assert page.set_cookie is not None
        assert page.headers["Cache-Control"] == "no-store"
    assert private.set_cookie is None and private.user is not None
    assert private.headers["Cache-Control"] == "no-store"


async def test_a_tampered_cookie_is_anonymous_and_not_an_error(conn: Conn) -> None:
    await log_in(conn, await insert("user", display_name="Alice"))
    assert conn.cookie is not None
    conn.cookie = flip(conn.cookie, 30)

    home = await conn.get("/")
    account = await conn.get("/account")

    assert home.status == 200
    assert home.user is None
    assert account.status == 302
    assert account.location is not None and account.location.startswith("/login")


async def test_a_session_that_expired_on_the_server_is_anonymous(conn: Conn) -> None:
    await log_in(conn, await insert("user", display_name="Alice"))
    assert (await conn.get("/")).user == "Alice"

    await Repo.execute("UPDATE sessions SET expires_at = ?", (time.time() - 1,))
    page = await conn.get("/")

    assert page.status == 200
    assert page.user is None
    assert (await conn.get("/account")).status == 302


async def test_a_cookie_older_than_session_max_age_is_anonymous(
    hearth_node: TestNode, conn: Conn,
) -> None:
    await log_in(conn, await insert("user", display_name="Alice"))
    assert conn.cookie is not None
    max_age = hearth_node.config.auth.session_max_age
    session = decode(conn.cookie, SECRET, max_age)
    assert session is not None
    session.issued_at = time.time() - max_age - 1
    conn.cookie = encode(session, SECRET)

    page = await conn.get("/")

    assert page.user is None


async def test_logging_in_starts_a_new_session_and_the_old_cookie_stops_working(
    hearth_node: TestNode, conn: Conn,
) -> None:
    await log_in(conn, await insert("user", email="alice@example.com", display_name="Alice"))
    before_csrf = (await conn.get("/")).csrf_meta
    before = conn.cookie
    assert before_csrf is not None

    page = await log_in_by_form(conn, "alice@example.com")

    assert page.user == "Alice"
    assert conn.cookie != before
    assert page.csrf_meta != before_csrf
    async with Conn(hearth_node) as thief:
        thief.cookie = before
        assert (await thief.get("/")).user is None
        assert (await thief.get("/account")).status == 302


async def test_logging_out_ends_the_session_for_every_copy_of_the_cookie(
    hearth_node: TestNode, conn: Conn,
) -> None:
    await log_in(conn, await insert("user", display_name="Alice"))
    copy = conn.cookie

    page = await conn.post("/logout", follow=True)

    assert page.user is None
    async with Conn(hearth_node) as thief:
        thief.cookie = copy
        assert (await thief.get("/")).user is None
    rows = await Repo.fetch_all("SELECT id_hash FROM sessions")
    assert rows == []


async def test_the_database_keeps_only_a_hash_of_the_session_token(conn: Conn) -> None:
    await log_in(conn, await insert("user"))
    assert conn.cookie is not None
    session = decode(conn.cookie, SECRET, DAY)
    assert session is not None and session.token is not None

    rows = await Repo.fetch_all("SELECT id_hash FROM sessions")

    assert len(rows) == 1
    assert rows[0]["id_hash"] != session.token
    assert session.token not in rows[0]["id_hash"]


async def test_api_requests_get_no_session_and_no_csrf_check(conn: Conn) -> None:
    page = await conn.post("/api/v1/no-such-thing", {}, csrf="")

    assert page.status != 403
    assert page.set_cookie is None
