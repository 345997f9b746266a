"""The Repo moved to :mod:`store.repo` (with its SQLite and PostgreSQL backends); this name
stays for code written against the old place. New code imports from :mod:`store`."""

from store.connection import Result, Row
from store.errors import RepoUnavailable, SchemaTooNew
from store.repo import NAME, RESTART_WAIT, Repo

__all__ = ["NAME", "RESTART_WAIT", "Repo", "RepoUnavailable", "Result", "Row", "SchemaTooNew"]
