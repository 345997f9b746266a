"""Signing in with a real OpenID provider (npm ``oidc-provider``, see ``conftest.py``): each
kind of client, GitHub's preset, new and existing users, linking and unlinking.

Each test is a person in a browser: the buttons of Hearth's pages, the provider's sign-in
and consent pages, and what Hearth shows after. The provider's account for a login name is
``<login>@example.com``, verified unless the login starts with ``unverified``.
"""

from __future__ import annotations

from actors.repo import Repo
from hearth.testing import (
    PASSWORD,
    TestNode,
    get_flash,
    html_response,
    insert,
    log_in,
    log_in_with_password,
    redirected_to,
)

from ._provider import Browser


async def users() -> list[tuple[str, str]]:
    rows = await Repo.fetch_all("SELECT email, display_name FROM users ORDER BY id")
    return [(r["email"], r["display_name"]) for r in rows]


async def identities() -> list[tuple[str, str, str]]:
    rows = await Repo.fetch_all(
        "SELECT u.email, i.provider, i.uid FROM identities i JOIN users u ON u.id = i.user_id"
        " ORDER BY i.id")
    return [(r["email"], r["provider"], r["uid"]) for r in rows]


async def test_a_confidential_client_signs_a_new_user_in(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        back = await browser.sign_in("basic", "ann")
        home = await browser.conn.get(redirected_to(back))

    assert redirected_to(back, 303) == "/"
    assert get_flash(back, "info") == "Signed in with Local ID. Welcome, Ann Example!"
    assert home.user == "Ann Example"
    assert await users() == [("ann@example.com", "Ann Example")]
    assert await identities() == [("ann@example.com", "basic", "ann")]


async def test_each_kind_of_client_signs_in_and_goes_back_where_it_came_from(
    hearth_node: TestNode,
) -> None:
    seen = {}
    for provider in ("basic", "post", "public", "github"):
        async with Browser(hearth_node) as browser:
            back = await browser.sign_in(provider, f"{provider}user", next_path="/rooms")
            page = await browser.conn.get(redirected_to(back))
            seen[provider] = (redirected_to(back, 303), page.user)

    assert seen == {provider: ("/rooms", f"{provider.capitalize()}user Example")
                    for provider in ("basic", "post", "public", "github")}
    github = [i for i in await identities() if i[1] == "github"]
    # GitHub's primary verified address, not the other one it lists; its numeric id.
    assert [(email, uid.isdigit()) for email, _, uid in github] == [
        ("githubuser@example.com", True)]


async def test_the_page_to_go_back_to_is_only_ever_a_page_of_this_site(
    hearth_node: TestNode,
) -> None:
    landed = []
    for target in ("//evil.example/x", "https://evil.example/", "/\t/evil.example", "/posts"):
        async with Browser(hearth_node) as browser:
            landed.append(redirected_to(await browser.sign_in("public", "ann", target)))

    assert landed == ["/", "/", "/", "/posts"]


async def test_signing_in_again_finds_the_same_user_with_a_new_session(
    hearth_node: TestNode,
) -> None:
    async with Browser(hearth_node) as first:
        await first.sign_in("basic", "ann")
        first_session = first.conn.session
    async with Browser(hearth_node) as second:
        await second.conn.get("/login")
        before = second.conn.session
        back = await second.sign_in("basic", "ann")
        after = second.conn.session

    assert get_flash(back, "info") == "Signed in with Local ID. Welcome back, Ann Example!"
    assert await users() == [("ann@example.com", "Ann Example")]
    # Rotated as a password login rotates it: a new session and a new CSRF token.
    assert before is not None and after is not None and first_session is not None
    assert before.token is None and after.token is not None
    assert after.token != first_session.token and after.csrf != before.csrf


async def test_an_existing_account_with_the_verified_email_is_linked_and_signed_in(
    hearth_node: TestNode,
) -> None:
    await insert("user", email="Ann@Example.com", display_name="Ann Password")
    async with Browser(hearth_node) as browser:
        back = await browser.sign_in("post", "ann")

    assert get_flash(back, "info") == "Signed in with Local ID (post). Welcome back, Ann Password!"
    assert await users() == [("Ann@Example.com", "Ann Password")]
    assert await identities() == [("Ann@Example.com", "post", "ann")]


async def test_an_unverified_email_of_an_existing_account_is_refused_and_says_why(
    hearth_node: TestNode,
) -> None:
    await insert("user", email="unverified1@example.com", display_name="Owner")
    async with Browser(hearth_node) as browser:
        back = await browser.sign_in("basic", "unverified1")
        page = await browser.conn.get(redirected_to(back))

    assert redirected_to(back, 303) == "/login"
    assert get_flash(back, "error") == (
        "An account with unverified1@example.com exists already, and Local ID has not "
        "verified that address. Log in with your password, then link Local ID on your "
        "account page.")
    assert page.user is None
    assert await identities() == []


async def test_an_unverified_email_or_none_at_all_makes_no_account(
    hearth_node: TestNode,
) -> None:
    refused = {}
    for login in ("unverified2", "noemail1"):
        async with Browser(hearth_node) as browser:
            back = await browser.sign_in("public", login)
            refused[login] = (redirected_to(back), get_flash(back, "error"))

    assert refused == {
        "unverified2": ("/login", "Local ID (public) has not verified your address "
                        "unverified2@example.com. Verify it at Local ID (public), or register "
                        "with a password."),
        "noemail1": ("/login", "Local ID (public) did not share an email address, which an "
                     "account needs. Allow it at Local ID (public), or register with a "
                     "password."),
    }
    assert await users() == []


async def test_an_account_made_by_a_provider_has_no_password_to_log_in_with(
    hearth_node: TestNode,
) -> None:
    async with Browser(hearth_node) as browser:
        await browser.sign_in("basic", "ann")
    async with Browser(hearth_node) as other:
        await other.conn.get("/login")
        tries = [await log_in_with_password(other.conn, "ann@example.com", password)
                 for password in ("!no-password", PASSWORD, "")]
        unknown = await log_in_with_password(other.conn, "nobody@example.com")

    assert [(r.status, r.flashes) for r in tries] == [
        (422, [("error", "Invalid email or password.")])] * 3
    assert (unknown.status, unknown.flashes) == (422, [("error", "Invalid email or password.")])


async def test_the_login_page_has_a_button_per_provider(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        page = html_response(await browser.conn.get("/login?next=/rooms"), 200)

    for name, label in (("basic", "Local ID"), ("post", "Local ID (post)"),
                        ("public", "Local ID (public)"), ("github", "GitHub"),
                        ("down", "Down ID")):
        assert f'<form method="post" action="/auth/{name}">' in page
        assert f'data-provider="{name}">Log in with {label}</button>' in page
    assert page.count('<input type="hidden" name="next" value="/rooms">') == 6


async def test_an_unknown_provider_is_no_way_in(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        await browser.conn.get("/login")
        sent = await browser.conn.post("/auth/nowhere", {})
        back = await browser.conn.get("/auth/nowhere/callback?code=x&state=y")

    assert (redirected_to(sent, 303), get_flash(sent, "error")) == (
        "/login", "There is no such way to sign in.")
    assert redirected_to(back, 303) == "/login"


# -- the account page: link and unlink -------------------------------------------------------


async def account_page(browser: Browser) -> str:
    return html_response(await browser.conn.get("/account"), 200)


def identity_row(page: str, provider: str) -> str:
    start = page.index(f'<li class="identity" data-provider="{provider}">')
    return page[start:page.index("</li>", start)]


async def test_a_signed_in_user_links_a_provider_and_then_signs_in_with_it(
    hearth_node: TestNode,
) -> None:
    user = await insert("user", email="zed@corp.example", display_name="Zed")
    async with Browser(hearth_node) as browser:
        await log_in(browser.conn, user)
        before = identity_row(await account_page(browser), "github")
        back = await browser.sign_in("github", "zedgh", page="/account")
        after = await account_page(browser)
    async with Browser(hearth_node) as later:
        again = await later.sign_in("github", "zedgh")

    assert 'action="/auth/github"' in before and "Link GitHub" in before
    assert (redirected_to(back, 303), get_flash(back, "info")) == (
        "/account", "Your GitHub account is linked: you can sign in with it.")
    assert "linked as zedgh@example.com" in identity_row(after, "github")
    assert 'action="/account/identities/github/delete"' in identity_row(after, "github")
    assert get_flash(again, "info") == "Signed in with GitHub. Welcome back, Zed!"
    assert [(e, p) for e, p, _ in await identities()] == [("zed@corp.example", "github")]


async def test_an_identity_of_another_user_is_not_linked(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as first:
        await first.sign_in("basic", "ann")
    zed = await insert("user", email="zed@corp.example", display_name="Zed")
    async with Browser(hearth_node) as browser:
        await log_in(browser.conn, zed)
        back = await browser.sign_in("basic", "ann", page="/account")

    assert (redirected_to(back, 303), get_flash(back, "error")) == (
        "/account", "That Local ID account is linked to another user already.")
    assert await identities() == [("ann@example.com", "basic", "ann")]


async def test_a_second_account_at_the_same_provider_is_not_linked(
    hearth_node: TestNode,
) -> None:
    zed = await insert("user", email="zed@corp.example", display_name="Zed")
    async with Browser(hearth_node) as browser:
        await log_in(browser.conn, zed)
        await browser.sign_in("basic", "zed1", page="/account")
        browser.sign_out_at_provider()
        back = await browser.sign_in("basic", "zed2", page="/account")

    assert get_flash(back, "error") == ("Another Local ID account is linked to this user "
                                        "already: unlink it on the account page first.")
    assert [uid for _, _, uid in await identities()] == ["zed1"]


async def test_unlinking_keeps_the_account_its_password(hearth_node: TestNode) -> None:
    zed = await insert("user", email="zed@corp.example", display_name="Zed")
    async with Browser(hearth_node) as browser:
        await log_in(browser.conn, zed)
        await browser.sign_in("public", "zed1", page="/account")
        sent = await browser.conn.post("/account/identities/public/delete", {})
        page = await account_page(browser)
        password = await log_in_with_password(browser.conn, "zed@corp.example")

    assert (redirected_to(sent, 303), get_flash(sent, "info")) == (
        "/account", "Local ID (public) is no longer linked to your account.")
    assert "Link Local ID (public)" in identity_row(page, "public")
    assert await identities() == []
    assert redirected_to(password, 303) == "/"


async def test_the_last_way_into_an_account_cannot_be_unlinked(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        await browser.sign_in("basic", "ann")
        page = await account_page(browser)
        refused = await browser.conn.post("/account/identities/basic/delete", {})
        # With a second site linked, either may go, but not both.
        await browser.sign_in("github", "ann", page="/account")  # still signed in there
        first = await browser.conn.post("/account/identities/basic/delete", {})
        last = await browser.conn.post("/account/identities/github/delete", {})
        after = await account_page(browser)

    assert "your only way in" in identity_row(page, "basic")
    assert "/account/identities/basic/delete" not in page
    assert get_flash(refused, "error") == (
        'Local ID is the only way into this account: set a password ("Forgot your password?" '
        "on the login page mails a link) or link another site first.")
    assert get_flash(first, "info") == "Local ID is no longer linked to your account."
    assert get_flash(last, "error") == (
        'GitHub is the only way into this account: set a password ("Forgot your password?" '
        "on the login page mails a link) or link another site first.")
    assert "your only way in" in identity_row(after, "github")
    assert [(e, p) for e, p, _ in await identities()] == [("ann@example.com", "github")]


async def test_unlinking_a_provider_never_linked_says_so(hearth_node: TestNode) -> None:
    zed = await insert("user", email="zed@corp.example", display_name="Zed")
    async with Browser(hearth_node) as browser:
        await log_in(browser.conn, zed)
        sent = await browser.conn.post("/account/identities/github/delete", {})

    assert (redirected_to(sent, 303), get_flash(sent, "error")) == (
        "/account", "GitHub is not linked to your account.")
