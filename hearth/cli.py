"""The ``hearth`` command.

``hearth serve [--host H] [--port P] [--config PATH]`` reads the configuration, then runs the
node until SIGTERM or SIGINT. Exit status: 0 after an orderly stop, 1 if the tree failed to
start or gave up, 2 for a configuration or usage error (the message on stderr names the key).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import otp
from hearth.config import Config, ConfigError, load_config
from supervisors.root import root_spec

__all__ = ["main"]

DEFAULT_CONFIG = Path("config.toml")
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as e:
        print(f"hearth: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(config.node.log_level)
    if args.command == "serve":
        return otp.run_node(root_spec(config), name=config.node.name)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse enforces the choice


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Run and operate a Hearth node.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run a node: the supervision tree and the server")
    serve.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"the TOML config file (default: ./{DEFAULT_CONFIG} if present)",
    )
    serve.add_argument("--host", help="interface to listen on (overrides server.host)")
    # A string, checked by the config loader like every other source of server.port.
    serve.add_argument("--port", help="port to listen on, 0 for any free one (server.port)")
    return parser


def _config(args: argparse.Namespace) -> Config:
    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["server.host"] = args.host
    if args.port is not None:
        overrides["server.port"] = args.port
    return load_config(path, overrides=overrides)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
