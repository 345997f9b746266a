"""The posts pages, live (seed Examples 26, 30, 31, 33 and 43's form).

- ``/posts``: the published posts as a stream, newest first, kept up to date from the
  ``posts`` PubSub topic (a post created, edited or deleted anywhere appears, changes or
  goes without a reload); at most :data:`LIMIT` are on the page.
- ``/posts/{id}``: the post, its like button (optimistic: the count goes up the moment it is
  clicked, and back when the like is refused) and a delete confirmation opened and closed
  with JS commands, without a round trip.
- ``/posts/new`` and ``/posts/{id}/edit``: a form validated as it is filled in, errors
  shown under each field once it has been touched, and a redirect to the post with a flash
  on save.
"""

from __future__ import annotations

import time
from typing import Any

from channels.serializer import Broadcast
from contexts import posts
from contexts.posts import Post
from contexts.validation import Conflict, ValidationError
from hearth.names import PUBSUB
from live import (
    JS,
    LiveSocket,
    LiveView,
    NoReply,
    NotFound,
    Ok,
    Template,
    assign,
    connected,
    put_flash,
    redirect,
    stream,
    stream_delete_by_dom_id,
    stream_insert,
)
from otp import PubSub

from .layout import flash_group

__all__ = ["LIMIT", "PostFormLive", "PostLive", "PostsLive"]

LIMIT = 50
"""Posts on the ``/posts`` page at most; older ones drop off the end as new ones come."""

_HELPERS = {"JS": JS, "flash_group": flash_group, "isotime": lambda t: time.strftime(
    "%Y-%m-%dT%H:%MZ", time.gmtime(t))}


def _shown(post: Post | dict[str, Any]) -> dict[str, Any]:
    """A post as the templates read it, from the context's Post or a broadcast's JSON."""
    data = post.to_json() if isinstance(post, Post) else post
    return {"id": data["id"], "title": data["title"], "author": data["author"]["display_name"],
            "avatar": data["author"].get("avatar_url"),
            "created_at": data["created_at"], "likes": data["likes"]}


class PostsLive(LiveView):
    template = Template("""
      <section class="posts">
        {flash_group(@flash)}
        <h1>Posts</h1>
        <p :if={@current_user}><a href="/posts/new">Write a post</a></p>
        <div id="posts" phx-update="stream" class="post-list">
          <article :for={dom_id, post in @streams.posts} id={dom_id} class="post-summary">
            <h2><a href={f"/posts/{post['id']}"} data-phx-link="redirect"
                   data-phx-link-state="push">{post["title"]}</a></h2>
            <p class="byline">by <img :if={post["avatar"]} class="avatar small"
                 src={post["avatar"]} alt=""><span class="author">{post["author"]}</span>,
              <time datetime={isotime(post["created_at"])}>{isotime(post["created_at"])}</time>
              · <span class="likes">{post["likes"]} likes</span></p>
          </article>
        </div>
        <p class="empty-note">No more posts.</p>
      </section>
    """, globals=_HELPERS)

    async def mount(self, params: dict[str, Any], session: dict[str, Any],
                    socket: LiveSocket) -> Any:
        if connected(socket):
            PubSub.subscribe(PUBSUB, posts.TOPIC)
        newest = await posts.list_posts(limit=LIMIT)
        stream(socket, "posts", [_shown(p) for p in newest], limit=LIMIT)
        return Ok(assign(socket, page_title="Posts"))

    def handle_info(self, msg: Any, socket: LiveSocket) -> Any:
        if isinstance(msg, Broadcast) and msg.topic == posts.TOPIC:
            if msg.event == "post_created":
                stream_insert(socket, "posts", _shown(msg.payload), at=0, limit=LIMIT)
            elif msg.event == "post_updated":
                stream_insert(socket, "posts", _shown(msg.payload), update_only=True)
            elif msg.event == "post_deleted":
                stream_delete_by_dom_id(socket, "posts", f"posts-{msg.payload['id']}")
        return NoReply(socket)


