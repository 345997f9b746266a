"""A cluster on one machine: 50,000 joined connections over three nodes sharing one Redis,
Hearth beside python-socketio's Redis manager, in one run.

Run: ``.venv/bin/python bench/cluster.py`` (a few minutes; ``--quick`` for a smoke run of
3,000 connections that writes to a temporary folder instead of BENCHMARKS.md and
bench/plots/). One process may hold 20,000 descriptors on this machine, so one node cannot
hold 50,000 connections; three nodes can.

Each system runs as three server processes on loopback, one redis-server between them (the
same one for both systems, flushed between them), driven by ``bench/_loadgen.py``'s workers:

- **hearth**: ``bench/_channels_server.py hearth-cluster``: Hearth's socket, a session and a
  channel process per joined connection, its PubSub on ``otp.RedisAdapter`` (a broadcast
  delivered on its node, published once to Redis, fanned out by each other node on its fast
  lane), the node's collector policy;
- **socketio**: ``bench/_peer_servers.py socketio_redis``: python-socketio on aiohttp with
  ``AsyncRedisManager`` (its own cluster mechanism: each emit published to Redis and sent by
  every node to its members of the room).

The systems take turns (one is measured, stopped, then the other), each on fresh processes:

(c) chat across nodes: 100 members spread over the three nodes, each keeping one
    ``new_message`` in flight (the next when the server acknowledges the last); deliveries
    per second counted by the members (best and median window);
(a) the connections: N spread evenly over the nodes, each joined to one topic; per node its
    connections and resident-set growth ((RSS after - RSS before) / connections, after a
    ``gc.collect()`` in it), and redis-server's growth;
(b) a broadcast to all N from a control connection on the first node: each round's arrival
    on every client socket (the kernel's receive timestamp); p50 and p99 over every
    receiver of every round, and the time to the last delivery (median over rounds); a
    first round is a warm-up, dropped.

It writes the generated part of BENCHMARKS.md's "A cluster" section (between its markers),
``bench/plots/cluster.png`` and ``bench/plots/cluster.json``.
"""

from __future__ import annotations

import argparse
import array
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _loadgen import Control, raise_nofile, stop_workers, worker_main
from run_all import (
    BENCH,
    BODY,
    HOST,
    PEERS_PYTHON,
    SOURCES,
    Redis,
    all_of,
    ensure_peers_venv,
    one_round,
    pct,
    rss_kb,
    settle,
    split,
)

PLOTS = os.path.join(BENCH, "plots")
BENCHMARKS_MD = os.path.join(os.path.dirname(BENCH), "BENCHMARKS.md")
SECTION = "## A cluster (`bench/cluster.py`)"
BEGIN = "<!-- cluster.py: generated from here -->"
END = "<!-- cluster.py: generated up to here -->"
PER_WORKER = 13_000  # connections per load-generator process, at most
CHAT_MEMBERS = 100

# key: (label, load-generator protocol, in the peers' venv, script, server kind)
SYSTEMS: dict[str, tuple[str, str, bool, str, str]] = {
    "hearth": ("Hearth (RedisAdapter)", "phoenix", False, "_channels_server.py",
               "hearth-cluster"),
    "socketio": ("python-socketio (AsyncRedisManager)", "socketio", True, "_peer_servers.py",
                 "socketio_redis"),
}


