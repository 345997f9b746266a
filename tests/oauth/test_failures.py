"""Every way a social login fails, against the real provider: the person said no, a state
replayed, from another browser or expired, a code used already, a wrong nonce, a tampered ID
token, the provider down or too slow. Each ends the same way: the reason in a flash on the
login page, one log line, nobody signed in and no user made.
"""

from __future__ import annotations

import logging

import aiohttp
import pytest
from yarl import URL

from actors.repo import Repo
from hearth.testing import Response, TestNode, get_flash, redirected_to

from ._provider import Browser, RunningProvider
from .conftest import TokenProxy


async def user_count() -> int:
    row = await Repo.fetch_one("SELECT COUNT(*) FROM users")
    assert row is not None
    count: int = row[0]
    return count


async def refused_on_the_login_page(browser: Browser, back: Response) -> str:
    """The flash of a refused sign-in, once it is sure nobody was signed in."""
    assert redirected_to(back, 303) == "/login"
    page = await browser.conn.get("/login")
    assert page.user is None
    assert browser.conn.session is not None and browser.conn.session.token is None
    assert await user_count() == 0
    flash = get_flash(back, "error")
    assert flash is not None
    return flash


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "web.pages.oauth" and r.levelno == logging.WARNING]


async def test_saying_no_at_the_provider_signs_nobody_in(
    hearth_node: TestNode, caplog: pytest.LogCaptureFixture
) -> None:
    async with Browser(hearth_node) as browser:
        url = await browser.start("basic")
        callback = await browser.at_provider(url, "ann", consent=False)
        back = await browser.back_at_hearth(callback)
        flash = await refused_on_the_login_page(browser, back)

    assert "error=access_denied" in callback
    assert flash == "You did not allow signing in with Local ID: nothing was changed."
    assert refusals(caplog) == [
        "sign-in with basic refused: Denied: You did not allow signing in with Local ID: "
        "nothing was changed."]


async def test_a_callback_replayed_or_taken_to_another_browser_is_refused(
    hearth_node: TestNode, caplog: pytest.LogCaptureFixture
) -> None:
    async with Browser(hearth_node) as ann:
        url = await ann.start("public")
        callback = await ann.at_provider(url, "ann")
        async with Browser(hearth_node) as thief:
            await thief.conn.get("/login")
            stolen = await thief.back_at_hearth(callback)
            stolen_flash = await refused_on_the_login_page(thief, stolen)
        # The stolen try used the state up: the owner's own arrival is refused too.
        late = await ann.back_at_hearth(callback)
        late_flash = await refused_on_the_login_page(ann, late)
        # A fresh sign-in works, and replaying its callback after does not.
        url = await ann.start("public")
        callback = await ann.at_provider(url, "ann")
        first = await ann.back_at_hearth(callback)
        replay = await ann.back_at_hearth(callback)

    expired = "That sign-in has expired or was finished already. Please try again."
    assert stolen_flash == late_flash == expired
    assert redirected_to(first, 303) == "/" and get_flash(first, "info") is not None
    # Signed in by then: the refusal is shown on the account page.
    assert (redirected_to(replay, 303), get_flash(replay, "error")) == ("/account", expired)
    assert len(refusals(caplog)) == 3
    assert all("BadState" in line for line in refusals(caplog))


async def test_a_callback_without_a_state_or_with_a_made_up_one_is_refused(
    hearth_node: TestNode,
) -> None:
    async with Browser(hearth_node) as browser:
        await browser.start("basic")
        flashes = []
        for query in ("code=abc", "code=abc&state=made-up", "error=access_denied",
                      "state=" + "x" * 1000):
            back = await browser.conn.get(f"/auth/basic/callback?{query}")
            flashes.append(await refused_on_the_login_page(browser, back))

    assert set(flashes) == {"That sign-in has expired or was finished already. Please try "
                            "again."}


