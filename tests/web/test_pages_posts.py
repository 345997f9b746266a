"""Posts in the browser: anyone reads them, a signed-in user writes one, and only its author,
a moderator or an admin edits or deletes it; anyone else is sent back and nothing changes."""

from __future__ import annotations

from pathlib import Path

from contexts import posts
from contexts.posts import Post

from ._browser import Browser, Node, running_node, user_with_role

NOT_YOURS = ("error", "You are not allowed to edit this post.")


async def member(node: Node, email: str, role: str = "user") -> Browser:
    """A browser signed in as a new account ``email``, shown as its local part."""
    await user_with_role(node, email, role)
    browser = Browser(node)
    page = await browser.log_in(email)
    assert page.user == email.split("@")[0], page.text
    return browser


async def post_by(node: Node, email: str, title: str = "Hello", body: str = "First!") -> Post:
    author = await node.accounts.get_user_by_email(email)
    assert author is not None
    return await posts.create_post(author.id, title, body)


# -- reading ---------------------------------------------------------------------------------


async def test_a_visitor_reads_the_list_newest_first_with_authors(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as visitor:
        await user_with_role(node, "alice@example.com", "user")
        await user_with_role(node, "bob@example.com", "user")
        first = await post_by(node, "alice@example.com", "Alice writes")
        second = await post_by(node, "bob@example.com", "Bob answers")

        page = await visitor.get("/posts")

        assert page.status == 200
        assert page.text.index("Bob answers") < page.text.index("Alice writes")
        assert f'href="/posts/{first.id}"' in page.text
        assert f'href="/posts/{second.id}"' in page.text
        assert ">alice</span>" in page.text and ">bob</span>" in page.text
        assert "/posts/new" not in page.text


async def test_a_post_is_escaped_and_shown_to_anyone(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, Browser(node) as visitor:
        await user_with_role(node, "alice@example.com", "user")
        post = await post_by(node, "alice@example.com", "<b>Bold</b>", "Line one\nline two")

        page = await visitor.get(f"/posts/{post.id}")

        assert page.status == 200
        assert "&lt;b&gt;Bold&lt;/b&gt;" in page.text and "<b>Bold</b>" not in page.text
        assert "Line one\nline two" in page.text
        assert ">alice</span>" in page.text


async def test_edit_and_delete_show_only_to_those_who_may_use_them(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "alice@example.com", "user")
        post = await post_by(node, "alice@example.com")
        path = f"/posts/{post.id}"
        edit_link = f'href="{path}/edit"'
        async with (
            Browser(node) as visitor,
            await member(node, "bob@example.com") as bob,
            await member(node, "mod@example.com", "moderator") as moderator,
            await member(node, "root@example.com", "admin") as admin,
            Browser(node) as alice,
        ):
            await alice.log_in("alice@example.com")
            for browser, shown in [
                (visitor, False), (bob, False), (alice, True), (moderator, True), (admin, True),
            ]:
                page = await browser.get(path)

                assert page.status == 200
                assert (edit_link in page.text) is shown, page.user
                assert (f'action="{path}/delete"' in page.text) is shown, page.user


async def test_a_draft_is_a_404_page_to_all_but_its_author_and_moderators(
    tmp_path: Path,
) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "alice@example.com", "user")
        author = await node.accounts.get_user_by_email("alice@example.com")
        assert author is not None
        draft = await posts.create_post(author.id, "Not yet", "Soon.", published=False)
        path = f"/posts/{draft.id}"
        async with (
            Browser(node) as visitor,
            await member(node, "bob@example.com") as bob,
            await member(node, "mod@example.com", "moderator") as moderator,
            Browser(node) as alice,
        ):
            await alice.log_in("alice@example.com")
            for browser, status in [(visitor, 404), (bob, 404), (alice, 200), (moderator, 200)]:
                page = await browser.get(path)

                assert page.status == status, page.user
            listing = await alice.get("/posts")
            assert "Not yet" not in listing.text


async def test_unknown_and_malformed_post_ids_are_404_pages(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await member(node, "mod@example.com",
                                                             "moderator") as moderator:
        for path in ["/posts/999999", "/posts/abc", "/posts/0x1", "/posts/" + "9" * 40]:
            for page in [await moderator.get(path), await moderator.get(f"{path}/edit")]:
                assert page.status == 404, path
                assert page.headers["Content-Type"].startswith("text/html")
                assert "There is no such post" in page.text
                assert page.user == "mod"  # the site's own page, with its layout
        await moderator.get("/posts")
        for path in ["/posts/999999/edit", "/posts/999999/delete"]:
            page = await moderator.post(path, {"title": "T", "body": "B"})
            assert page.status == 404, path


# -- writing ---------------------------------------------------------------------------------


async def test_a_user_writes_a_post_through_the_form(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await member(node, "alice@example.com") as alice:
        form = await alice.get("/posts/new")
        assert form.status == 200 and 'action="/posts"' in form.text

        sent = await alice.post("/posts", {"title": "  Hello  ", "body": "First post."})

        [post] = await posts.list_posts()
        assert (sent.status, sent.location) == (303, f"/posts/{post.id}")
        assert (post.title, post.body, post.author_name) == ("Hello", "First post.", "alice")
        page = await alice.get(f"/posts/{post.id}")
        assert page.flashes == [("info", "Post created.")]
        assert "First post." in page.text


async def test_a_post_with_blank_fields_is_shown_again_with_errors_and_what_was_typed(
    tmp_path: Path,
) -> None:
    async with running_node(tmp_path) as node, await member(node, "alice@example.com") as alice:
        await alice.get("/posts/new")

        page = await alice.post("/posts", {"title": "   ", "body": "Keep <this> text"})

        assert page.status == 422
        assert page.field_errors == {"title": ["Title can't be blank"]}
        assert "Keep &lt;this&gt; text</textarea>" in page.text
        assert await posts.list_posts() == []


async def test_a_post_without_the_forms_token_is_refused_and_not_written(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await member(node, "alice@example.com") as alice:
        page = await alice.post("/posts", {"title": "Hi", "body": "There"}, csrf="")

        assert page.status == 403
        assert await posts.list_posts() == []


# -- changing --------------------------------------------------------------------------------


async def test_the_author_edits_their_post(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await member(node, "alice@example.com") as alice:
        post = await post_by(node, "alice@example.com", "Old title", "Old body")

        form = await alice.get(f"/posts/{post.id}/edit")
        assert form.status == 200
        assert 'value="Old title"' in form.text and "Old body</textarea>" in form.text
        sent = await alice.post(f"/posts/{post.id}/edit", {"title": "New title", "body": "New"})

        assert (sent.status, sent.location) == (303, f"/posts/{post.id}")
        changed = await posts.get_post(post.id)
        assert changed is not None and (changed.title, changed.body) == ("New title", "New")
        assert (await alice.get(f"/posts/{post.id}")).flashes == [("info", "Post updated.")]


async def test_an_invalid_edit_shows_the_errors_and_changes_nothing(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await member(node, "alice@example.com") as alice:
        post = await post_by(node, "alice@example.com")
        await alice.get(f"/posts/{post.id}/edit")

        page = await alice.post(f"/posts/{post.id}/edit", {"title": "Typed", "body": ""})

        assert page.status == 422
        assert page.field_errors == {"body": ["Body can't be blank"]}
        assert 'value="Typed"' in page.text
        assert await posts.get_post(post.id) == post


async def test_the_author_deletes_their_post(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node, await member(node, "alice@example.com") as alice:
        post = await post_by(node, "alice@example.com")
        await alice.get(f"/posts/{post.id}")

        sent = await alice.post(f"/posts/{post.id}/delete")

        assert (sent.status, sent.location) == (303, "/posts")
        assert await posts.get_post(post.id) is None
        assert (await alice.get("/posts")).flashes == [("info", "Post deleted.")]
        assert (await alice.get(f"/posts/{post.id}")).status == 404


async def test_a_moderator_edits_and_an_admin_deletes_someone_elses_post(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "alice@example.com", "user")
        post = await post_by(node, "alice@example.com")
        async with await member(node, "mod@example.com", "moderator") as moderator:
            await moderator.get(f"/posts/{post.id}/edit")
            edited = await moderator.post(f"/posts/{post.id}/edit",
                                          {"title": "Tidied", "body": "Tidied up."})
            assert edited.status == 303
        changed = await posts.get_post(post.id)
        assert changed is not None and changed.title == "Tidied"
        assert changed.author_name == "alice"  # still hers

        async with await member(node, "root@example.com", "admin") as admin:
            await admin.get(f"/posts/{post.id}")
            deleted = await admin.post(f"/posts/{post.id}/delete")

        assert (deleted.status, deleted.location) == (303, "/posts")
        assert await posts.get_post(post.id) is None


async def test_another_user_is_sent_back_and_the_post_is_unchanged(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await user_with_role(node, "alice@example.com", "user")
        post = await post_by(node, "alice@example.com", "Alice's", "Hers.")
        path = f"/posts/{post.id}"
        async with await member(node, "bob@example.com") as bob:
            form = await bob.get(f"{path}/edit")
            assert (form.status, form.location) == (303, path)
            assert (await bob.get(path)).flashes == [NOT_YOURS]

            edit = await bob.post(f"{path}/edit", {"title": "Bob's now", "body": "Mine."})
            assert (edit.status, edit.location) == (303, path)
            assert (await bob.get(path)).flashes == [NOT_YOURS]

            delete = await bob.post(f"{path}/delete")
            assert (delete.status, delete.location) == (303, path)
            assert (await bob.get(path)).flashes == [
                ("error", "You are not allowed to delete this post.")
            ]

        assert await posts.get_post(post.id) == post
