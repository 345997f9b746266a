"""The application's live pages through the LiveView test client (seed Example 43): the
counter, the posts list kept up to date without a reload, a post with its like button and
delete confirmation, and the live forms that write and edit posts."""

from __future__ import annotations

import pytest

from contexts import posts
from contexts.accounts import User
from hearth.testing import Conn, api_conn, insert, insert_list, json_response, log_in
from live.testing import (
    JoinError,
    LiveRedirect,
    View,
    ViewCrashed,
    assert_redirect,
    follow_redirect,
    get_page,
    live,
    page_title,
    render,
    render_async,
)
from web.live.posts import LIMIT

# -- the seed's counter (Example 43) ------------------------------------------------------------


async def test_mount_and_render_counter(conn: Conn) -> None:
    view, html = await live(conn, "/counter")

    assert "Count: 0" in html  # the seed's html =~ "Count: 0"
    assert view.has_element("h1", "Count: 0")


async def test_increment_event(conn: Conn) -> None:
    view, _html = await live(conn, "/counter")

    assert "Count: 1" in await view.element("button", "+").render_click()
    assert view.has_element("h1", "Count: 1")
    assert "Count: " in render(view)


async def test_decrement_multiple_times(conn: Conn) -> None:
    view, _html = await live(conn, "/counter")

    await view.element("button", "-").render_click()
    await view.element("button", "-").render_click()

    assert view.has_element("h1", "Count: -2")
    assert page_title(view) == "Counter · Hearth"  # the layout's suffix kept


# -- /posts -----------------------------------------------------------------------------------


async def account(name: str, role: str = "user") -> User:
    return await insert("user", email=f"{name}@example.com", display_name=name, role=role)


def titles(view: View) -> list[str]:
    """The titles the list shows, top to bottom."""
    return [el.text_content() for el in view.document.select("#posts article h2")]


async def test_a_post_written_elsewhere_appears_changes_and_goes_without_a_reload(
        conn: Conn) -> None:
    alice = await account("alice")
    await insert("post", author=alice, title="Older")
    view, _html = await live(conn, "/posts")
    assert titles(view) == ["Older"]

    async with await api_conn(alice) as api:
        made = json_response(await api.post("/api/v1/posts",
                                            json={"title": "From the API", "body": "B"}), 201)
        await view.wait_for(lambda html: "From the API" in html)
        assert titles(view) == ["From the API", "Older"]

        by_context = await posts.create_post(alice.id, "From the context", "B")
        await view.wait_for(lambda html: "From the context" in html)
        assert titles(view) == ["From the context", "From the API", "Older"]

        json_response(await api.patch(f"/api/v1/posts/{made['id']}",
                                      json={"title": "Edited"}), 200)
        await view.wait_for(lambda html: "Edited" in html)
        assert titles(view) == ["From the context", "Edited", "Older"]

    await posts.delete_post(by_context.id)
    await view.wait_for(lambda html: "From the context" not in html)
    assert titles(view) == ["Edited", "Older"]


async def test_the_list_keeps_at_most_its_limit_newest_first(conn: Conn) -> None:
    alice = await account("alice")
    written = await insert_list(LIMIT, "post", author=alice)
    view, _html = await live(conn, "/posts")
    assert len(titles(view)) == LIMIT and titles(view)[-1] == written[0].title

    await posts.create_post(alice.id, "One too many", "B")
    await view.wait_for(lambda html: "One too many" in html)

    shown = titles(view)
    assert len(shown) == LIMIT
    assert shown[0] == "One too many" and shown[-1] == written[1].title
    assert written[0].title not in shown


async def test_a_title_navigates_to_the_post_over_the_same_socket(conn: Conn) -> None:
    post = await insert("post", author=await account("alice"), title="Read me")
    view, _html = await live(conn, "/posts")

    with pytest.raises(LiveRedirect) as clicked:
        await view.element("#posts a", "Read me").render_click()
    page, html = await follow_redirect(clicked.value, conn)

    assert page.client is view.client
    assert "Read me" in html and page_title(page) == f"{post.title} · Hearth"


# -- /posts/{id} ------------------------------------------------------------------------------


def likes(view: View) -> str:
    return view.element("#like-button .count").text


async def test_a_like_counts_once_and_the_second_is_refused_with_a_flash(conn: Conn) -> None:
    post = await insert("post", author=await account("alice"))
    await log_in(conn, await account("bob"))
    view, _html = await live(conn, f"/posts/{post.id}")
    assert likes(view) == "0"

    await view.element("#like-button").render_click()
    assert likes(view) == "1"

    await view.element("#like-button").render_click()
    assert likes(view) == "1"
    assert view.has_element(".flash-error", "You have liked this post already.")
    fresh = await posts.get_post(post.id)
    assert fresh is not None and fresh.likes == 1


