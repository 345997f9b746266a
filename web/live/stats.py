"""``/stats``: figures loaded after the page shows (seed Example 27).

The counts and the busiest rooms come with ``assign_async``: the page shows "Loading…"
first, then the figures, or why they could not be had. The search box runs each query with
``start_async``: a new query supersedes the one still running (its late result is dropped),
and a failed search says so.
"""

from __future__ import annotations

from typing import Any

from contexts import posts, stats
from live import (
    LiveSocket,
    LiveView,
    NoReply,
    Ok,
    Template,
    assign,
    assign_async,
    start_async,
)

from .layout import flash_group

__all__ = ["StatsLive"]

BUSIEST = 5


class StatsLive(LiveView):
    template = Template("""
      <section class="stats">
        {flash_group(@flash)}
        <h1>Site figures</h1>
        <div id="counts" class="stat-grid">
          <p :if={@counts.loading} class="loading">Loading…</p>
          <p :if={@counts.failed is not None} class="flash flash-error">
            Could not count: {@counts.failed}</p>
          <dl :if={@counts.ok}>
            <div :for={label, key in LABELS} class="stat"><dt>{label}</dt>
              <dd id={f"count-{key}"}>{@counts.result[key]}</dd></div>
          </dl>
        </div>
        <h2>Busiest rooms</h2>
        <div id="rooms">
          <p :if={@rooms.loading} class="loading">Loading…</p>
          <p :if={@rooms.failed is not None} class="flash flash-error">
            Could not list the rooms: {@rooms.failed}</p>
          <ol :if={@rooms.ok}>
            <li :for={room in @rooms.result} :key={room.slug}>
              <a href={f"/rooms/{room.slug}"}>{room.name}</a> ·
              {room.messages} {"message" if room.messages == 1 else "messages"}</li>
          </ol>
        </div>
        <h2>Search posts</h2>
        <form id="search" phx-change="search" phx-submit="search">
          <input name="q" value={@query} placeholder="Words in a title or a post"
                 autocomplete="off" phx-debounce="200">
        </form>
        <p :if={@searching} class="loading">Searching…</p>
        <p :if={@search_error} id="search-error" class="flash flash-error">
          Search failed: {@search_error}</p>
        <ul :if={@results is not None} id="results">
          <li :for={post in @results} :key={post.id}>
            <a href={f"/posts/{post.id}"}>{post.title}</a></li>
          <li :if={not @results} class="empty-note">No post matches.</li>
        </ul>
      </section>
    """, globals={"flash_group": flash_group, "LABELS": [
        ("Users", "users"), ("Posts", "posts"), ("Rooms", "rooms"), ("Messages", "messages")]})

    def mount(self, params: dict[str, Any], session: dict[str, Any],
              socket: LiveSocket) -> Any:
        assign(socket, page_title="Site figures", query="", results=None, searching=False,
               search_error=None)
        assign_async(socket, "counts", _counts)
        assign_async(socket, "rooms", _rooms)
        return Ok(socket)

    def handle_event(self, event: str, value: Any, socket: LiveSocket) -> Any:
        if event != "search":
            raise ValueError(f"unknown event {event!r}")
        query = str(value.get("q", "")) if isinstance(value, dict) else ""
        assign(socket, query=query)
        if not query.strip():
            return NoReply(assign(socket, results=None, searching=False, search_error=None))

        async def search() -> list[posts.Post]:
            return await posts.search_posts(query)

        start_async(socket, "search", search)
        return NoReply(assign(socket, searching=True))

    def handle_async(self, name: Any, result: tuple[str, Any], socket: LiveSocket) -> Any:
        kind, value = result
        assign(socket, searching=False)
        if kind == "ok":
            return NoReply(assign(socket, results=value, search_error=None))
        reason = value.args[0] if isinstance(value, Exception) and value.args else value
        return NoReply(assign(socket, results=None, search_error=str(reason)))


async def _counts() -> dict[str, Any]:
    return {"counts": await stats.site_counts()}


async def _rooms() -> dict[str, Any]:
    return {"rooms": await stats.busiest_rooms(BUSIEST)}
