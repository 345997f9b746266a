"""Posts in the browser: anyone reads them, a signed-in user writes one, and only its author,
a moderator or an admin edits or deletes it; anyone else is sent back and nothing changes."""

from __future__ import annotations

from contexts import posts
from contexts.accounts import User
from hearth.testing import Conn, TestNode, insert, log_in

NOT_YOURS = ("error", "You are not allowed to edit this post.")


async def account(email: str, role: str = "user") -> User:
    """A new account ``email`` with ``role``, shown as its local part."""
    return await insert("user", email=email, display_name=email.split("@")[0], role=role)


async def member(node: TestNode, email: str, role: str = "user") -> Conn:
    """A client signed in as a new account ``email``, shown as its local part."""
    return await log_in(Conn(node), await account(email, role))


# -- reading ---------------------------------------------------------------------------------


async def test_a_visitor_reads_the_list_newest_first_with_authors(conn: Conn) -> None:
    first = await insert("post", author=await account("alice@example.com"), title="Alice writes")
    second = await insert("post", author=await account("bob@example.com"), title="Bob answers")

    page = await conn.get("/posts")

    assert page.status == 200
    assert page.text.index("Bob answers") < page.text.index("Alice writes")
    assert f'href="/posts/{first.id}"' in page.text
    assert f'href="/posts/{second.id}"' in page.text
    assert ">alice</span>" in page.text and ">bob</span>" in page.text
    assert "/posts/new" not in page.text


async def test_a_post_is_escaped_and_shown_to_anyone(conn: Conn) -> None:
    post = await insert("post", author=await account("alice@example.com"),
                        title="<b>Bold</b>", body="Line one\nline two")

    page = await conn.get(f"/posts/{post.id}")

    assert page.status == 200
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page.text and "<b>Bold</b>" not in page.text
    assert "Line one\nline two" in page.text
    assert ">alice</span>" in page.text


async def test_edit_and_delete_show_only_to_those_who_may_use_them(hearth_node: TestNode) -> None:
    author = await account("alice@example.com")
    post = await insert("post", author=author)
    path = f"/posts/{post.id}"
    edit_link = f'href="{path}/edit"'
    async with (
        Conn(hearth_node) as visitor,
        await member(hearth_node, "bob@example.com") as bob,
        await member(hearth_node, "mod@example.com", "moderator") as moderator,
        await member(hearth_node, "root@example.com", "admin") as admin,
        await log_in(Conn(hearth_node), author) as alice,
    ):
        for browser, shown in [
            (visitor, False), (bob, False), (alice, True), (moderator, True), (admin, True),
        ]:
            page = await browser.get(path)

            assert page.status == 200
            assert (edit_link in page.text) is shown, page.user
            assert ('id="delete-button"' in page.text) is shown, page.user


async def test_a_draft_is_a_404_page_to_all_but_its_author_and_moderators(
    hearth_node: TestNode,
) -> None:
    author = await account("alice@example.com")
    draft = await insert("post", "draft", author=author, title="Not yet", body="Soon.")
    path = f"/posts/{draft.id}"
    async with (
        Conn(hearth_node) as visitor,
        await member(hearth_node, "bob@example.com") as bob,
        await member(hearth_node, "mod@example.com", "moderator") as moderator,
        await log_in(Conn(hearth_node), author) as alice,
    ):
        for browser, status in [(visitor, 404), (bob, 404), (alice, 200), (moderator, 200)]:
            page = await browser.get(path)

            assert page.status == status, page.user
        listing = await alice.get("/posts")
        assert "Not yet" not in listing.text


async def test_unknown_and_malformed_post_ids_are_404_pages(conn: Conn) -> None:
    await log_in(conn, await account("mod@example.com", "moderator"))
    for path in ["/posts/999999", "/posts/abc", "/posts/0x1", "/posts/" + "9" * 40]:
        for page in [await conn.get(path), await conn.get(f"{path}/edit")]:
            assert page.status == 404, path
            assert page.headers["Content-Type"].startswith("text/html")
            assert "There is no such post" in page.text
            assert page.user == "mod"  # the site's own page, with its layout
    await conn.get("/posts")
    for path in ["/posts/999999/edit", "/posts/999999/delete"]:
        page = await conn.post(path, {"title": "T", "body": "B"})
        assert page.status == 404, path


# -- writing ---------------------------------------------------------------------------------


async def test_a_user_writes_a_post_through_the_form(conn: Conn) -> None:
    await log_in(conn, await account("alice@example.com"))
    form = await conn.get("/posts/new")  # the live form; a form posted to /posts also works
    assert form.status == 200 and 'phx-submit="save"' in form.text

    sent = await conn.post("/posts", {"title": "  Hello  ", "body": "First post."})

    [post] = await posts.list_posts()
    assert (sent.status, sent.location) == (303, f"/posts/{post.id}")
    assert (post.title, post.body, post.author_name) == ("Hello", "First post.", "alice")
    page = await conn.get(f"/posts/{post.id}")
    assert page.flashes == [("info", "Post created.")]
    assert "First post." in page.text