class NodeProc:
    """One server process of a system's cluster."""

    def __init__(self, key: str, index: int, redis: Redis) -> None:
        _label, _proto, in_peers, script, kind = SYSTEMS[key]
        python = PEERS_PYTHON if in_peers else sys.executable
        args = [python, os.path.join(BENCH, script), kind, HOST, str(redis.port)]
        if key == "hearth":
            args.append(f"n{index}")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{key} node {index}: did not start")
        info = json.loads(line)
        self.port: int = info["port"]
        self.pid: int = info["pid"]

    def rss_kb(self) -> int:
        url = f"http://{HOST}:{self.port}/bench/stats?gc=1"
        with urllib.request.urlopen(url, timeout=120) as r:
            rss: int = json.loads(r.read())["rss_kb"]
            return rss

    def cpu(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class System:
    """A system's nodes, seen as one server by ``run_all``'s helpers (``settle``)."""

    def __init__(self, key: str, nodes: list[NodeProc], redis: Redis) -> None:
        self.key = key
        self.label, self.proto = SYSTEMS[key][0], SYSTEMS[key][1]
        self.nodes = nodes
        self.redis = redis

    def topic(self, name: str) -> str:
        return f"room:{self.key}:{name}"

    def cpu(self) -> float:
        return sum(n.cpu() for n in self.nodes)


def open_spread(system: System, pipes: list[Connection], n: int, topic: str, group: str,
                first: int) -> tuple[list[int], list[int], float, list[str]]:
    """``n`` connections spread evenly over the nodes (and over the workers), each joined
    to ``topic``: opened per worker, per node, the seconds it took and the first errors."""
    per_worker = [0] * len(pipes)
    per_node = []
    errors: list[str] = []
    t0 = time.perf_counter()
    for node, count in zip(system.nodes, split(n, len(system.nodes)), strict=True):
        shares = split(count, len(pipes))
        firsts = [first + sum(shares[:i]) for i in range(len(pipes))]
        first += count
        opened = all_of(pipes, [("open", group, node.port, c, [topic], f, system.proto)
                                for c, f in zip(shares, firsts, strict=True)], "opened")
        per_node.append(sum(x[0] for x in opened))
        per_worker = [a + x[0] for a, x in zip(per_worker, opened, strict=True)]
        errors += [e for x in opened for e in x[3]]
    return per_worker, per_node, time.perf_counter() - t0, errors[:3]


def chat(system: System, pipes: list[Connection], window_s: float, reps: int,
         out: dict[str, Any]) -> None:
    topic = system.topic("chat")
    _, per_node, _, errors = open_spread(system, pipes, CHAT_MEMBERS, topic, "chat", 10**6)
    members = sum(per_node)
    windows = []
    warm_s = 0.5
    for _ in range(reps):
        settle([system])  # type: ignore[list-item]
        start = time.time_ns() + 200_000_000
        end = start + int((warm_s + window_s) * 1e9)
        got = all_of(pipes, [("chat_go", "chat", topic, "new_message", start,
                              int(warm_s * 1e9), end, 1, BODY)] * len(pipes), "chat")
        windows.append({"deliveries_per_s": sum(g[0] for g in got) / window_s,
                        "acked_per_s": sum(g[1] for g in got) / window_s,
                        "delivered_share": sum(g[0] for g in got)
                        / max(1, sum(g[1] for g in got) * members)})
    all_of(pipes, [("close", "chat")] * len(pipes), "closed")
    out["chat"] = {
        "members": members, "members_per_node": per_node, "errors": errors,
        "deliveries_per_s": max(w["deliveries_per_s"] for w in windows),
        "median_deliveries_per_s": statistics.median(w["deliveries_per_s"] for w in windows),
        "acked_per_s": max(w["acked_per_s"] for w in windows),
        "delivered_share": statistics.median(w["delivered_share"] for w in windows),
    }
    print(f"  {system.key}: chat {out['chat']}", flush=True)


def broadcast(system: System, ctrl: Control, pipes: list[Connection], subscribed: list[int],
              rounds: int, out: dict[str, Any]) -> None:
    topic = system.topic("all")
    completed = 0
    timeouts = 0
    for r in range(rounds + 1):
        settle([system])  # type: ignore[list-item]
        ok = one_round(ctrl, pipes, subscribed, topic, r)
        if r == 0 and not ok:
            out["broadcast"] = {"timed_out": True}
            return
        if r > 0:
            completed += 1
            timeouts += 0 if ok else 1
    per_round: dict[int, list[int]] = {}
    lost = 0
    for got, worker_lost in all_of(pipes, [("collect",)] * len(pipes), "collected"):
        lost += worker_lost
        for key, (kb, _rb) in got.items():
            t, r = key.rsplit("|", 1)
            if t == topic and int(r) > 0:
                per_round.setdefault(int(r), []).extend(array.array("q", kb))
    every = sorted(v for vs in per_round.values() for v in vs)
    expected = sum(subscribed) * completed
    out["broadcast"] = {
        "subscribers": sum(subscribed), "rounds": completed, "timeouts": timeouts,
        "missing": expected - len(every), "lost_connections": lost,
        "p50_ms": pct(every, 50), "p99_ms": pct(every, 99),
        "last_ms": statistics.median(pct(sorted(v), 100) for v in per_round.values())
        if per_round else math.nan,
    }
    print(f"  {system.key}: broadcast {out['broadcast']}", flush=True)


def run_system(key: str, redis: Redis, n: int, rounds: int, chat_s: float, chat_reps: int,
               nodes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"label": SYSTEMS[key][0]}
    subprocess.run(["redis-cli", "-p", str(redis.port), "FLUSHALL"], check=True,
                   capture_output=True)
    procs = [NodeProc(key, i, redis) for i in range(nodes)]
    system = System(key, procs, redis)
    n_workers = max(2, math.ceil(n / PER_WORKER))
    pipes: list[Connection] = []
    workers: list[Any] = []
    ctrl: Control | None = None
    try:
        ctx = mp.get_context("fork")
        for _ in range(n_workers):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(there, HOST, SOURCES), daemon=True)
            proc.start()
            there.close()
            pipes.append(here)
            workers.append(proc)
        for p in pipes:
            p.send(("heartbeats",))
        ctrl = Control(HOST, procs[0].port, system.proto)
        ctrl.join(system.topic("all"))

        print(f"(c) {key}: chat, {CHAT_MEMBERS} members over {nodes} nodes", flush=True)
        chat(system, pipes, chat_s, chat_reps, out)

        time.sleep(1.0)
        before = [p.rss_kb() for p in procs]
        redis_before = rss_kb(redis.pid)
        print(f"(a) {key}: {n:,} connections over {nodes} nodes", flush=True)
        per_worker, per_node, took, errors = open_spread(system, pipes, n, system.topic("all"),
                                                         "main", 0)
        time.sleep(1.0)
        after = [p.rss_kb() for p in procs]
        joined = sum(per_node)
        out["connections"] = {
            "joined": joined, "per_node": per_node, "errors": errors,
            "connect_per_s": joined / took,
            "rss_mb_per_node": [a / 1024 for a in after],
            "kb_per_conn_per_node": [(a - b) / max(1, c)
                                     for a, b, c in zip(after, before, per_node, strict=True)],
            "kb_per_conn": (sum(after) - sum(before)) / max(1, joined),
            "redis_growth_mb": (rss_kb(redis.pid) - redis_before) / 1024,
        }
        print(f"  {key}: {out['connections']}", flush=True)

        print(f"(b) {key}: broadcast to {joined:,}, {rounds} rounds", flush=True)
        broadcast(system, ctrl, pipes, per_worker, rounds, out)
    finally:
        if ctrl is not None:
            ctrl.close()
        stop_workers(pipes, workers)
        for p in procs:
            p.stop()
    return out


