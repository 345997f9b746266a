"""The seed's ConnCase tests (Example 42), on the reference app, with the testing kit."""

from __future__ import annotations

import gzip

import pytest

from hearth.testing import (
    Conn,
    TestNode,
    api_conn,
    get_flash,
    html_response,
    insert,
    insert_list,
    json_response,
    log_in,
    problem_response,
    redirected_to,
    text_response,
)


async def test_lists_all_posts(conn: Conn) -> None:
    post = await insert("post")

    response = html_response(await conn.get("/posts"), 200)

    assert post.title in response


async def test_creates_post_and_redirects(conn: Conn) -> None:
    await log_in(conn, await insert("user"))

    resp = await conn.post("/posts", {"title": "Hello", "body": "World"})

    assert redirected_to(resp) == "/posts/1"
    assert get_flash(resp, "info") == "Post created."


async def test_renders_errors_on_invalid_params(conn: Conn) -> None:
    await log_in(conn, await insert("user"))

    resp = await conn.post("/posts", {"title": ""})

    assert "can&#39;t be blank" in html_response(resp, 422)


async def test_logging_out_requires_a_session_and_redirects_home(conn: Conn) -> None:
    await log_in(conn, await insert("user"))

    resp = await conn.post("/logout")

    assert redirected_to(resp) == "/"
    assert html_response(await conn.get("/"), 200)
    assert redirected_to(await conn.get("/account")) == "/login?next=/account"


# -- the readers fail with what the answer was ---------------------------------------------------


async def test_html_response_names_the_status_and_start_of_the_body(conn: Conn) -> None:
    resp = await conn.get("/account")  # not signed in: sent to log in

    with pytest.raises(AssertionError) as failed:
        html_response(resp, 200)

    assert "expected an HTML response with status 200, got status 302" in str(failed.value)
    assert "Location: /login?next=/account" in str(failed.value)


async def test_json_and_problem_responses(conn: Conn) -> None:
    health = json_response(await conn.get("/health"), 200)
    async with await api_conn(await insert("user")) as api:
        missing = await api.get("/api/v1/posts/999")
        mine = json_response(await api.get("/api/v1/me"), 200)

    assert health["status"] == "ok"
    assert mine["email"].endswith("@example.com")
    assert problem_response(missing, 404, "not_found")["status"] == 404
    with pytest.raises(AssertionError, match="expected the problem 'forbidden'"):
        problem_response(missing, 404, "forbidden")
    with pytest.raises(AssertionError, match="expected a text response with status 200"):
        text_response(missing, 200)


async def test_redirected_to_fails_on_a_page(conn: Conn) -> None:
    with pytest.raises(AssertionError, match=r"expected a redirect, got status 200"):
        redirected_to(await conn.get("/"))


async def test_a_forged_form_without_the_csrf_token_is_refused(conn: Conn) -> None:
    await log_in(conn, await insert("user"))

    forged = await conn.post("/posts", {"title": "Hello", "body": "World"}, csrf="")
    followed = await conn.get("/posts")

    assert forged.status == 403
    assert "Hello" not in html_response(followed, 200)


async def test_a_flash_waiting_in_the_session_survives_the_next_form(conn: Conn) -> None:
    await log_in(conn, await insert("user"))
    await conn.post("/logout")  # flashes "You have been logged out." for the next page

    await conn.post("/password/forgot", {"email": "nobody@example.com"})
    page = await conn.get("/login")

    assert [kind for kind, _ in page.flashes] == ["info", "info"]


# -- every JSON type, the bytes as sent, no CSRF token for the admin endpoint -------------------


async def test_json_response_reads_every_json_media_type(conn: Conn) -> None:
    await insert("post", title="Hello")
    async with await api_conn(await insert("user")) as api:
        v1 = await api.get("/api/posts", headers={"Accept": "application/vnd.hearth.v1+json"})
        v2 = await api.get("/api/v2/posts")
        missing = await api.get("/api/v1/posts/999")

    assert v1.content_type == "application/vnd.hearth.v1+json"
    assert [post["title"] for post in json_response(v1, 200)["data"]] == ["Hello"]
    assert json_response(v2, 200)["data"][0]["attributes"]["title"] == "Hello"
    assert json_response(missing, 404)["code"] == "not_found"
    with pytest.raises(AssertionError, match="expected a JSON response with status 200"):
        json_response(await conn.get("/"), 200)


async def test_a_conn_may_keep_the_bytes_as_sent(hearth_node: TestNode) -> None:
    await insert_list(20, "post", body="x" * 200)  # a list of 1 KB and more is gzipped
    access = (await hearth_node.tokens.issue(await insert("user"))).access_token
    sent = {"Authorization": f"Bearer {access}", "Accept-Encoding": "gzip"}
    async with (
        Conn(hearth_node, sent, auto_decompress=False) as raw,
        Conn(hearth_node, sent) as plain,
    ):
        packed = await raw.get("/api/v1/posts")
        unpacked = await plain.get("/api/v1/posts")

    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.raw) == unpacked.raw


ADMIN_TOKEN = "an admin token that is long enough to pass"


@pytest.mark.hearth_config(admin__token=ADMIN_TOKEN)
async def test_posts_to_the_admin_endpoint_carry_no_csrf_token(conn: Conn) -> None:
    killed = await conn.post("/_admin/kill", json={"target": "nobody"}, token=ADMIN_TOKEN)
    after_admin = conn.session
    await conn.post("/password/forgot", {"email": "nobody@example.com"})

    assert json_response(killed, 404) == {"error": "no such process"}
    # A token is made (into the session cookie) only for what is sent to a page.
    assert after_admin is None
    assert conn.session is not None and conn.session.csrf
