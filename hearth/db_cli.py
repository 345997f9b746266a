"""``hearth db migrate|status|copy``: the database, without a node.

- ``hearth db migrate [--url URL]`` applies the pending migrations (``hearth serve`` does too
  as it starts; this is for migrating before rolling out nodes), and says what it applied.
- ``hearth db status [--url URL]`` lists the migrations the database records and those this
  code would apply; it changes nothing.
- ``hearth db copy --from URL --to URL`` moves an embedded database to a server (or any
  database to an empty one): see :mod:`store.tools`. It prints the rows of each table as it
  is copied, verified by count.

``--url`` defaults to the node's database (``repo.url``, else ``database.path``), as does
``--from``; each command takes ``--config PATH``. Exit status: 0 when done; 1 when the
database refused (a schema newer than this code, a target with data, a failed copy); 2 for a
usage error or a database that cannot be reached or logged into (the message names the
setting or the option).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import uvloop

from hearth.config import Config, ConfigError
from store import postgres, tools
from store.errors import SchemaTooNew
from store.url import PostgresTarget, Target, from_config, parse

__all__ = ["add_commands", "check_repo", "run"]

EXIT_FAILED = 1
EXIT_USAGE = 2


def add_commands(commands: Any,
                 add_config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``db`` and its actions to the ``hearth`` parser's subparsers ``commands``."""
    db = commands.add_parser("db", help="the database: migrate, status, copy")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = actions.add_parser("migrate", help="apply the pending migrations")
    status = actions.add_parser("status", help="the schema version, applied and pending")
    for parser in (migrate, status):
        parser.add_argument("--url", help="the database (default: repo.url, else "
                                          "database.path)")
    copy = actions.add_parser("copy", help="copy every row into an empty database")
    copy.add_argument("--from", dest="source", metavar="URL",
                      help="the database copied (default: repo.url, else database.path)")
    copy.add_argument("--to", dest="target", metavar="URL", required=True,
                      help="the empty database it is copied into (postgresql://...)")
    for parser in (migrate, status, copy):
        add_config_option(parser)


def _target(url: str | None, option: str, config: Config) -> Target:
    if url is None:
        return from_config(config)
    try:
        return parse(url, pool_size=config.repo.pool_size,
                     statement_timeout=config.repo.statement_timeout,
                     connect_timeout=config.repo.connect_timeout)
    except ValueError as e:
        raise ConfigError(f"{option}: {e}") from None


def check_repo(config: Config) -> None:
    """Raise a :class:`ConfigError` naming ``repo.url`` if the node's PostgreSQL server
    cannot be reached or refuses the login: ``hearth serve`` refuses to start so."""
    target = from_config(config)
    if isinstance(target, PostgresTarget):
        _reach(target, "repo.url")


def _reach(target: PostgresTarget, setting: str) -> None:
    async def attempt() -> BaseException | None:
        try:
            conn = await postgres.connect(target)
        except Exception as e:
            return e
        await conn.close()
        return None

    failure = uvloop.run(attempt())
    if failure is not None:
        raise ConfigError(f"{setting}: cannot connect to {target.shown}: "
                          f"{postgres.describe_failure(failure)}")


def run(args: argparse.Namespace, config: Config) -> int:
    """Run ``hearth db ACTION``; the exit status."""
    try:
        if args.action == "copy":
            source = _target(args.source, "--from", config)
            target = _target(args.target, "--to", config)
            for shown, option in ((source, "--from"), (target, "--to")):
                if isinstance(shown, PostgresTarget):
                    _reach(shown, option)
            return _copy(source, target)
        target = _target(args.url, "--url", config)
        if isinstance(target, PostgresTarget):
            _reach(target, "--url" if args.url else "repo.url")
    except ConfigError as e:
        print(f"hearth: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "migrate":
        return _migrate(target)
    return _status(target)


def _migrate(target: Target) -> int:
    try:
        applied, version = uvloop.run(tools.migrate(target))
    except SchemaTooNew as e:
        print(f"hearth: {e}", file=sys.stderr)
        return EXIT_FAILED
    if applied:
        print(f"{target.shown}: applied {', '.join(map(str, applied))}; at version {version}")
    else:
        print(f"{target.shown}: at version {version}, nothing to apply")
    return 0


def _status(target: Target) -> int:
    try:
        status = uvloop.run(tools.status(target))
    except Exception as e:  # no such file, or the server went away
        print(f"hearth: cannot read {target.shown}: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{target.shown}: schema version {status.version} (this code knows {status.known})")
    for version, name, applied_at in status.applied:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(applied_at))
        print(f"  applied  {version:>3}  {when} UTC  {name}")
    for version, name in status.pending:
        print(f"  pending  {version:>3}  {'-':<23}  {name}")
    if status.too_new is not None:
        print(f"hearth: {status.too_new}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _copy(source: Target, target: Target) -> int:
    print(f"copying {source.shown} into {target.shown}")

    def done(table: str, rows: int) -> None:
        print(f"  {table:<20} {rows:>9} rows", flush=True)

    try:
        counts = uvloop.run(tools.copy(source, target, progress=done))
    except (tools.CopyError, SchemaTooNew) as e:
        print(f"hearth: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(f"copied {sum(counts.values())} rows in {len(counts)} tables; each table's count "
          "matches the source's")
    return 0
