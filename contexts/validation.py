"""The errors contexts raise for input they refuse: :class:`ValidationError` for values that
break a rule, :class:`Conflict` for a change that clashes with what is stored."""

from __future__ import annotations

__all__ = ["Conflict", "ValidationError"]


class ValidationError(ValueError):
    """The input breaks a context's rules; ``errors`` maps each bad field to its messages,
    ready for a form or a JSON error body. Fix the input and try again."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class Conflict(Exception):
    """The change clashes with what is stored (liked twice, a name already taken): ``code``
    says which, ``message`` says it to people. Reload and decide again."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