async def test_a_visitor_is_asked_to_log_in_to_like(conn: Conn) -> None:
    post = await insert("post", author=await account("alice"))
    view, _html = await live(conn, f"/posts/{post.id}")

    await view.element("#like-button").render_click()

    assert view.has_element(".flash-error", "Log in to like posts.")
    assert likes(view) == "0"


async def test_the_author_deletes_and_lands_on_the_list_with_a_flash(conn: Conn) -> None:
    alice = await account("alice")
    post = await insert("post", author=alice, title="Doomed")
    await insert("post", author=alice, title="Survivor")
    await log_in(conn, alice)
    view, _html = await live(conn, f"/posts/{post.id}")

    # The confirmation opens client-side (JS.show): nothing goes over the wire.
    await view.element("#delete-button").render_click()
    with pytest.raises(LiveRedirect) as deleted:
        await view.element("#confirm-delete").render_click()

    assert deleted.value.to == "/posts"
    assert deleted.value.flash == {"info": "Post deleted."}
    listing, html = await follow_redirect(deleted.value, conn)
    assert "Post deleted." in html
    assert titles(listing) == ["Survivor"]
    assert await posts.get_post(post.id) is None


async def test_someone_else_cannot_delete(conn: Conn) -> None:
    post = await insert("post", author=await account("alice"))
    await log_in(conn, await account("bob"))
    view, _html = await live(conn, f"/posts/{post.id}")
    assert not view.has_element("#delete-button")
    assert not view.has_element("#confirm-delete")

    # What a crafted client would send, with no button to click.
    reply = await view.push("event", {"type": "click", "event": "delete", "value": {}})

    assert reply.status == "ok"
    assert view.has_element(".flash-error", "You may not delete this post.")
    assert await posts.get_post(post.id) is not None


async def test_a_post_deleted_elsewhere_sends_its_readers_to_the_list(conn: Conn) -> None:
    post = await insert("post", author=await account("alice"))
    view, _html = await live(conn, f"/posts/{post.id}")

    await posts.delete_post(post.id)

    assert await assert_redirect(view, "/posts") == {"info": "This post was deleted."}


async def test_an_unknown_post_is_the_404_page_and_one_gone_before_the_join_reloads(
        conn: Conn) -> None:
    with pytest.raises(AssertionError, match="status 404"):
        await live(conn, "/posts/999")

    post = await insert("post", author=await account("alice"))
    page = await get_page(conn, f"/posts/{post.id}")
    await posts.delete_post(post.id)
    view, _html = await live(conn, "/counter")  # a socket to join the stale page on

    with pytest.raises(JoinError) as refused:
        await view.client.join(page)
    assert refused.value.response == {"reason": "reload", "status": 404}


# -- /posts/new and /posts/{id}/edit ----------------------------------------------------------


def field_errors(view: View) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for el in view.document.select(".field-error"):
        errors.setdefault(el.get("data-field"), []).append(el.text_content())
    return errors


async def test_the_new_post_form_shows_errors_only_for_touched_fields(conn: Conn) -> None:
    await log_in(conn, await account("alice"))
    view, _html = await live(conn, "/posts/new")
    assert page_title(view) == "New post · Hearth"

    await view.form("#post-form").render_change({"post": {"title": ""}})
    assert field_errors(view) == {"title": ["can't be blank"]}

    await view.form("#post-form").render_change({"post": {"title": "Hello"}})
    assert field_errors(view) == {}

    await view.form("#post-form").render_change({"post": {"body": ""}})
    assert field_errors(view) == {"body": ["can't be blank"]}


async def test_submitting_saves_and_redirects_to_the_post(conn: Conn) -> None:
    await log_in(conn, await account("alice"))
    view, _html = await live(conn, "/posts/new")

    with pytest.raises(LiveRedirect) as saved:
        await view.form("#post-form", {"post": {"title": "Hello", "body": "World"}}
                        ).render_submit()

    assert saved.value.flash == {"info": "Post created."}
    [post] = await posts.list_posts()
    assert saved.value.to == f"/posts/{post.id}"
    shown, html = await follow_redirect(saved.value, conn)
    assert "Post created." in html and "World" in html
    assert page_title(shown) == "Hello · Hearth"


async def test_an_empty_submit_shows_every_error_and_saves_nothing(conn: Conn) -> None:
    await log_in(conn, await account("alice"))
    view, _html = await live(conn, "/posts/new")

    await view.form("#post-form").render_submit()

    assert field_errors(view) == {"title": ["can't be blank"], "body": ["can't be blank"]}
    assert await posts.list_posts() == []


async def test_a_signed_out_visitor_is_sent_to_log_in(conn: Conn) -> None:
    with pytest.raises(LiveRedirect) as refused:
        await live(conn, "/posts/new")

    assert refused.value.to == "/login?next=/posts/new"
    assert refused.value.flash == {"error": "You must log in to see this page."}


