"""``posts``: live news of posts, for everyone (seed Example 33, over a channel).

Each joined channel subscribes to :data:`contexts.posts.TOPIC`, where the posts context
publishes a :class:`~contexts.posts.PostEvent` for every post created, updated or deleted,
and pushes each to its socket as ``post_created`` or ``post_updated`` (the post's JSON, as
the API answers it) or ``post_deleted`` (``{"id": id}``). Joining answers ``{}``; the client
sends nothing.
"""

from __future__ import annotations

from typing import Any

from channels.channel import Channel, Socket, push
from contexts import posts
from contexts.posts import PostEvent
from otp import NoReply, Ok, PubSub, Reply

__all__ = ["TOPIC", "PostsChannel"]

TOPIC = "posts"
"""The channel topic clients join."""


class PostsChannel(Channel):
    """Routed from ``posts``; see the module docstring."""

    async def join(self, topic: str, payload: dict[str, Any], socket: Socket) -> Any:
        # This process subscribes (not the socket): the events are messages for it to turn
        # into pushes. The subscription ends with the process.
        PubSub.subscribe(socket.pubsub, posts.TOPIC)
        return Ok(socket)

    def handle_in(self, event: str, payload: Any, socket: Socket) -> Any:
        return Reply(("error", {"reason": f"unknown event {event!r}"}), socket)

    def handle_message(self, msg: Any, socket: Socket) -> Any:
        if type(msg) is PostEvent:
            push(socket, msg.event, msg.post)
            return NoReply(socket)
        return super().handle_message(msg, socket)
