"""The store: the Repo process and its two backends, the schema's migrations, and the SQL
both backends run.

Layout: :mod:`store.repo` (the Repo process and its client API), :mod:`store.sqlite` and
:mod:`store.postgres` (the backends), :mod:`store.connection` (what a transaction's function
is handed), :mod:`store.sql` (one SQL text for both), :mod:`store.url` (``[repo] url``),
:mod:`store.migrations` (the schema's history), :mod:`store.errors` and :mod:`store.copy`
(``hearth db copy``). Contexts import what they need from here.
"""

from .connection import Connection, Params, Result, Row
from .errors import DatabaseError, IntegrityError, RepoLost, RepoUnavailable, SchemaTooNew
from .repo import NAME, RESTART_WAIT, Repo

__all__ = [
    "NAME",
    "RESTART_WAIT",
    "Connection",
    "DatabaseError",
    "IntegrityError",
    "Params",
    "Repo",
    "RepoLost",
    "RepoUnavailable",
    "Result",
    "Row",
    "SchemaTooNew",
]