async def test_the_author_edits_the_post(conn: Conn) -> None:
    alice = await account("alice")
    post = await insert("post", author=alice, title="Old title", body="Old body")
    await log_in(conn, alice)
    view, html = await live(conn, f"/posts/{post.id}/edit")
    assert 'value="Old title"' in html and page_title(view) == "Edit post · Hearth"

    with pytest.raises(LiveRedirect) as saved:
        await view.form("#post-form").render_submit({"post": {"title": "New title"}})

    assert saved.value.to == f"/posts/{post.id}"
    assert saved.value.flash == {"info": "Post updated."}
    edited = await posts.get_post(post.id)
    assert edited is not None and (edited.title, edited.body) == ("New title", "Old body")


async def test_another_users_post_cannot_be_edited(conn: Conn) -> None:
    post = await insert("post", author=await account("alice"), title="Alice's")
    await log_in(conn, await account("bob"))

    with pytest.raises(LiveRedirect) as refused:
        await live(conn, f"/posts/{post.id}/edit")

    assert refused.value.to == f"/posts/{post.id}"
    assert refused.value.flash == {"error": "You are not allowed to edit this post."}
    unchanged = await posts.get_post(post.id)
    assert unchanged is not None and unchanged.title == "Alice's"


# -- /stats (async work) -------------------------------------------------------------------------


async def test_stats_loads_the_figures_after_the_page_shows(conn: Conn) -> None:
    lobby = await insert("room", slug="busy", name="Busy room")
    await insert_list(3, "message", room=lobby)
    await insert("post", title="Actors in Python", body="Every process is a task.")
    page = await get_page(conn, "/stats")
    assert page.html.count("Loading…") == 2  # the HTTP render starts nothing

    view, _ = await live(conn, "/stats")
    await render_async(view)

    # 3 authors of the messages, 1 of the post; the lobby every node has, and Busy room.
    figures = {key: view.element(f"#count-{key}").text
               for key in ("users", "posts", "rooms", "messages")}
    assert figures == {"users": "4", "posts": "1", "rooms": "2", "messages": "3"}
    assert [el.text_content().split("·")[0].strip()
            for el in view.document.select("#rooms li")] == ["Busy room", "Lobby"]


async def test_stats_searches_posts_and_says_when_a_search_fails(conn: Conn) -> None:
    await insert("post", title="Actors in Python")
    await insert("post", title="Supervisors", body="one for one")
    view, _ = await live(conn, "/stats")

    await view.form("#search").render_change({"q": "one for"})
    await render_async(view)
    assert [el.text for el in view.document.select("#results a")] == ["Supervisors"]

    await view.form("#search").render_change({"q": "x" * 101})
    await render_async(view)
    assert view.element("#search-error").text == (
        "Search failed: a search is at most 100 characters")
    assert not view.has_element("#results")


# -- /cart (live components) ---------------------------------------------------------------------


async def test_two_carts_on_one_page_never_mix(conn: Conn) -> None:
    await insert("product", name="Apple", price_cents=125)
    await insert("product", name="Bread", price_cents=340)
    view, _ = await live(conn, "/cart")

    await view.element("#cart-a .catalog li:nth-child(1) button").render_click()  # Apple
    await view.element("#cart-a .catalog li:nth-child(1) button").render_click()
    await view.element("#cart-b .catalog li:nth-child(2) button").render_click()  # Bread

    assert view.element("#cart-a .total").text == "Total: 2.50"
    assert view.element("#cart-b .total").text == "Total: 3.40"
    assert view.element("#cart-a .quantity").text == "2"
    await view.element("#cart-a .items button").render_click()  # remove one apple
    assert view.element("#cart-a .total").text == "Total: 1.25"
    assert view.element("#cart-b .total").text == "Total: 3.40"


async def test_a_cart_taken_away_comes_back_empty(conn: Conn) -> None:
    await insert("product", name="Apple", price_cents=125)
    view, _ = await live(conn, "/cart")
    await view.element("#cart-b .catalog li:nth-child(1) button").render_click()

    await view.element("#toggle-b").render_click()
    assert not view.has_element("#cart-b")
    await view.element("#toggle-b").render_click()

    assert view.element("#cart-b .total").text == "Total: 0.00"


async def test_a_crash_report_names_the_view_and_event_but_never_the_values(
    conn: Conn, caplog: pytest.LogCaptureFixture
) -> None:
    view, _ = await live(conn, "/counter")

    with pytest.raises(ViewCrashed):
        await view.push("event", {"type": "form", "event": "sign_in",
                                  "value": "password=hunter2-very-secret"})

    report = next(r for r in caplog.records if "crash report" in r.getMessage())
    assert "live:CounterLive" in report.getMessage() and "sign_in" in report.getMessage()
    assert "hunter2" not in caplog.text
