"""One SQL text for both backends: SQLite's ``?`` numbered for asyncpg, but never inside a
string, a quoted name or a comment; what answers rows; row locks dropped for SQLite."""

from __future__ import annotations

import pytest

from store.sql import for_postgres, for_sqlite


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"),
    ("SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = $1"),
    ("SELECT 'it''s ?' , ? FROM t", "SELECT 'it''s ?' , $1 FROM t"),
    ('SELECT "odd?name" FROM t WHERE x = ?', 'SELECT "odd?name" FROM t WHERE x = $1'),
    ("SELECT ? -- what? \n, ?", "SELECT $1 -- what? \n, $2"),
    ("SELECT /* a ? b */ ?", "SELECT /* a ? b */ $1"),
    ("INSERT INTO t VALUES (?, ?), (?, ?)", "INSERT INTO t VALUES ($1, $2), ($3, $4)"),
    ("SELECT 1", "SELECT 1"),
    ("SELECT 'unterminated ?", "SELECT 'unterminated ?"),
])
def test_placeholders_are_numbered_outside_quotes_and_comments(sql: str, expected: str) -> None:
    assert for_postgres(sql).sql == expected


@pytest.mark.parametrize(("sql", "rows"), [
    ("SELECT 1", True),
    ("  with x AS (SELECT 1) SELECT * FROM x", True),
    ("INSERT INTO t (a) VALUES (?) RETURNING id", True),
    ("UPDATE t SET a = 1 WHERE id = ? returning a", True),
    ("INSERT INTO t (a) VALUES ('RETURNING')", False),
    ("DELETE FROM t WHERE a = ?", False),
    ("-- SELECT\nUPDATE t SET a = 1", False),
])
def test_what_answers_rows_is_read_from_the_code_not_its_strings(sql: str, rows: bool) -> None:
    assert for_postgres(sql).returns_rows is rows


def test_sqlite_drops_row_locks_it_has_no_syntax_for() -> None:
    assert for_sqlite("SELECT 1 FROM posts WHERE id = ? FOR UPDATE") == (
        "SELECT 1 FROM posts WHERE id = ?")
    assert for_sqlite("SELECT 'FOR UPDATE' FROM t for  update") == "SELECT 'FOR UPDATE' FROM t"
    unchanged = "SELECT name FROM t"
    assert for_sqlite(unchanged) is unchanged
