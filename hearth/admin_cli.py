"""``hearth tree|ps|info|kill|restart|terminate|top|stats|nodes``: operate a running node.

Each command is one or more requests to the node's admin endpoint (``web.admin``) under
``/_admin``, with the header ``Authorization: Bearer <admin token>``. Every command takes
``--url`` (default: ``admin.url``, else ``server.base_url()``), ``--token`` (default:
``admin.token``, which ``HEARTH_ADMIN_TOKEN`` sets), ``--json`` (the endpoint's answer as
JSON instead of a table) and ``--config PATH``.

In a cluster, ``hearth nodes`` lists every node (name, address, uptime, connections, last
heartbeat), and ``tree``, ``ps``, ``info`` and ``stats`` take ``--node NAME``: the node the
command talks to asks that one and passes its answer on.

Exit status: 0 on success; 1 when the node refused or failed the action (401, 404, 409, ...)
or could not be reached ("cannot reach the node at URL: ..."); 2 on a usage error, a missing
token included.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from hearth.config import Config

__all__ = ["COMMANDS", "AdminError", "add_commands", "run"]

EXIT_FAILED = 1
EXIT_USAGE = 2
TIMEOUT = 15.0
SORTS = ("mailbox", "messages", "memory", "restarts")

COMMANDS = ("tree", "ps", "info", "kill", "restart", "terminate", "top", "stats", "nodes")


class AdminError(Exception):
    """A request that did not succeed: the message to print (the exit status is 1)."""


# -- the parser ------------------------------------------------------------------------------


def _count(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more: {text!r}")
        return value

    return parse


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def add_commands(
    commands: Any, add_config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add the admin subcommands to the ``hearth`` parser's subparsers ``commands``."""

    def command(name: str, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help)
        add_config_option(parser)
        parser.add_argument(
            "--url", help="the node's base URL (default: admin.url, else the server's URL)"
        )
        parser.add_argument(
            "--token", help="the admin token (default: admin.token / HEARTH_ADMIN_TOKEN)"
        )
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")
        return parser

    def another_node(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--node", metavar="NAME",
                            help="ask this node of the cluster (through the one reached)")
        return parser

    tree = another_node(command("tree", help="show the running node's supervision tree"))
    tree.add_argument("--depth", type=_count(0), help="how many levels of supervisors")
    tree.add_argument("--all", action="store_true", help="list every dynamic child")

    ps = another_node(command("ps", help="list the busiest processes"))
    ps.add_argument("--sort", choices=SORTS, default="mailbox")
    ps.add_argument("--limit", type=_count(1), default=20)

    info = another_node(command("info", help="everything known about one process"))
    info.add_argument("target", metavar="PID|NAME")

    kill = command("kill", help="send an exit signal to a process")
    kill.add_argument("target", metavar="PID|NAME")
    kill.add_argument("--reason", default="kill", help="the exit reason (default: kill)")

    for name, verb in (("restart", "restart"), ("terminate", "terminate")):
        action = command(name, help=f"{verb} a supervisor's child")
        action.add_argument("supervisor", metavar="SUPERVISOR", help="its name or pid")
        action.add_argument("child_id", metavar="CHILD_ID", help="the child's id")

    top = command("top", help="a refreshing view of the node's figures, until Ctrl-C")
    top.add_argument("--interval", type=_interval, default=2.0, help="seconds between views")
    top.add_argument("--limit", type=_count(1), default=10, help="processes shown")
    top.add_argument("--count", type=_count(1), help="stop after this many views")

    another_node(command("stats", help="one snapshot of the node's figures"))
    command("nodes", help="the nodes of the cluster: address, uptime, connections, heartbeat")


# -- running a command -----------------------------------------------------------------------


