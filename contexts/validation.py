"""The one error every context raises for bad input."""

from __future__ import annotations

__all__ = ["ValidationError"]


class ValidationError(ValueError):
    """The input breaks a context's rules; ``errors`` maps each bad field to its messages,
    ready for a form or a JSON error body. Fix the input and try again."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors
