"""Free ports for the servers tests start (nodes, PostgreSQL, Redis, an OpenID provider)."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now. For servers that must be told
    their port before they start (port 0 would let them pick, but a restarted server must
    come back where its clients reconnect, and a provider must know its redirect URIs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