def run(args: argparse.Namespace, config: Config) -> int:
    """Run the admin command in ``args``; the exit status."""
    url = (args.url or config.admin.url or config.server.base_url()).rstrip("/")
    token = args.token if args.token is not None else config.admin.token
    if not token:
        print(
            "hearth: no admin token: pass --token, set admin.token or HEARTH_ADMIN_TOKEN",
            file=sys.stderr,
        )
        return EXIT_USAGE
    client = Client(url, token)
    try:
        return _COMMANDS[args.command](client, args)
    except AdminError as e:
        print(f"hearth: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 0 if args.command == "top" else 130


class Client:
    """Requests to ``URL/_admin/...`` with the bearer token; JSON in and out."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def get(self, path: str, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v is not None}
        suffix = "?" + urllib.parse.urlencode(params) if params else ""
        return self._request("GET", path + suffix, None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self.url}/_admin/{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            raise AdminError(_http_error(e)) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise AdminError(f"cannot reach the node at {self.url}: {reason}") from None
        except ValueError as e:
            raise AdminError(f"the node at {self.url} sent a bad answer: {e}") from None


def _http_error(e: urllib.error.HTTPError) -> str:
    try:
        raw = e.read()
    except OSError:
        raw = b""
    message = ""
    try:
        body = json.loads(raw)
        if isinstance(body, dict) and "error" in body:
            message = str(body["error"])
    except ValueError:
        if e.code == 404:  # not the endpoint's own JSON answer: the endpoint is off
            message = "no admin endpoint there (is admin.token set on the node?)"
        else:
            message = raw.decode(errors="replace").strip()[:200]
    return f"{message or e.reason} (HTTP {e.code})"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


# -- the commands ----------------------------------------------------------------------------


def _tree(client: Client, args: argparse.Namespace) -> int:
    tree = client.get("tree", depth=args.depth, all=1 if args.all else 0, node=args.node)
    if args.json:
        _print_json(tree)
    else:
        print("\n".join(format_tree(tree)))
    return 0


def _ps(client: Client, args: argparse.Namespace) -> int:
    answer = client.get("ps", sort=args.sort, limit=args.limit, node=args.node)
    if args.json:
        _print_json(answer)
    else:
        print(format_processes(answer.get("processes", [])))
    return 0


def _info(client: Client, args: argparse.Namespace) -> int:
    info = client.get("info", target=args.target, node=args.node)
    if args.json:
        _print_json(info)
    else:
        print(format_mapping(info))
    return 0


def _kill(client: Client, args: argparse.Namespace) -> int:
    answer = client.post("kill", {"target": args.target, "reason": args.reason})
    if args.json:
        _print_json(answer)
    else:
        print(f"killed {answer.get('killed', args.target)} (reason: {args.reason})")
    return 0


def _child_action(client: Client, args: argparse.Namespace) -> int:
    answer = client.post(args.command, {"supervisor": args.supervisor,
                                        "child_id": args.child_id})
    if args.json:
        _print_json(answer)
        return 0
    done = "restarted" if args.command == "restart" else "terminated"
    extra = {k: v for k, v in answer.items() if k != "ok"} if isinstance(answer, dict) else {}
    details = ", ".join(f"{k}: {v}" for k, v in extra.items())
    print(f"{done} {args.child_id} under {args.supervisor}" + (f" ({details})" if details
                                                                 else ""))
    return 0


def _stats(client: Client, args: argparse.Namespace) -> int:
    stats = client.get("stats", node=args.node)
    if args.json:
        _print_json(stats)
    else:
        print(format_stats(stats, None))
    return 0


def _top(client: Client, args: argparse.Namespace) -> int:
    previous: tuple[float, int] | None = None
    shown = 0
    clear = sys.stdout.isatty() and not args.json
    while args.count is None or shown < args.count:
        if shown:
            time.sleep(args.interval)
        stats = client.get("stats")
        processes = client.get("ps", sort="messages", limit=args.limit).get("processes", [])
        now = time.monotonic()
        handled = int(stats.get("messages_handled") or 0)
        rate = None
        if previous is not None and now > previous[0]:
            rate = max(0, handled - previous[1]) / (now - previous[0])
        previous = (now, handled)
        shown += 1
        if args.json:
            print(json.dumps({**stats, "messages_per_s": rate, "processes_top": processes}),
                  flush=True)
            continue
        view = f"{format_stats(stats, rate)}\n\n{format_processes(processes)}"
        if clear:
            sys.stdout.write("\x1b[H\x1b[2J")
        print(view, flush=True)
        if not clear and (args.count is None or shown < args.count):
            print(flush=True)
    return 0


def _nodes(client: Client, args: argparse.Namespace) -> int:
    answer = client.get("nodes")
    if args.json:
        _print_json(answer)
    else:
        print(format_nodes(answer))
    return 0


_COMMANDS: dict[str, Callable[[Client, argparse.Namespace], int]] = {
    "tree": _tree,
    "ps": _ps,
    "info": _info,
    "kill": _kill,
    "restart": _child_action,
    "terminate": _child_action,
    "top": _top,
    "stats": _stats,
    "nodes": _nodes,
}


# -- formatting ------------------------------------------------------------------------------


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s // 60 % 60:02d}m"
    return f"{s // 86400}d{s // 3600 % 24:02d}h"


def _bytes(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_tree(tree: dict[str, Any]) -> list[str]:
    """The lines of a readable tree for a ``supervision_tree`` snapshot."""
    return [_supervisor_line(tree), *_children_lines(tree, "")]


def _supervisor_line(sup: dict[str, Any]) -> str:
    label = sup.get("name") or sup.get("pid") or "?"
    parts = [str(label), str(sup.get("pid", ""))]
    behaviour = sup.get("behaviour")
    if behaviour:
        parts.append(str(behaviour))
    if sup.get("strategy"):
        parts.append(
            f"{sup['strategy']}, max {sup.get('max_restarts')} restarts "
            f"in {sup.get('max_seconds')}s"
        )
    status = sup.get("status")
    if status and status not in ("running", "waiting"):
        parts.append(str(status))
    if "error" in sup:
        parts.append(f"error: {sup['error']}")
    return "  ".join(parts)


def _supervisor_summary(sup: dict[str, Any]) -> str:
    parts = []
    if sup.get("strategy"):
        parts.append(
            f"{sup['strategy']}, max {sup.get('max_restarts')} in {sup.get('max_seconds')}s"
        )
    if isinstance(sup.get("child_count"), int):
        parts.append(f"{sup['child_count']} children")
    if "error" in sup:
        parts.append(f"error: {sup['error']}")
    return f"  [{'; '.join(parts)}]" if parts else ""


def _children_lines(sup: dict[str, Any], prefix: str) -> list[str]:
    children: list[dict[str, Any]] = sup.get("children") or []
    lines: list[str] = []
    hidden = 0
    count = sup.get("child_count")
    if isinstance(count, int) and count > len(children):
        hidden = count - len(children)
    for i, child in enumerate(children):
        last = i == len(children) - 1 and not hidden
        line = _child_line(child)
        nested = child.get("tree")
        if isinstance(nested, dict):
            line += _supervisor_summary(nested)
        lines.append(prefix + ("└── " if last else "├── ") + line)
        if isinstance(nested, dict):
            lines.extend(_children_lines(nested, prefix + ("    " if last else "│   ")))
    if hidden:
        lines.append(prefix + f"└── … {hidden} more of {count} (--all lists them)")
    return lines


def _child_line(child: dict[str, Any]) -> str:
    process = child.get("process") or {}
    parts = [
        str(child.get("id")),
        str(child.get("pid") or "-"),
        str(child.get("type", "")),
        str(process.get("behaviour") or ""),
        str(child.get("state") or process.get("status") or ""),
        f"restarts={child.get('restarts', process.get('restarts', 0))}",
    ]
    if process:
        parts.append(f"up {_duration(process.get('uptime_s'))}")
        parts.append(f"mq={process.get('message_queue_len', 0)}")
        name = process.get("name")
        if name and name != child.get("id"):
            parts.insert(1, f"({name})")
    return "  ".join(p for p in parts if p)


PS_COLUMNS = ("PID", "NAME", "BEHAVIOUR", "STATUS", "MAILBOX", "MESSAGES", "MEMORY",
              "RESTARTS", "UPTIME")


def format_processes(processes: Sequence[dict[str, Any]]) -> str:
    """A table of ``process_info`` dicts (with ``memory``)."""
    rows = [PS_COLUMNS]
    for p in processes:
        rows.append((
            str(p.get("pid", "")),
            str(p.get("name") or "-"),
            str(p.get("behaviour") or "-"),
            str(p.get("status") or "-"),
            str(p.get("message_queue_len", 0)),
            str(p.get("messages_handled", 0)),
            _bytes(p.get("memory")),
            str(p.get("restarts", 0)),
            _duration(p.get("uptime_s")),
        ))
    return format_table(rows, right={4, 5, 6, 7, 8})


def format_table(rows: Sequence[Sequence[str]], right: set[int] | None = None) -> str:
    right = right or set()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_mapping(info: dict[str, Any]) -> str:
    """``key: value`` lines; nested values as compact JSON."""
    if not info:
        return ""
    width = max(len(str(k)) for k in info)
    lines = []
    for key, value in info.items():
        if isinstance(value, dict) and value:
            lines.append(f"{str(key) + ':':<{width + 1}}")
            inner = max(len(str(k)) for k in value)
            for k, v in value.items():
                lines.append(f"  {str(k) + ':':<{inner + 1}} {_scalar(v)}")
        else:
            lines.append(f"{str(key) + ':':<{width + 1}} {_scalar(value)}")
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value) if value else "-"
    if value is None:
        return "-"
    return json.dumps(value)


def format_stats(stats: dict[str, Any], rate: float | None) -> str:
    rows = [
        ("node", str(stats.get("node", "-"))),
        ("uptime", _duration(stats.get("uptime_s"))),
        ("processes", str(stats.get("processes", "-"))),
        ("connections", str(stats.get("connections", "-"))),
        ("channels", str(stats.get("channels", "-"))),
        ("presences", str(stats.get("presences", "-"))),
        ("messages handled", str(stats.get("messages_handled", "-"))),
    ]
    if rate is not None:
        rows.append(("messages/s", f"{rate:.1f}"))
    rows.append(("memory (RSS)", _bytes(stats.get("memory_rss_bytes"))))
    cluster = stats.get("cluster")
    if isinstance(cluster, dict):
        rows.append(("cluster link", f"{cluster.get('link', '-')} "
                                     f"({cluster.get('nodes_up', '-')} of "
                                     f"{cluster.get('nodes', '-')} nodes up)"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in rows)


NODE_COLUMNS = ("NAME", "STATE", "ADDRESS", "UPTIME", "CONNECTIONS", "LAST HEARTBEAT")


def format_nodes(answer: dict[str, Any]) -> str:
    """The ``nodes`` table, and the cluster link's state under it."""
    rows = [NODE_COLUMNS]
    for node in answer.get("nodes") or []:
        beat = node.get("last_heartbeat_s")
        rows.append((
            str(node.get("name", "?")) + (" *" if node.get("self") else ""),
            "up" if node.get("up") else "down",
            str(node.get("address") or "-"),
            _duration(node.get("uptime_s")),
            str(node.get("connections", "-")),
            "-" if node.get("self") or beat is None else f"{_duration(beat)} ago",
        ))
    cluster = answer.get("cluster")
    link = ("not in a cluster" if not isinstance(cluster, dict)
            else f"cluster link {cluster.get('link', '-')}")
    return format_table(rows, right={3, 4}) + f"\n(* this node; {link})"
