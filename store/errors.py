"""What the Repo raises, whichever database is behind it.

The whole hierarchy::

    sqlite3.DatabaseError
    └── DatabaseError            the database refused the statement; nothing of it was done
        └── IntegrityError       a constraint: unique, foreign key, check, not null
    otp.ProcessExited
    ├── NoProcess
    │   └── RepoUnavailable      no Repo, or no database, answered in time: nothing was done
    └── RepoLost                 the connection died while a write committed: stored or not
    RuntimeError
    └── SchemaTooNew             the database was migrated by newer code

A caller catches :class:`IntegrityError` to answer "already taken", :class:`RepoUnavailable`
to retry later, and ``otp.ProcessExited`` (which both Repo errors are) for "the store is gone".
Both backends translate their driver's errors into these, the driver's own error kept as the
``__cause__``. The database errors subclass sqlite3's, so code written when the Repo had only
SQLite (``except sqlite3.IntegrityError``) catches them on either backend.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from otp import NoProcess, ProcessExited

__all__ = ["DatabaseError", "IntegrityError", "RepoLost", "RepoUnavailable", "SchemaTooNew"]


class DatabaseError(sqlite3.DatabaseError):
    """The database refused the statement (bad SQL, a wrong type, a timeout): the caller's
    error to handle; the Repo lives on and nothing of the statement was done."""


class IntegrityError(DatabaseError, sqlite3.IntegrityError):
    """A constraint refused the write: a unique key taken, a row referenced that does not
    exist, a check or a not-null broken."""


class RepoUnavailable(NoProcess):
    """No Repo, or no database behind it, answered within ``store.repo.RESTART_WAIT``:
    nothing was read or written, so retrying later is safe.

    Unlike its parent :class:`~otp.NoProcess`, it comes after a wait. A write the Repo had
    begun when it died raises :class:`~otp.ProcessExited` instead (SQLite), as does one whose
    connection was lost while it committed (:class:`RepoLost`, PostgreSQL): it may then have
    been stored or not.
    """

    def __init__(self, repo: Any, why: str = "is down or restarting") -> None:
        super().__init__(repo)
        self.args = (f"the Repo {repo!r} {why}; nothing was done, retry",)


class RepoLost(ProcessExited):
    """The connection to the database was lost while this write was committing: it may have
    been stored or not, as when a Repo dies under a write (``otp.ProcessExited``)."""

    def __init__(self, repo: Any, error: BaseException) -> None:
        super().__init__(repo, None, "connection lost")
        self.args = (f"the connection of the Repo {repo!r} was lost while a write committed "
                     f"({error}); it may or may not be stored",)


class SchemaTooNew(RuntimeError):
    """The database was migrated by newer code than this; upgrade the code, not the data."""
