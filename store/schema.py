"""What tables a database has, read from the database itself (``sqlite_master`` and PRAGMAs on
SQLite, the catalogs on PostgreSQL), for ``hearth db`` and for tests.

Every function takes a :class:`~store.connection.Connection` (inside ``Repo.transaction``,
or one of ``store.copy``'s).
"""

from __future__ import annotations

from .connection import Connection

__all__ = ["columns", "identity_columns", "tables"]

SCHEMA_TABLE = "schema_migrations"


async def tables(conn: Connection) -> list[str]:
    """The application's tables (``schema_migrations`` left out), each after the tables it
    references: the order to fill them in."""
    if conn.dialect == "sqlite":
        rows = await conn.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'"
                                    " AND name NOT LIKE 'sqlite_%' ORDER BY name")
        names = [row[0] for row in rows]
        references = {}
        for name in names:
            found = await conn.fetch_all(f'PRAGMA foreign_key_list("{name}")')
            references[name] = {row["table"] for row in found}
    else:
        rows = await conn.fetch_all("SELECT tablename FROM pg_tables"
                                    " WHERE schemaname = current_schema() ORDER BY tablename")
        names = [row[0] for row in rows]
        found = await conn.fetch_all(
            "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent"
            " FROM pg_constraint c WHERE c.contype = 'f'"
            " AND c.connamespace = current_schema()::regnamespace")
        references = {name: set() for name in names}
        for row in found:
            references.setdefault(row["child"], set()).add(row["parent"])
    ordered: list[str] = []

    def visit(name: str, path: frozenset[str]) -> None:
        if name in ordered or name in path:
            return
        for parent in sorted(references.get(name, ())):
            if parent != name:
                visit(parent, path | {name})
        ordered.append(name)

    for name in names:
        visit(name, frozenset())
    return [name for name in ordered if name in names and name != SCHEMA_TABLE]


async def columns(conn: Connection, table: str) -> list[str]:
    """The columns of ``table``, in their order."""
    if conn.dialect == "sqlite":
        return [row["name"] for row in await conn.fetch_all(f'PRAGMA table_info("{table}")')]
    rows = await conn.fetch_all(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))
    return [row[0] for row in rows]


async def identity_columns(conn: Connection) -> list[tuple[str, str]]:
    """``(table, column)`` of each column whose values a sequence gives (PostgreSQL's
    identity columns; none on SQLite, whose row ids follow the largest stored)."""
    if conn.dialect == "sqlite":
        return []
    rows = await conn.fetch_all(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        " ORDER BY table_name")
    return [(row[0], row[1]) for row in rows]
