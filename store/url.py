"""Where the Repo's database is: ``[repo] url``, read into a :class:`SqliteTarget` or a
:class:`PostgresTarget`.

- ``sqlite:///data/hearth.db``: a file, relative to the directory Hearth starts in (three
  slashes); ``sqlite:////var/lib/hearth/hearth.db``: an absolute path (four);
- ``postgresql://user:password@host:port/database`` (or ``postgres://``), with libpq's query
  options asyncpg reads (``?sslmode=require``, ``?host=/run/postgresql`` for a Unix socket).

An empty URL means the SQLite file of ``[database] path``. A plain path is taken as a SQLite
file too. :func:`redact` writes a URL without its password, for logs and messages.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from hearth.config import Config

__all__ = ["SCHEMES", "PostgresTarget", "SqliteTarget", "Target", "from_config", "parse",
           "redact"]

SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class SqliteTarget:
    """A SQLite file, and the read-only connections to open beside its writer."""

    path: Path
    read_connections: int = 2

    @property
    def shown(self) -> str:
        return f"sqlite:///{self.path}"


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL database, and how the Repo's pool talks to it (seconds; 0: no limit)."""

    dsn: str = field(repr=False)
    pool_size: int = 10
    statement_timeout: float = 30.0
    connect_timeout: float = 5.0

    @property
    def shown(self) -> str:
        return redact(self.dsn)

    def __repr__(self) -> str:
        return f"PostgresTarget({self.shown!r}, pool_size={self.pool_size})"


Target = SqliteTarget | PostgresTarget


def parse(url: str | Path, *, read_connections: int = 2, pool_size: int = 10,
          statement_timeout: float = 30.0, connect_timeout: float = 5.0) -> Target:
    """The target ``url`` names; raises ``ValueError`` saying what is wrong with it."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        if not text:
            raise ValueError("an empty database path")
        return SqliteTarget(Path(text), read_connections)
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValueError("a SQLite URL reads sqlite:///relative/path.db or "
                             "sqlite:////absolute/path.db")
        return SqliteTarget(Path(rest[1:]), read_connections)
    if scheme in ("postgresql", "postgres"):
        parts = urllib.parse.urlsplit(text)
        try:
            parts.port  # noqa: B018 (it raises for a port that is not a number)
        except ValueError:
            raise ValueError("the port must be a number") from None
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("a PostgreSQL URL names a host (postgresql://user@host/db) or a "
                             "socket directory (?host=/run/postgresql)")
        return PostgresTarget(text, pool_size, statement_timeout, connect_timeout)
    raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{user}:***@{host}")
    if "password" in parts.query:
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        parts = parts._replace(query=urllib.parse.urlencode(
            [(k, "***" if k == "password" else v) for k, v in query], safe="/*"))
    return urllib.parse.urlunsplit(parts)


def from_config(config: Config) -> Target:
    """The target of a node's configuration: ``[repo]``, else ``[database] path``."""
    repo, database = config.repo, config.database
    return parse(repo.resolved_url(database), read_connections=database.read_connections,
                 pool_size=repo.pool_size, statement_timeout=repo.statement_timeout,
                 connect_timeout=repo.connect_timeout)