class PostLive(LiveView):
    template = Template("""
      <section class="post-page">
        {flash_group(@flash)}
        <article class="post" id="post">
          <h1>{@post.title}</h1>
          <p class="byline">by <img :if={@post.author_avatar} class="avatar small"
               src={@post.author_avatar} alt=""><span class="author"
               >{@post.author_name}</span>,
            <time datetime={isotime(@post.created_at)}>{isotime(@post.created_at)}</time></p>
          <div class="post-body">{@post.body}</div>
        </article>
        <div class="post-actions">
          <button id="like-button" class="like-button" phx-click="like"
                  aria-label="like this post">
            ♥ <span class="count">{@post.likes}</span><span class="count-next"
              >{@post.likes + 1}</span>
          </button>
          <a :if={@may_modify} href={f"/posts/{@post.id}/edit"}>Edit</a>
          <button :if={@may_modify} id="delete-button" class="danger"
                  phx-click={JS.show(to="#delete-modal", display="flex", transition="fade-in",
                                     time=150)
                             .focus_first(to="#delete-modal")}>Delete</button>
          <a href="/posts" data-phx-link="redirect" data-phx-link-state="push">All posts</a>
        </div>
        <div :if={@may_modify} id="delete-modal" class="modal" style="display: none"
             role="dialog" aria-modal="true" aria-labelledby="delete-title"
             phx-window-keydown={JS.hide(to="#delete-modal")} phx-key="Escape">
          <div class="modal-box" phx-click-away={JS.hide(to="#delete-modal")}>
            <h2 id="delete-title">Delete this post?</h2>
            <p>"{@post.title}" will be gone for everyone.</p>
            <button id="cancel-delete" phx-click={JS.hide(to="#delete-modal")}>Cancel</button>
            <button id="confirm-delete" class="danger" phx-click="delete">Delete</button>
          </div>
        </div>
      </section>
    """, globals=_HELPERS)

    async def mount(self, params: dict[str, Any], session: dict[str, Any],
                    socket: LiveSocket) -> Any:
        post = await _post_or_none(params.get("id"))
        user = session.get("current_user")
        if post is None or not posts.can_see(user, post):
            raise NotFound("post")  # a draft too, to all but those who may see it
        if connected(socket):
            PubSub.subscribe(PUBSUB, posts.TOPIC)
        return Ok(assign(socket, post=post, page_title=post.title,
                         may_modify=posts.can_modify(user, post)))

    async def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        user = socket.assigns["current_user"]
        post: Post = socket.assigns["post"]
        if event == "like":
            if user is None:
                return NoReply(put_flash(socket, "error", "Log in to like posts."))
            try:
                liked = await posts.like_post(post.id, user.id)
            except Conflict:
                return NoReply(put_flash(socket, "error", "You have liked this post already."))
            if liked is not None:
                assign(socket, post=liked)
            return NoReply(socket)
        if event == "delete":
            if not posts.can_modify(user, post):
                return NoReply(put_flash(socket, "error", "You may not delete this post."))
            await posts.delete_post(post.id)
            put_flash(socket, "info", "Post deleted.")
            return NoReply(redirect(socket, "/posts"))
        raise ValueError(f"unknown event {event!r}")

    async def handle_info(self, msg: Any, socket: LiveSocket) -> Any:
        post: Post = socket.assigns["post"]
        if isinstance(msg, Broadcast) and msg.payload.get("id") == post.id:
            if msg.event == "post_deleted":
                put_flash(socket, "info", "This post was deleted.")
                return NoReply(redirect(socket, "/posts"))
            fresh = await posts.get_post(post.id)
            if fresh is not None:
                assign(socket, post=fresh, page_title=fresh.title)
        return NoReply(socket)


class PostFormLive(LiveView):
    template = Template("""
      <section class="post-form">
        {flash_group(@flash)}
        <h1>{"Edit post" if @post else "New post"}</h1>
        <form id="post-form" phx-change="validate" phx-submit="save" class="stacked">
          <label for="post_title">Title</label>
          <input id="post_title" name="post[title]" value={@values["title"]}
                 aria-invalid={"true" if "title" in @errors else None}>
          <span :for={message in @errors.get("title", [])} class="field-error"
                data-field="title">{message}</span>
          <label for="post_body">Body</label>
          <textarea id="post_body" name="post[body]" rows="8"
                    aria-invalid={"true" if "body" in @errors else None}
                    >{@values["body"]}</textarea>
          <span :for={message in @errors.get("body", [])} class="field-error"
                data-field="body">{message}</span>
          <button type="submit" phx-disable-with="Saving…">Save</button>
        </form>
      </section>
    """, globals=_HELPERS)

    async def mount(self, params: dict[str, Any], session: dict[str, Any],
                    socket: LiveSocket) -> Any:
        user = session.get("current_user")
        post = None
        if socket.assigns["live_action"] == "edit":
            post = await _post_or_none(params.get("id"))
            if post is None or not posts.can_see(user, post):
                raise NotFound("post")
            if not posts.can_modify(user, post):
                put_flash(socket, "error", "You are not allowed to edit this post.")
                return Ok(redirect(socket, f"/posts/{post.id}"))
        values = {"title": post.title if post else "", "body": post.body if post else ""}
        title = "Edit post" if post else "New post"
        return Ok(assign(socket, post=post, values=values, errors={}, page_title=title))

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        fields = value.get("post", {}) if isinstance(value, dict) else {}
        values = {"title": str(fields.get("title", "")), "body": str(fields.get("body", ""))}
        if event == "validate":
            errors = posts.validate_post(values["title"], values["body"])
            # Only what the user has been in: the client marks the others _unused_.
            touched = {k: v for k, v in errors.items() if f"_unused_{k}" not in fields}
            return NoReply(assign(socket, values=values, errors=touched))
        if event == "save":
            return self._save(values, socket)
        raise ValueError(f"unknown event {event!r}")

    async def _save(self, values: dict[str, str], socket: LiveSocket) -> Any:
        user = socket.assigns["current_user"]
        post: Post | None = socket.assigns["post"]
        try:
            if post is None:
                saved = await posts.create_post(user.id, values["title"], values["body"])
                put_flash(socket, "info", "Post created.")
            else:
                if not posts.can_modify(user, post):
                    return NoReply(put_flash(socket, "error", "You may not edit this post."))
                updated = await posts.update_post(post.id, values["title"], values["body"])
                if updated is None:
                    put_flash(socket, "error", "That post was deleted meanwhile.")
                    return NoReply(redirect(socket, "/posts"))
                saved = updated
                put_flash(socket, "info", "Post updated.")
        except ValidationError as e:
            return NoReply(assign(socket, values=values, errors=e.errors))
        return NoReply(redirect(socket, f"/posts/{saved.id}"))


async def _post_or_none(raw: Any) -> Post | None:
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 18:
        return None  # only what an id can be (SQLite's integers stop at 2**63)
    return await posts.get_post(int(raw))
