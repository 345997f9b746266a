"""The registered names of the node's long-lived processes, shared by the tree and the web
layer (which may not import the tree)."""

from __future__ import annotations

ROOT = "hearth.root"
REPO = "hearth.repo"
PUBSUB = "hearth.pubsub"
NODES = "hearth.nodes"
REGISTRY = "hearth.registry"
PRESENCE = "hearth.presence"
RATE_LIMITER = "hearth.rate_limiter"
TASKS = "hearth.tasks"
SESSIONS = "hearth.sessions"
LIVE = "hearth.live"
ENDPOINT = "hearth.endpoint"