# -- the report ----------------------------------------------------------------------------------


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    systems = res["systems"]
    lines = [
        f"Run {m['date']} on {m['cpus']} CPUs ({m['platform']}), Python {m['python']}, "
        f"redis-server {res['redis']}; {res['nodes']} nodes per system on loopback, the "
        "load generator on the same machine. Each system on fresh processes, in turn.",
        "",
        "| | " + " | ".join(s["label"] for s in systems.values()) + " |",
        "|---|" + "---|" * len(systems),
    ]

    def row(name: str, cell: Any) -> None:
        cells = []
        for s in systems.values():
            try:
                cells.append(cell(s))
            except (KeyError, TypeError, ValueError):
                cells.append("-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("connections joined (per node)", lambda s: f"{s['connections']['joined']:,} ("
        + " / ".join(f"{c:,}" for c in s["connections"]["per_node"]) + ")")
    row("connect + join rate", lambda s: f"{s['connections']['connect_per_s']:,.0f}/s")
    row("RSS per connection", lambda s: f"{s['connections']['kb_per_conn']:.2f} KB")
    row("RSS per node with them", lambda s: " / ".join(
        f"{v:.0f}" for v in s["connections"]["rss_mb_per_node"]) + " MB")
    row("redis-server growth", lambda s: f"{s['connections']['redis_growth_mb']:.1f} MB")
    row("broadcast to all: p50", lambda s: f"{s['broadcast']['p50_ms']:.0f} ms")
    row("broadcast to all: p99", lambda s: f"{s['broadcast']['p99_ms']:.0f} ms")
    row("broadcast to all: last delivery", lambda s: f"{s['broadcast']['last_ms']:.0f} ms")
    row("broadcast rounds (missing deliveries)", lambda s: f"{s['broadcast']['rounds']} "
        f"({s['broadcast']['missing']})")
    row("chat across nodes: deliveries/s (median)",
        lambda s: f"{s['chat']['deliveries_per_s']:,.0f}"
        f" ({s['chat']['median_deliveries_per_s']:,.0f})")
    row("chat: messages acknowledged/s", lambda s: f"{s['chat']['acked_per_s']:,.0f}")
    lines += ["", "![the cluster run](bench/plots/cluster.png)"]
    return "\n".join(lines) + "\n"


def write_section(path: str, generated: str) -> None:
    with open(path) as f:
        text = f.read()
    block = f"{BEGIN}\n{generated}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    with open(path, "w") as f:
        f.write(text)


def plot(json_path: str, png: str) -> None:
    """Run by the peers' interpreter (matplotlib is there): the figures as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(json_path) as f:
        res = json.load(f)
    systems = res["systems"]
    keys = list(systems)
    colours = {"hearth": "#c0392b", "socketio": "#2980b9"}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    panels = [
        ("broadcast to all (ms)", lambda s, k: s["broadcast"][k], ("p50_ms", "p99_ms",
                                                                   "last_ms")),
        ("RSS per connection (KB)", lambda s, _k: s["connections"]["kb_per_conn"], ("",)),
        ("chat deliveries/s", lambda s, _k: s["chat"]["deliveries_per_s"], ("",)),
    ]
    for ax, (title, get, parts) in zip(axes, panels, strict=True):
        width = 0.8 / len(keys)
        for i, key in enumerate(keys):
            values = [get(systems[key], p) for p in parts]
            xs = [j + i * width for j in range(len(parts))]
            ax.bar(xs, values, width, label=systems[key]["label"], color=colours.get(key))
            for x, v in zip(xs, values, strict=True):
                ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.1f}", (x, v), ha="center",
                            va="bottom", fontsize=7)
        ax.set_xticks([j + width * (len(keys) - 1) / 2 for j in range(len(parts))],
                      [p.replace("_ms", "") or "" for p in parts], fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    n = next(iter(systems.values()))["connections"]["joined"]
    fig.suptitle(f"{n:,} connections over {res['nodes']} nodes, one Redis "
                 f"({res['machine']['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--plot":
        plot(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=50_000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chat-s", type=float, default=3.0)
    parser.add_argument("--chat-reps", type=int, default=3)
    parser.add_argument("--only", choices=list(SYSTEMS), action="append")
    parser.add_argument("--quick", action="store_true",
                        help="3,000 connections, 2 rounds, into a temporary folder")
    args = parser.parse_args()
    if args.quick:
        args.connections, args.rounds, args.chat_s, args.chat_reps = 3000, 2, 1.0, 1
    raise_nofile()
    keys = args.only or list(SYSTEMS)
    if any(SYSTEMS[k][2] for k in keys):
        ensure_peers_venv()
    out_dir = tempfile.mkdtemp(prefix="cluster-bench-") if args.quick else PLOTS
    redis = Redis()
    print(f"redis-server {redis.version} on port {redis.port}", flush=True)
    res: dict[str, Any] = {
        "machine": {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                    "platform": platform.platform(terse=True),
                    "python": platform.python_version()},
        "redis": redis.version, "nodes": args.nodes, "systems": {},
    }
    try:
        for key in keys:
            res["systems"][key] = run_system(key, redis, args.connections, args.rounds,
                                             args.chat_s, args.chat_reps, args.nodes)
    finally:
        redis.stop()
    json_path = os.path.join(out_dir, "cluster.json")
    with open(json_path, "w") as f:
        json.dump(res, f, indent=1)
    png = os.path.join(out_dir, "cluster.png")
    if os.path.exists(PEERS_PYTHON):
        subprocess.run([PEERS_PYTHON, os.path.abspath(__file__), "--plot", json_path, png],
                       check=True)
    generated = markdown(res)
    if args.quick:
        with open(os.path.join(out_dir, "BENCHMARKS.md"), "w") as f:
            f.write(generated)
    else:
        write_section(BENCHMARKS_MD, generated)
    print(generated)
    print(f"written to {out_dir}", flush=True)


if __name__ == "__main__":
    main()
