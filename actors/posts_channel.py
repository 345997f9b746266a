"""``posts``: live news of posts, for everyone (seed Example 33, over a channel).

The posts context broadcasts every post created, updated or deleted on the PubSub topic
``posts`` (:data:`contexts.posts.TOPIC`), which is this channel's topic: each joined socket
gets ``post_created`` or ``post_updated`` (the post's JSON, as the API answers it) or
``post_deleted`` (``{"id": id}``) on the fast lane, encoded once for every subscriber, with
no hop through this process. Joining answers ``{}``; the client sends nothing.
"""

from __future__ import annotations

from typing import Any

from channels.channel import Channel, Socket
from contexts import posts
from otp import Ok, Reply

__all__ = ["TOPIC", "PostsChannel"]

TOPIC = posts.TOPIC
"""The channel topic clients join."""


class PostsChannel(Channel):
    """Routed from ``posts``; see the module docstring."""

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        return Ok(socket)

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        return Reply(("error", {"reason": f"unknown event {event!r}"}), socket)
