"""Roles: ``admin`` may do all a ``moderator`` may, who may do all a ``user`` may."""

from __future__ import annotations

__all__ = ["ROLES", "at_least", "is_role"]

ROLES = ("user", "moderator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def is_role(value: object) -> bool:
    """Whether ``value`` names a role."""
    return isinstance(value, str) and value in _RANK


def at_least(role: str, required: str) -> bool:
    """Whether someone with ``role`` may do what ``required`` may."""
    return _RANK.get(role, -1) >= _RANK[required]
