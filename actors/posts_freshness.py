"""Keeps this node's cache of public post lists fresh when another node changes a post.

``contexts.posts.generation`` changes whenever this node stores a change to what the public
sees, and the API's kept answers are keyed by it. In a cluster the change may be stored by
another node; its post event reaches this one on the PubSub topic ``posts`` (through Redis),
and this process, subscribed to it, moves the generation on. A kept list is stale here for at
most the time the event takes to arrive. A restart subscribes again and moves it on once, in
case an event came while it was down.
"""

from __future__ import annotations

from typing import Any

from contexts import posts
from otp import GenServer, NoReply, Ok, PubSub

__all__ = ["NAME", "PostsFreshness"]

NAME = "hearth.posts_freshness"


class PostsFreshness(GenServer):
    """``PostsFreshness.child_spec(pubsub, name=NAME)``: start it after the PubSub."""

    behaviour = "posts_freshness"

    async def init(self, pubsub: Any) -> Any:
        PubSub.subscribe(pubsub, posts.TOPIC)
        posts.changed_elsewhere()
        return Ok(None)

    async def handle_info(self, msg: Any, state: None) -> Any:
        posts.changed_elsewhere()
        return NoReply(state)