async def test_a_post_with_blank_fields_is_shown_again_with_errors_and_what_was_typed(
    conn: Conn,
) -> None:
    await log_in(conn, await account("alice@example.com"))
    await conn.get("/posts/new")

    page = await conn.post("/posts", {"title": "   ", "body": "Keep <this> text"})

    assert page.status == 422
    assert page.field_errors == {"title": ["Title can't be blank"]}
    assert "Keep &lt;this&gt; text</textarea>" in page.text
    assert await posts.list_posts() == []


async def test_a_post_without_the_forms_token_is_refused_and_not_written(conn: Conn) -> None:
    await log_in(conn, await account("alice@example.com"))

    page = await conn.post("/posts", {"title": "Hi", "body": "There"}, csrf="")

    assert page.status == 403
    assert await posts.list_posts() == []


# -- changing --------------------------------------------------------------------------------


async def test_the_author_edits_their_post(conn: Conn) -> None:
    alice = await account("alice@example.com")
    await log_in(conn, alice)
    post = await insert("post", author=alice, title="Old title", body="Old body")

    form = await conn.get(f"/posts/{post.id}/edit")
    assert form.status == 200
    assert 'value="Old title"' in form.text and "Old body</textarea>" in form.text
    sent = await conn.post(f"/posts/{post.id}/edit", {"title": "New title", "body": "New"})

    assert (sent.status, sent.location) == (303, f"/posts/{post.id}")
    changed = await posts.get_post(post.id)
    assert changed is not None and (changed.title, changed.body) == ("New title", "New")
    assert (await conn.get(f"/posts/{post.id}")).flashes == [("info", "Post updated.")]


async def test_an_invalid_edit_shows_the_errors_and_changes_nothing(conn: Conn) -> None:
    alice = await account("alice@example.com")
    await log_in(conn, alice)
    post = await insert("post", author=alice)
    await conn.get(f"/posts/{post.id}/edit")

    page = await conn.post(f"/posts/{post.id}/edit", {"title": "Typed", "body": ""})

    assert page.status == 422
    assert page.field_errors == {"body": ["Body can't be blank"]}
    assert 'value="Typed"' in page.text
    assert await posts.get_post(post.id) == post


async def test_the_author_deletes_their_post(conn: Conn) -> None:
    alice = await account("alice@example.com")
    await log_in(conn, alice)
    post = await insert("post", author=alice)
    await conn.get(f"/posts/{post.id}")

    sent = await conn.post(f"/posts/{post.id}/delete")

    assert (sent.status, sent.location) == (303, "/posts")
    assert await posts.get_post(post.id) is None
    assert (await conn.get("/posts")).flashes == [("info", "Post deleted.")]
    assert (await conn.get(f"/posts/{post.id}")).status == 404


async def test_a_moderator_edits_and_an_admin_deletes_someone_elses_post(
    hearth_node: TestNode,
) -> None:
    post = await insert("post", author=await account("alice@example.com"))
    async with await member(hearth_node, "mod@example.com", "moderator") as moderator:
        await moderator.get(f"/posts/{post.id}/edit")
        edited = await moderator.post(f"/posts/{post.id}/edit",
                                      {"title": "Tidied", "body": "Tidied up."})
        assert edited.status == 303
    changed = await posts.get_post(post.id)
    assert changed is not None and changed.title == "Tidied"
    assert changed.author_name == "alice"  # still hers

    async with await member(hearth_node, "root@example.com", "admin") as admin:
        await admin.get(f"/posts/{post.id}")
        deleted = await admin.post(f"/posts/{post.id}/delete")

    assert (deleted.status, deleted.location) == (303, "/posts")
    assert await posts.get_post(post.id) is None


async def test_another_user_is_sent_back_and_the_post_is_unchanged(conn: Conn) -> None:
    post = await insert("post", author=await account("alice@example.com"),
                        title="Alice's", body="Hers.")
    path = f"/posts/{post.id}"
    await log_in(conn, await account("bob@example.com"))

    form = await conn.get(f"{path}/edit")  # the live form's mount sends them back
    assert (form.status, form.location) == (302, path)
    assert (await conn.get(path)).flashes == [NOT_YOURS]

    edit = await conn.post(f"{path}/edit", {"title": "Bob's now", "body": "Mine."})
    assert (edit.status, edit.location) == (303, path)
    assert (await conn.get(path)).flashes == [NOT_YOURS]

    delete = await conn.post(f"{path}/delete")
    assert (delete.status, delete.location) == (303, path)
    assert (await conn.get(path)).flashes == [
        ("error", "You are not allowed to delete this post.")
    ]

    assert await posts.get_post(post.id) == post
