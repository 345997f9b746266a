"""The ``hearth`` command.

``hearth serve [--host H] [--port P] [--config PATH]`` reads the configuration, then runs the
node until SIGTERM or SIGINT. Exit status: 0 after an orderly stop, 1 if the tree failed to
start or gave up, 2 for a configuration or usage error (the message on stderr names the key),
a missing or unusable JWT key file (``auth.jwt_private_key_path``, ``auth.jwt_public_key_path``)
included.

``hearth users create --email E --role R [--name N]``, ``hearth users list`` and ``hearth
users set-role --email E --role R`` (each with ``[--config PATH]``) manage accounts in the
configured database. They run in a small tree of their own (the Repo and the dirty pool, no
server), so they work with or without a node running on the same database. ``create`` reads
the password from stdin when it is piped (one line), else asks for it twice on the terminal;
never from the command line, where other users and the shell history would see it. Exit
status: 0 when done, 1 if the database could not be opened, 2 for a usage error or invalid
fields (each printed to stderr as ``hearth: field: message``).

``hearth tree``, ``ps``, ``info``, ``kill``, ``restart``, ``terminate``, ``top``, ``stats`` and
``nodes`` operate a running node (or, with ``--node``, another node of its cluster) through
its admin endpoint: see :mod:`hearth.admin_cli`.

``hearth db migrate``, ``status`` and ``copy`` work on the database without a node: see
:mod:`hearth.db_cli`. ``serve``, ``users`` and ``db`` refuse a PostgreSQL server that cannot be
reached or refuses the login as a configuration error (exit 2, naming ``repo.url``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import uvloop

import otp
from actors.mailer import adapter_for
from contexts.accounts import Accounts, ValidationError
from contexts.roles import ROLES
from contexts.tokens import check_keys
from hearth import admin_cli, db_cli
from hearth.config import Config, ConfigError, load_config
from hearth.logs import configure_logging
from supervisors.root import cli_spec, root_spec

__all__ = ["main"]

DEFAULT_CONFIG = Path("config.toml")
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_USAGE = 2  # as argparse's own


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
        if args.command == "serve":
            # The API's signing keys are read when the Endpoint starts, last in the tree;
            # a bad key file is a configuration error, so refuse it now, before anything runs.
            check_keys(config.auth)
            adapter_for(config.mail)
        if args.command in ("serve", "users"):
            db_cli.check_repo(config)
    except ConfigError as e:
        print(f"hearth: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(config.node.log_level)
    if args.command == "serve":
        return otp.run_node(root_spec(config), name=config.node.name, gc=gc_policy(config))
    if args.command == "users":
        return _users(args, config)
    if args.command in admin_cli.COMMANDS:
        return admin_cli.run(args, config)
    if args.command == "db":
        return db_cli.run(args, config)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse enforces the choice


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Run and operate a Hearth node.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run a node: the supervision tree and the server")
    _add_config_option(serve)
    serve.add_argument("--host", help="interface to listen on (overrides server.host)")
    # A string, checked by the config loader like every other source of server.port.
    serve.add_argument("--port", help="port to listen on, 0 for any free one (server.port)")

    users = commands.add_parser("users", help="manage accounts: create, list, set-role")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    roles = ", ".join(ROLES)
    create = actions.add_parser(
        "create", help="create a user; the password comes from stdin or a prompt"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, help=f"one of {roles}")
    create.add_argument("--name", help="display name (default: the email's local part)")
    listing = actions.add_parser("list", help="list every user")
    set_role = actions.add_parser("set-role", help="change a user's role")
    set_role.add_argument("--email", required=True)
    set_role.add_argument("--role", required=True, help=f"one of {roles}")
    for action in (create, listing, set_role):
        _add_config_option(action)
    admin_cli.add_commands(commands, _add_config_option)
    db_cli.add_commands(commands, _add_config_option)
    return parser


def gc_policy(config: Config) -> otp.GcPolicy:
    """The collector policy of ``[node]``'s ``gc_*`` keys."""
    node = config.node
    return otp.GcPolicy(
        freeze=node.gc_freeze,
        freeze_after_ms=node.gc_freeze_after_ms,
        thresholds=(node.gc_threshold0, node.gc_threshold1, node.gc_threshold2),
        tick_ms=node.gc_tick_ms,
    )


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"the TOML config file (default: ./{DEFAULT_CONFIG} if present)",
    )


def _config(args: argparse.Namespace) -> Config:
    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None) is not None:
        overrides["server.host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["server.port"] = args.port
    return load_config(path, overrides=overrides)


def _configure_logging(level: str) -> None:
    configure_logging(level)


# -- hearth users ----------------------------------------------------------------------------


def _users(args: argparse.Namespace, config: Config) -> int:
    if args.action == "create":
        password = _read_password()
        if password is None:
            print("hearth: the two passwords differ", file=sys.stderr)
            return EXIT_USAGE
        name = args.name if args.name is not None else args.email.partition("@")[0]

        async def create(accounts: Accounts) -> None:
            user = await accounts.register(args.email, password, name, args.role)
            print(f"created user {user.id}: {user.email} ({user.role})")

        return _with_accounts(config, create)
    if args.action == "set-role":

        async def set_role(accounts: Accounts) -> None:
            user = await accounts.set_role(args.email, args.role)
            print(f"{user.email} is now {user.role}")

        return _with_accounts(config, set_role)

    async def list_users(accounts: Accounts) -> None:
        rows = [("ID", "EMAIL", "ROLE", "NAME")]
        rows += [(str(u.id), u.email, u.role, u.display_name) for u in await accounts.list_users()]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for *padded, last in rows:
            print("  ".join([*(c.ljust(w) for c, w in zip(padded, widths, strict=True)), last]))

    return _with_accounts(config, list_users)


def _read_password() -> str | None:
    """One line of stdin if it is piped; else asked twice on the terminal (``None`` if the
    two differ)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    return password if getpass.getpass("Password (again): ") == password else None


def _with_accounts(config: Config, action: Callable[[Accounts], Awaitable[None]]) -> int:
    """Run ``action`` in the small tree of ``cli_spec`` and stop the tree; the exit status."""

    async def run() -> int:
        otp.trap_exit(True)  # the tree is linked to us; its exit must come as a message
        try:
            tree = await cli_spec(config).start()
        except otp.StartError as e:
            print(f"hearth: cannot open the database: {e}", file=sys.stderr)
            return EXIT_FAILED
        assert tree is not None
        try:
            await action(Accounts(config.auth))
        except ValidationError as e:
            for field, messages in e.errors.items():
                for message in messages:
                    print(f"hearth: {field}: {message}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            otp.exit(tree, "shutdown")
            await otp.receive(match=lambda m: type(m) is otp.Exit and m.pid == tree)
        return 0

    return uvloop.run(run())
