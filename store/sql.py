"""One SQL text for both backends: what each needs changed in it, found once per text.

Contexts write SQLite's dialect with ``?`` placeholders. For PostgreSQL (asyncpg) each ``?``
becomes ``$1``, ``$2``, ... in order; a ``?`` inside a quoted string, a quoted name or a
comment is left alone. For SQLite, a ``FOR UPDATE`` (PostgreSQL's row lock, which a
transaction that reads a row it then changes takes against writers on other nodes) is
dropped: SQLite's writer holds the whole database from ``BEGIN IMMEDIATE`` on, a lock on
every row already.

Each text is scanned once and the answer kept (:func:`functools.lru_cache`): the statements
of an application are few, and those built with a varying part (``IN (?, ?, ?)``) are bounded
by the cache's size.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

__all__ = ["Statement", "for_postgres", "for_sqlite"]


class Statement(NamedTuple):
    """A statement as a backend runs it: its text, and whether it answers rows (a query, or
    a write with ``RETURNING``)."""

    sql: str
    returns_rows: bool


# Statements that answer rows by their first word.
_QUERY_WORDS = frozenset({"SELECT", "WITH", "VALUES", "SHOW", "EXPLAIN", "TABLE", "PRAGMA"})
_WORD = re.compile(r"[A-Za-z_]+")
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_FOR_UPDATE = re.compile(r"\s+FOR\s+UPDATE\b", re.IGNORECASE)


def _parts(sql: str) -> list[tuple[bool, str]]:
    """``sql`` cut into ``(code, text)`` pieces: ``code`` False for quoted strings, quoted
    names and comments, whose text is never changed."""
    parts: list[tuple[bool, str]] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = i + 1
            while True:
                end = sql.find(c, end)
                if end == -1:
                    end = n
                    break
                if end + 1 < n and sql[end + 1] == c:  # a doubled quote stands for itself
                    end += 2
                    continue
                end += 1
                break
        elif c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
        elif c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
        else:
            i += 1
            continue
        if start < i:
            parts.append((True, sql[start:i]))
        parts.append((False, sql[i:end]))
        start = i = end
    if start < n:
        parts.append((True, sql[start:]))
    return parts


def _returns_rows(parts: list[tuple[bool, str]]) -> bool:
    code = " ".join(text for is_code, text in parts if is_code)
    first = _WORD.search(code)
    if first is not None and first.group().upper() in _QUERY_WORDS:
        return True
    return _RETURNING.search(code) is not None


@functools.lru_cache(maxsize=4096)
def for_postgres(sql: str) -> Statement:
    """``sql`` with its placeholders numbered for asyncpg."""
    parts = _parts(sql)
    out: list[str] = []
    number = 0
    for is_code, text in parts:
        if not is_code or "?" not in text:
            out.append(text)
            continue
        pieces = text.split("?")
        out.append(pieces[0])
        for piece in pieces[1:]:
            number += 1
            out.append(f"${number}")
            out.append(piece)
    return Statement("".join(out), _returns_rows(parts))


@functools.lru_cache(maxsize=4096)
def for_sqlite(sql: str) -> str:
    """``sql`` without the row locks SQLite has no syntax for."""
    if "FOR" not in sql.upper():
        return sql
    return "".join(_FOR_UPDATE.sub("", text) if is_code else text
                   for is_code, text in _parts(sql))
