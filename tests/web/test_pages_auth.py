"""Registering, logging in and out, and resetting a forgotten password, in a browser."""

from __future__ import annotations

import re

from yarl import URL

from actors.repo import Repo
from hearth.testing import PASSWORD, Conn, Response, TestNode, insert, log_in

NEW_PASSWORD = "a brand new passphrase"
ALICE = {"email": "alice@example.com", "display_name": "Alice", "password": PASSWORD}
REGISTERED = ("Thanks for registering! A mail is on its way to {}: log in with your email"
              " and password.")
_CSRF = re.compile(r'(name="_csrf" value="|name="csrf-token" content=")[^"]*"')


async def log_in_by_form(conn: Conn, email: str, password: str = PASSWORD, *,
                         follow: bool = True) -> Response:
    """Open the login page and submit it, as a person does; the page after."""
    await conn.get("/login")
    return await conn.post("/login", {"email": email, "password": password}, follow=follow)


def seen(sent: Response, followed: Response) -> tuple[object, ...]:
    """What a person sees of a form's answer: where it sends them and the page there (with
    this browser's own CSRF token taken out), and whether it set a cookie."""
    page = _CSRF.sub(r"\1", followed.text)
    return (sent.status, sent.location, sent.set_cookie is not None, followed.status, page)


async def latest_mail_to(email: str) -> str:
    row = await Repo.fetch_one(
        "SELECT body FROM outbox WHERE recipient = ? ORDER BY id DESC LIMIT 1", (email,)
    )
    assert row is not None, f"no mail to {email}"
    body: str = row["body"]
    return body


def links_in(body: str) -> list[str]:
    """The paths of the links in a mail (on the node's configured address)."""
    return [URL(link).path for link in re.findall(r"https?://\S+", body)]


def reset_path(body: str) -> str:
    found = re.search(r"https?://\S+/password/reset/\S+", body)
    assert found, body
    return URL(found.group(0)).path


# -- registering -----------------------------------------------------------------------------


async def test_registering_sends_the_new_user_to_log_in_with_a_welcome_mail(conn: Conn) -> None:
    await conn.get("/register")
    sent = await conn.post("/register", ALICE)
    page = await conn.get(sent.location or "", follow=True)
    mail = await latest_mail_to("alice@example.com")
    signed_in = await log_in_by_form(conn, "alice@example.com")

    assert (sent.status, sent.location) == (303, "/login")
    assert page.user is None
    assert page.flashes == [("info", REGISTERED.format("alice@example.com"))]
    assert links_in(mail) == ["/login"]
    assert signed_in.user == "Alice"


async def test_registering_a_taken_email_answers_the_same_and_mails_its_owner(
    hearth_node: TestNode,
) -> None:
    answers = []
    for display_name, password in (("Alice", PASSWORD), ("Mallory", "another passphrase")):
        async with Conn(hearth_node) as browser:
            await browser.get("/register")
            form = {**ALICE, "display_name": display_name, "password": password}
            sent = await browser.post("/register", form)
            followed = await browser.get(sent.location or "", follow=True)
            answers.append(seen(sent, followed))
    mail = await latest_mail_to("alice@example.com")
    users = await Repo.fetch_all("SELECT email, display_name FROM users")
    async with Conn(hearth_node) as browser:
        mallory = await log_in_by_form(browser, "alice@example.com", "another passphrase")
    async with Conn(hearth_node) as browser:
        alice = await log_in_by_form(browser, "alice@example.com")

    new, taken = answers
    assert new == taken
    assert [tuple(u) for u in users] == [("alice@example.com", "Alice")]
    assert "Hello Alice," in mail and "tried to register" in mail
    assert links_in(mail) == ["/login", "/password/forgot"]
    assert mallory.user is None
    assert alice.user == "Alice"


async def test_a_bad_registration_shows_each_error_and_keeps_what_was_typed_but_the_password(
    conn: Conn,
) -> None:
    await conn.get("/register")

    page = await conn.post(
        "/register",
        {"email": "not an email", "display_name": "Alice", "password": "short pw"},
    )

    assert page.status == 422
    assert set(page.field_errors) == {"email", "password"}
    assert 'value="not an email"' in page.text
    assert 'value="Alice"' in page.text
    assert "short pw" not in page.text
    assert page.user is None
    assert await Repo.fetch_all("SELECT id FROM users") == []


# -- logging in and out ----------------------------------------------------------------------


async def test_logging_out_and_in_again(conn: Conn) -> None:
    await log_in(conn, await insert("user", email="alice@example.com", display_name="Alice"))

    out = await conn.post("/logout", follow=True)
    assert out.user is None
    assert ("info", "Logged out.") in out.flashes
    assert (await conn.get("/account")).status == 302

    back = await log_in_by_form(conn, "alice@example.com")
    assert back.user == "Alice"
    assert ("info", "Welcome back, Alice!") in back.flashes


async def test_a_wrong_password_shows_a_flash_and_keeps_the_email(conn: Conn) -> None:
    await insert("user", email="alice@example.com")

    page = await log_in_by_form(conn, "alice@example.com", "not the password")

    assert page.status == 422
    assert page.flashes == [("error", "Invalid email or password.")]
    assert 'value="alice@example.com"' in page.text
    assert "not the password" not in page.text
    assert page.user is None


async def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(conn: Conn) -> None:
    page = await log_in_by_form(conn, "nobody@example.com", "whatever it is")

    assert page.status == 422
    assert page.flashes == [("error", "Invalid email or password.")]


async def test_login_goes_on_to_the_next_page_on_this_site_only(conn: Conn) -> None:
    await log_in(conn, await insert("user", email="alice@example.com"))
    targets = {
        "/account": "/account",
        "/account?tab=1": "/account?tab=1",
        "https://evil.example/": "/",
        "//evil.example/x": "/",
        "/\\evil.example": "/",
        "/\t/evil.example": "/",
        "/%2F/evil.example": "/%2F/evil.example",
        "": "/",
    }
    for target, expected in targets.items():
        await conn.get("/login")
        page = await conn.post(
            "/login", {"email": "alice@example.com", "password": PASSWORD, "next": target}
        )
        assert (page.status, page.location) == (303, expected), target


# -- forgotten passwords ---------------------------------------------------------------------


async def test_asking_for_a_reset_answers_the_same_whether_or_not_the_email_is_known(
    hearth_node: TestNode,
) -> None:
    await insert("user", email="alice@example.com")
    answers = []
    for email in ("alice@example.com", "nobody@example.com"):
        async with Conn(hearth_node) as browser:
            await browser.get("/password/forgot")
            sent = await browser.post("/password/forgot", {"email": email})
            shown = await browser.get(sent.location or "")
            answers.append((sent.status, sent.location, shown.status, shown.flashes))

    assert answers[0] == answers[1]
    assert answers[0][0] == 303
    recipients = [r["recipient"] for r in await Repo.fetch_all(
        "SELECT recipient FROM outbox WHERE subject LIKE 'Reset%'")]
    assert recipients == ["alice@example.com"]


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_other_session(
    hearth_node: TestNode,
) -> None:
    alice = await insert("user", email="alice@example.com", display_name="Alice")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as phone:
        await log_in(laptop, alice)
        await log_in(phone, alice)
        assert (await phone.get("/")).user == "Alice"

        async with Conn(hearth_node) as other:
            await other.get("/password/forgot")
            await other.post("/password/forgot", {"email": "alice@example.com"})
            link = reset_path(await latest_mail_to("alice@example.com"))

            form = await other.get(link)
            assert form.status == 200
            assert form.headers["Referrer-Policy"] == "no-referrer"
            done = await other.post(link, {"password": NEW_PASSWORD}, follow=True)

            assert done.user == "Alice"
            assert ("info", "Your password has been changed.") in done.flashes

            again = await other.post(link, {"password": "yet another passphrase"})
            assert (again.status, again.location) == (303, "/password/forgot")
            refused = await other.get("/password/forgot")
            assert refused.flashes == [
                ("error", "That reset link is invalid or has expired. Ask for a new one.")
            ]

        assert (await laptop.get("/")).user is None
        assert (await phone.get("/")).user is None

    async with Conn(hearth_node) as browser:
        assert (await log_in_by_form(browser, "alice@example.com", PASSWORD)).user is None
        assert (await log_in_by_form(browser, "alice@example.com", NEW_PASSWORD)).user == "Alice"


async def test_a_too_short_new_password_is_refused_and_the_link_still_works(conn: Conn) -> None:
    await insert("user", email="alice@example.com", display_name="Alice")
    await conn.get("/password/forgot")
    await conn.post("/password/forgot", {"email": "alice@example.com"})
    link = reset_path(await latest_mail_to("alice@example.com"))
    await conn.get(link)

    short = await conn.post(link, {"password": "short"})
    assert short.status == 422
    assert "password" in short.field_errors
    assert short.user is None

    done = await conn.post(link, {"password": NEW_PASSWORD}, follow=True)
    assert done.user == "Alice"


async def test_an_unknown_reset_link_is_refused(conn: Conn) -> None:
    await conn.get("/password/reset/not-a-real-token")

    page = await conn.post(
        "/password/reset/not-a-real-token", {"password": NEW_PASSWORD}, follow=True
    )

    assert page.flashes == [
        ("error", "That reset link is invalid or has expired. Ask for a new one.")
    ]
    assert page.user is None


# -- the account page ------------------------------------------------------------------------


async def test_logging_out_everywhere_else_keeps_only_this_browser(
    hearth_node: TestNode,
) -> None:
    alice = await insert("user", email="alice@example.com", display_name="Alice")
    async with Conn(hearth_node) as laptop, Conn(hearth_node) as phone:
        await log_in(laptop, alice)
        await log_in(phone, alice)

        await laptop.get("/account")
        page = await laptop.post("/account/sessions/end", follow=True)

        assert page.user == "Alice"
        assert ("info", "You are now logged out everywhere else.") in page.flashes
        assert (await phone.get("/")).user is None
        assert (await laptop.get("/account")).status == 200
