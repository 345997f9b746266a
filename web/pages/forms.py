"""Reading submitted forms: text fields, and where to go next."""

from __future__ import annotations

from multidict import MultiMapping
from yarl import URL

__all__ = ["local_path", "text"]


def text(form: MultiMapping[object], name: str) -> str:
    """The field ``name`` as text; ``""`` when it is missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def local_path(target: str, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: a ``next`` parameter
    must not send a user who just logged in to another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    # Browsers drop tabs and newlines from addresses: "/\t/evil.example" is "//evil...".
    if any(c.isspace() or not c.isprintable() for c in target):
        return default
    try:
        url = URL(target)
    except ValueError:
        return default
    if url.scheme or url.host is not None:
        return default
    return target