@pytest.mark.hearth_config({"oauth.state_ttl": 0.001})
async def test_a_state_past_its_time_is_refused(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        url = await browser.start("basic")
        back = await browser.back_at_hearth(await browser.at_provider(url, "ann"))
        flash = await refused_on_the_login_page(browser, back)

    assert flash == "That sign-in has expired or was finished already. Please try again."


async def test_a_code_used_already_is_refused_by_the_provider(
    hearth_node: TestNode, oidc: RunningProvider
) -> None:
    async with Browser(hearth_node) as browser:
        url = await browser.start("public")
        callback = await browser.at_provider(url, "ann")
        # Someone who had the code and the verifier (here: read from Hearth's database)
        # redeems it first, as the public client; the provider gives them the tokens.
        row = await Repo.fetch_one("SELECT code_verifier FROM oauth_flows")
        assert row is not None
        form = {"grant_type": "authorization_code", "code": URL(callback).query["code"],
                "redirect_uri": callback.split("?")[0], "client_id": "hearth-public",
                "code_verifier": row["code_verifier"]}
        async with aiohttp.ClientSession() as http, http.post(f"{oidc.issuer}/token",
                                                              data=form) as taken:
            assert taken.status == 200, await taken.text()
        back = await browser.back_at_hearth(callback)
        flash = await refused_on_the_login_page(browser, back)

    assert flash == "Local ID (public) refused the sign-in code (invalid_grant). Please try again."


async def test_an_id_token_with_another_nonce_is_refused(hearth_node: TestNode) -> None:
    async with Browser(hearth_node) as browser:
        url = await browser.start("post")
        # The provider is asked for another nonce than the one Hearth keeps: it signs a token
        # that is genuine in every other way.
        other = str(URL(url).update_query(nonce="another-nonce"))
        back = await browser.back_at_hearth(await browser.at_provider(other, "ann"))
        flash = await refused_on_the_login_page(browser, back)

    assert flash == ("Local ID (post)'s answer could not be verified (its ID token: wrong "
                     "nonce). Please try again.")


async def test_a_tampered_id_token_is_refused(hearth_node: TestNode,
                                              token_proxy: TokenProxy) -> None:
    token_proxy.mode = "tamper"  # the email becomes victim@example.com, signature kept
    async with Browser(hearth_node) as browser:
        url = await browser.start("basic")
        back = await browser.back_at_hearth(await browser.at_provider(url, "ann"))
        flash = await refused_on_the_login_page(browser, back)

    assert flash == ("Local ID's answer could not be verified (its ID token: bad signature). "
                     "Please try again.")


async def test_a_provider_that_cannot_be_reached_is_said_so(
    hearth_node: TestNode, caplog: pytest.LogCaptureFixture
) -> None:
    async with Browser(hearth_node) as browser:
        await browser.conn.get("/login")
        back = await browser.conn.post("/auth/down", {})
        flash = await refused_on_the_login_page(browser, back)

    assert flash == "Down ID could not be reached. Please try again later."
    assert refusals(caplog) == ["sign-in with down refused: Unavailable: " + flash]


@pytest.mark.hearth_config({"oauth.timeout": 2.0})
async def test_a_provider_too_slow_to_exchange_the_code_is_given_up(
    hearth_node: TestNode, token_proxy: TokenProxy
) -> None:
    token_proxy.mode = "hold"  # the token request arrives, and is never answered
    async with Browser(hearth_node) as browser:
        url = await browser.start("basic")
        back = await browser.back_at_hearth(await browser.at_provider(url, "ann"))
        flash = await refused_on_the_login_page(browser, back)

    assert flash == "Local ID did not answer in time. Please try again later."


async def test_no_code_state_or_secret_reaches_the_log(
    hearth_node: TestNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Browser(hearth_node) as browser:
        url = await browser.start("basic")
        callback = await browser.at_provider(url, "ann")
        await browser.back_at_hearth(callback)

    query = URL(callback).query
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "user 1 signed in with basic (created)" in logged
    for secret in (query["code"], query["state"], "basic-client-secret-of-the-tests"):
        assert secret not in logged


@pytest.mark.hearth_config({"oauth.start_limit_per_address": 3})
async def test_one_address_starting_sign_ins_without_end_is_stopped(
    hearth_node: TestNode, caplog: pytest.LogCaptureFixture
) -> None:
    # Each start stores a flow; a new browser session per start gets round the per-browser
    # bound, so the address is counted: here four browsers from one address.
    sent = []
    for _ in range(3):
        async with Browser(hearth_node) as browser:
            sent.append(await browser.start("basic"))
    async with Browser(hearth_node) as browser:
        await browser.conn.get("/login")
        flash = await refused_on_the_login_page(browser,
                                                await browser.conn.post("/auth/basic", {}))
    flows = await Repo.fetch_one("SELECT COUNT(*) FROM oauth_flows")

    assert ["state" in URL(url).query for url in sent] == [True, True, True]
    assert flash.startswith("Too many sign-ins started from your address: try again in ")
    assert flows is not None and flows[0] == 3
    assert refusals(caplog) == ["sign-in with basic refused: TooManyStarts: " + flash]
