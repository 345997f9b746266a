"""Side by side: Hearth against the systems users would pick instead, in one run.

Run: ``make bench`` or ``.venv/bin/python bench/run_all.py`` (about ten minutes; ``--quick``
for a smoke run of well under a minute that writes its report and plots to a temporary
folder instead of BENCHMARKS.md and bench/plots/).

The peers are installed from PyPI into the benchmark's own virtualenv, ``bench/.venv-peers``
(from ``bench/requirements-peers.txt``; made on first use, remade when that file changes),
never into the project's. Five servers, each alone in its own process, are alive side by side
for the whole run and driven by the same load generator (``bench/_loadgen.py``, one adapter
per protocol so the client side costs the same for all), their rounds taking turns so a
burst of noise on the machine hits all alike:

- **hearth**: ``mount_socket``, a session and a channel process per joined connection,
  PubSub, fastlane broadcasts (``bench/_channels_server.py hearth``, Phoenix V2 frames);
- **aiohttp**: the floor, a bare aiohttp WebSocket broadcaster with no actors
  (``bench/_channels_server.py aiohttp``, Phoenix V2 frames);
- **socketio**: python-socketio on aiohttp (Engine.IO v4 / Socket.IO v5 frames);
- **channels_memory**: Django Channels with ``InMemoryChannelLayer``, served by uvicorn
  (plain JSON frames);
- **channels_redis**: the same with ``channels_redis`` on a redis-server this script starts
  on a free port and stops (Debian's ``redis-server`` must be installed).

Workloads:

(a) idle connections: N connections open, each joined to one topic; server RSS per
    connection, (RSS with N held - RSS before) / N after ``gc.collect()`` in the server
    (for channels_redis, redis-server's growth is added);
(b) one broadcast to N subscribers for N in ``--sizes``: a control connection pushes
    ``new_message``, the server broadcasts it to the topic; arrival is the kernel's receive
    timestamp on each client socket; p50/p99 over every receiver of every round, and the
    time to the last delivery (median over rounds). A first round is a warm-up, dropped;
(c) a chat room of 100 fresh members, each keeping one ``new_message`` in flight (the next
    goes when the server acknowledges the last): deliveries per second counted by the
    members over windows after a warm-up (best and median window), and the server's CPU
    per delivery. Measured first, while the servers hold nothing else;
(d) connect + join rate while opening the N connections of (a), in chunks, the kinds taking
    turns.

Then ``bench/actors.py`` (Hearth's processes beside plain asyncio and pykka) runs on its
own and its figures join the report. The run writes the generated part of BENCHMARKS.md's
"Side by side" section (between its markers, nothing else), PNG plots and the figures as
JSON under ``bench/plots/``, and ends with one machine-readable summary line per workload.

Every process raises RLIMIT_NOFILE to its hard limit; one server process holds one
descriptor per connection, so a size above that limit is not reachable on one machine and
the run says so instead of trying.
"""

from __future__ import annotations

import argparse
import array
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection, wait
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _loadgen import Control, raise_nofile, stop_workers, worker_main

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
TIMES = "\N{MULTIPLICATION SIGN}"

HOST = "127.0.0.1"
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]
PEERS_VENV = os.path.join(BENCH, ".venv-peers")
PEERS_PYTHON = os.path.join(PEERS_VENV, "bin", "python")
PEERS_REQUIREMENTS = os.path.join(BENCH, "requirements-peers.txt")
PLOTS = os.path.join(BENCH, "plots")
BENCHMARKS_MD = os.path.join(ROOT, "BENCHMARKS.md")
SECTION = "## Side by side (`bench/run_all.py`)"
BEGIN = "<!-- run_all.py: generated from here -->"
END = "<!-- run_all.py: generated up to here -->"
FD_RESERVE = 128
PER_WORKER = 15_000  # connections per load-generator process, at most
BODY = "x" * 64
CHAT_MEMBERS = 100
ROUND_TIMEOUT_S = 60.0  # a server whose warm-up broadcast takes longer is dropped from (b)
ROUNDS_BUDGET_S = 20.0  # per server and size: a slow server gets fewer rounds
SETTLE_S = 10.0  # at most this long, after a round, for every server's CPU to go quiet

# key: (label, load-generator protocol, runs in the peers venv, script)
KINDS: dict[str, tuple[str, str, bool, str]] = {
    "hearth": ("Hearth", "phoenix", False, "_channels_server.py"),
    "aiohttp": ("bare aiohttp (floor)", "phoenix", False, "_channels_server.py"),
    "socketio": ("python-socketio", "socketio", True, "_peer_servers.py"),
    "channels_memory": ("Django Channels, in-memory", "json", True, "_peer_servers.py"),
    "channels_redis": ("Django Channels, redis", "json", True, "_peer_servers.py"),
}
PEERS = ("socketio", "channels_memory", "channels_redis")


# -- the peers' virtualenv and redis -------------------------------------------------------------


def ensure_peers_venv() -> None:
    """Make bench/.venv-peers from bench/requirements-peers.txt when it is missing or the
    requirements changed since it was made."""
    with open(PEERS_REQUIREMENTS, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(PEERS_VENV, ".installed")
    try:
        with open(stamp) as f:
            if f.read().strip() == digest and os.path.exists(PEERS_PYTHON):
                return
    except FileNotFoundError:
        pass
    print(f"making {os.path.relpath(PEERS_VENV, ROOT)} (the peers, from PyPI)...", flush=True)
    if not os.path.exists(PEERS_PYTHON):
        subprocess.run([sys.executable, "-m", "venv", PEERS_VENV], check=True)
    subprocess.run([PEERS_PYTHON, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "-r", PEERS_REQUIREMENTS], check=True)
    with open(stamp, "w") as f:
        f.write(digest + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Redis:
    """A redis-server of our own on a free port, no persistence; stopped by :meth:`stop`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--loglevel", "warning", "--maxclients", "4000"],
            stdout=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        m = re.search(r"v=(\S+)", out.stdout)
        self.version = m.group(1) if m else "?"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- talking to the processes --------------------------------------------------------------------


def recv(pipe: Connection, name: str, timeout: float = 600.0) -> tuple[Any, ...]:
    """The next message called ``name`` from a worker (stale round notices skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not pipe.poll(left):
            raise TimeoutError(f"no {name!r} from a worker in {timeout}s")
        msg = pipe.recv()
        if msg[0] == name:
            return tuple(msg[1:])
        if msg[0] != "round_done":
            raise RuntimeError(f"expected {name!r} from a worker, got {msg!r}")


def all_of(pipes: list[Connection], cmds: list[tuple[Any, ...]],
           name: str) -> list[tuple[Any, ...]]:
    for pipe, cmd in zip(pipes, cmds, strict=True):
        pipe.send(cmd)
    return [recv(pipe, name) for pipe in pipes]


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(sorted_ns: list[int], p: float) -> float:
    """The ``p``th percentile of sorted nanoseconds, in ms."""
    if not sorted_ns:
        return math.nan
    i = min(len(sorted_ns) - 1, max(0, math.ceil(p / 100 * len(sorted_ns)) - 1))
    return sorted_ns[i] / 1e6


class Server:
    """One server kind in its own process, with its control connection and results."""

    def __init__(self, key: str, redis: Redis | None) -> None:
        self.key = key
        self.label, self.proto, in_peers, script = KINDS[key]
        python = PEERS_PYTHON if in_peers else sys.executable
        args = [python, os.path.join(BENCH, script), key, HOST]
        self.extra_pids: list[int] = []
        if key == "channels_redis":
            assert redis is not None
            args.append(str(redis.port))
            self.extra_pids.append(redis.pid)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{key}: server did not start")
        info = json.loads(line)
        self.port: int = info["port"]
        self.pid: int = info["pid"]
        self.ctrl: Control | None = None
        self.out: dict[str, Any] = {"label": self.label}

    def topic(self, name: str) -> str:
        return f"room:{self.key}:{name}"

    def rss_kb(self) -> int:
        """The server's resident set after a ``gc.collect()`` in it (plus redis')."""
        url = f"http://{HOST}:{self.port}/bench/stats?gc=1"
        with urllib.request.urlopen(url, timeout=120) as r:
            rss: int = json.loads(r.read())["rss_kb"]
        return rss + sum(rss_kb(p) for p in self.extra_pids)

    def cpu(self) -> float:
        return cpu_seconds(self.pid) + sum(cpu_seconds(p) for p in self.extra_pids)

    def stop(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- workloads -----------------------------------------------------------------------------------


def connect(servers: list[Server], pipes: list[Connection], n: int, chunks: int) -> None:
    """(a) and (d): ``n`` connections per kind, each joined to its ``all`` topic, opened in
    ``chunks`` with the kinds taking turns."""
    for s in servers:
        pipes[0].send(("open", f"{s.key}:warm", s.port, 200, [s.topic("warm")], 0, s.proto))
        recv(pipes[0], "opened")
        pipes[0].send(("close", f"{s.key}:warm"))
        recv(pipes[0], "closed")
    time.sleep(1.0)
    for s in servers:
        s.out["rss_before_kb"] = s.rss_kb()
        s.out.update(connected=0, failed=0, open_s=0.0, errors=[])
    first = 0
    for size in split(n, chunks):
        shares = split(size, len(pipes))
        firsts = [first + sum(shares[:i]) for i in range(len(pipes))]
        first += size
        for s in servers:
            t0 = time.perf_counter()
            opened = all_of(pipes, [("open", f"{s.key}:main", s.port, c, [s.topic("all")], f,
                                     s.proto) for c, f in zip(shares, firsts, strict=True)],
                            "opened")
            s.out["open_s"] += time.perf_counter() - t0
            s.out["connected"] += sum(x[0] for x in opened)
            s.out["failed"] += sum(x[1] for x in opened)
            s.out["errors"] += [e for x in opened for e in x[3]]
            s.out.setdefault("per_worker", [0] * len(pipes))
            s.out["per_worker"] = [a + x[0] for a, x in
                                   zip(s.out["per_worker"], opened, strict=True)]
    time.sleep(1.0)
    for s in servers:
        o = s.out
        after = s.rss_kb()
        o["connect_per_s"] = o["connected"] / o["open_s"]
        o["kb_per_conn"] = (after - o["rss_before_kb"]) / max(1, o["connected"])
        o["rss_mb"] = after / 1024
        o["errors"] = o["errors"][:3]
        failed = f", {o['failed']} failed: {'; '.join(o['errors'])}" if o["failed"] else ""
        print(f"  {s.key}: {o['connected']:,} joined at {o['connect_per_s']:,.0f}/s{failed}; "
              f"RSS {o['rss_before_kb'] / 1024:.0f} -> {o['rss_mb']:.0f} MB, "
              f"{o['kb_per_conn']:.2f} KB per connection", flush=True)


def one_round(ctrl: Control, pipes: list[Connection], subscribed: list[int], topic: str,
              r: int) -> bool:
    pending = {p for p, k in zip(pipes, subscribed, strict=True) if k > 0}
    ctrl.broadcast(topic, {"r": r, "t": time.time_ns(), "body": BODY})
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while pending:
        ready = wait(list(pending), timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        for p in ready:
            assert isinstance(p, Connection)
            msg = p.recv()
            if msg[0] == "round_done" and msg[1] == topic and msg[2] == r:
                pending.discard(p)
    return True


def settle(servers: list[Server]) -> None:
    """Wait (at most SETTLE_S) until no server burns CPU: a server still working through
    the last round (a channel layer cleaning up after it, say) would slow the next server's
    round down."""
    deadline = time.monotonic() + SETTLE_S
    before = [s.cpu() for s in servers]
    while time.monotonic() < deadline:
        time.sleep(0.1)
        after = [s.cpu() for s in servers]
        if all(a - b < 0.02 for a, b in zip(after, before, strict=True)):
            return
        before = after


def broadcasts(servers: list[Server], pipes: list[Connection], subscribed: dict[str, list[int]],
               name: str, rounds: int) -> dict[str, dict[str, Any]]:
    """(b): broadcasts to topic ``name`` of each server, the servers taking turns, each
    round after the servers settle: a warm-up round, then up to ``rounds`` measured ones
    while the server's rounds have taken less than ROUNDS_BUDGET_S (at least 2, or 1 after
    a warm-up of 10 s or more). A server whose warm-up does not finish within
    ROUND_TIMEOUT_S gets no more rounds."""
    live = [s for s in servers if not s.out.get("dropped")]
    timeouts = {s.key: 0 for s in live}
    done = {s.key: 0 for s in live}
    spent = {s.key: 0.0 for s in live}
    warm_timeout: set[str] = set()
    warm_s: dict[str, float] = {}
    for r in range(rounds + 1):
        for s in live:
            assert s.ctrl is not None
            # At least 2 measured rounds; 1 when the warm-up alone took 10 s or more.
            at_least = 1 if warm_s.get(s.key, 0.0) >= 10.0 else 2
            if s.key in warm_timeout or (r > at_least and spent[s.key] > ROUNDS_BUDGET_S):
                continue
            settle(live)
            t0 = time.monotonic()
            ok = one_round(s.ctrl, pipes, subscribed[s.key], s.topic(name), r)
            if r == 0:
                warm_s[s.key] = time.monotonic() - t0
                if not ok:
                    warm_timeout.add(s.key)
                continue
            spent[s.key] += time.monotonic() - t0
            done[s.key] += 1
            if not ok:
                timeouts[s.key] += 1
    kernel: dict[str, dict[int, list[int]]] = {s.key: {} for s in live}
    lost = 0
    for got, worker_lost in all_of(pipes, [("collect",)] * len(pipes), "collected"):
        lost += worker_lost
        for key, (kb, _rb) in got.items():
            topic, r = key.rsplit("|", 1)
            kind = topic.split(":")[1]
            if kind not in kernel or topic != f"room:{kind}:{name}":
                continue
            kernel[kind].setdefault(int(r), []).extend(array.array("q", kb))
    out = {}
    for s in live:
        expected = sum(subscribed[s.key])
        if s.key in warm_timeout:
            limit_ns = ROUND_TIMEOUT_S * 1e9
            got0 = sum(1 for v in kernel[s.key].get(0, []) if v <= limit_ns)
            out[s.key] = {"subscribers": expected, "rounds": 0, "timed_out": True,
                          "delivered_in_timeout": got0, "missing": expected - got0,
                          "timeouts": 1, "lost_connections": lost, "p50_ms": math.nan,
                          "p99_ms": math.nan, "last_ms": math.nan}
            continue
        per_round = [sorted(v) for r, v in kernel[s.key].items() if r > 0]
        k_all = sorted(v for vs in per_round for v in vs)
        out[s.key] = {
            "subscribers": expected,
            "rounds": done[s.key],
            "timed_out": False,
            "missing": expected * done[s.key] - len(k_all),
            "timeouts": timeouts[s.key],
            "lost_connections": lost,
            "p50_ms": pct(k_all, 50),
            "p99_ms": pct(k_all, 99),
            "last_ms": statistics.median(pct(v, 100) for v in per_round) if per_round
            else math.nan,
        }
    return out


def chat(servers: list[Server], pipes: list[Connection], window_s: float, reps: int) -> None:
    """(c): a room of CHAT_MEMBERS fresh connections per kind, ``reps`` windows each, the
    kinds taking turns, each window once the servers are quiet. It runs first, on servers
    holding nothing else (a channel layer whose every receive walks every channel would
    otherwise pay for the idle connections of (a) here too)."""
    shares = split(CHAT_MEMBERS, len(pipes))
    firsts = [10**6 + sum(shares[:i]) for i in range(len(pipes))]
    for s in servers:
        opened = all_of(pipes, [("open", f"{s.key}:chat", s.port, c, [s.topic("chat")], f,
                                 s.proto) for c, f in zip(shares, firsts, strict=True)],
                        "opened")
        s.out["chat_members"] = sum(x[0] for x in opened)
        s.out["chat_windows"] = []
    warm_s = 0.5
    for _ in range(reps):
        for s in servers:
            settle(servers)
            start = time.time_ns() + 200_000_000
            end = start + int((warm_s + window_s) * 1e9)
            cpu = s.cpu()
            got = all_of(pipes, [("chat_go", f"{s.key}:chat", s.topic("chat"), "new_message",
                                  start, int(warm_s * 1e9), end, 1, BODY)] * len(pipes),
                         "chat")
            cpu = s.cpu() - cpu
            acked = sum(g[2] for g in got)
            s.out["chat_windows"].append({
                "deliveries_per_s": sum(g[0] for g in got) / window_s,
                "acked_per_s": sum(g[1] for g in got) / window_s,
                "delivered_share": sum(g[0] for g in got)
                / max(1, sum(g[1] for g in got) * s.out["chat_members"]),
                "cpu_us_per_delivery": cpu / max(1, acked * s.out["chat_members"]) * 1e6,
            })
    for s in servers:
        w = s.out["chat_windows"]
        s.out["chat"] = {
            "deliveries_per_s": max(x["deliveries_per_s"] for x in w),
            "median_deliveries_per_s": statistics.median(x["deliveries_per_s"] for x in w),
            "acked_per_s": max(x["acked_per_s"] for x in w),
            "delivered_share": statistics.median(x["delivered_share"] for x in w),
            "cpu_us_per_delivery": min(x["cpu_us_per_delivery"] for x in w),
        }
        print(f"  {s.key}: chat {s.out['chat']}", flush=True)


def run_channels(keys: list[str], n: int, sizes: list[int], rounds: int, chunks: int,
                 chat_s: float, chat_reps: int, n_workers: int) -> dict[str, dict[str, Any]]:
    servers: list[Server] = []
    pipes: list[Connection] = []
    procs: list[Any] = []
    redis: Redis | None = None
    try:
        if "channels_redis" in keys:
            redis = Redis()
            print(f"  redis-server {redis.version} on port {redis.port}", flush=True)
        for key in keys:
            servers.append(Server(key, redis))
        ctx = mp.get_context("fork")
        for _ in range(n_workers):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(there, HOST, SOURCES), daemon=True)
            proc.start()
            there.close()
            pipes.append(here)
            procs.append(proc)
        for p in pipes:
            p.send(("heartbeats",))
        names = [f"n{size}" for size in sizes]
        for s in servers:
            s.ctrl = Control(HOST, s.port, s.proto)
            for name in names:
                s.ctrl.join(s.topic(name))
            s.out["broadcast"] = {}

        print(f"(c): chat, {CHAT_MEMBERS} members, {chat_reps} windows of {chat_s:g} s",
              flush=True)
        chat(servers, pipes, chat_s, chat_reps)

        print(f"(a) + (d): {n:,} connections per kind, {chunks} chunks", flush=True)
        connect(servers, pipes, n, chunks)

        for size, name in zip(sizes, names, strict=True):
            subscribed = {}
            for s in servers:
                if s.out.get("dropped"):
                    continue
                counts = [min(a, b) for a, b in zip(s.out["per_worker"],
                                                    split(size, n_workers), strict=True)]
                joined = all_of(pipes, [("join", f"{s.key}:main", c, s.topic(name))
                                        for c in counts], "joined")
                subscribed[s.key] = [j[0] for j in joined]
            print(f"(b): broadcast to {size:,}, {rounds} rounds", flush=True)
            for key, res in broadcasts(servers, pipes, subscribed, name, rounds).items():
                s = servers[keys.index(key)]
                s.out["broadcast"][str(size)] = res
                print(f"  {key}: {res}", flush=True)
                if res["timed_out"]:
                    # Still working through that broadcast, it would take the cores from
                    # the others' rounds: it is stopped, and larger sizes are not tried.
                    s.out["dropped"] = size
                    s.stop()
                    print(f"  {key}: stopped (the warm-up broadcast to {size:,} did not "
                          f"finish in {ROUND_TIMEOUT_S:g} s)", flush=True)
    finally:
        stop_workers(pipes, procs)
        for s in servers:
            s.stop()
        if redis is not None:
            redis.stop()
    return {s.key: s.out for s in servers}


def run_actors(quick: bool) -> dict[str, Any]:
    """bench/actors.py, on its own, with the project's interpreter: its table and summary."""
    cmd = [sys.executable, os.path.join(BENCH, "actors.py")] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    rows = []
    for line in lines[1:]:
        if len(line) < 100 or line.startswith("actors:"):
            continue
        rows.append([line[:58].strip(), line[58:72].strip(), line[72:86].strip(),
                     line[86:100].strip()])
    notes = [ln for ln in lines[1:] if len(ln) < 100 and not ln.startswith("actors:")]
    summary = next(ln for ln in lines if ln.startswith("actors:"))
    return {"rows": rows, "notes": notes, "summary": summary}


# -- report --------------------------------------------------------------------------------------


def x(v: float) -> str:
    return f"{v:.2f}{TIMES}" if math.isfinite(v) else "n/a"


def ahead(h: float, p: float, higher_is_better: bool) -> float:
    """How many times better Hearth's figure ``h`` is than ``p`` (>1: Hearth is ahead)."""
    if not (h and p) or not (math.isfinite(h) and math.isfinite(p)):
        return math.nan
    return h / p if higher_is_better else p / h


def markdown(res: dict[str, Any]) -> str:
    ch: dict[str, dict[str, Any]] = res["channels"]
    keys = list(ch)
    h = ch["hearth"]
    out: list[str] = []
    m = res["machine"]
    out.append(f"### {m['date']} ({m['cpus']} CPUs, load average {m['load_before']:.2f} "
               f"before, {m['load_after']:.2f} after; Python {m['python']}; "
               f"{m['versions']}; {res['took_s']:.0f} s)")
    out.append("")
    out.append(f"\"{TIMES} Hearth\" is how many times better Hearth's figure is than that row's: "
               "above 1 Hearth is ahead, below 1 it is behind.")
    out.append("")

    out.append(f"**(a) Idle connections**: {res['n']:,} per server, each joined to one topic.")
    out.append("")
    out.append("| server | held (failed) | RSS per connection (KB) | RSS, all held (MB) "
               f"| {TIMES} Hearth |")
    out.append("|---|---:|---:|---:|---:|")
    for k in keys:
        r = ch[k]
        out.append(f"| {r['label']} | {r['connected']:,} ({r['failed']}) | "
                   f"{r['kb_per_conn']:.2f} | {r['rss_mb']:.0f} | "
                   f"{x(ahead(h['kb_per_conn'], r['kb_per_conn'], False))} |")
    out.append("")

    out.append("**(b) One broadcast to N subscribers**: kernel receive timestamps on the "
               f"clients; after a warm-up, up to {res['rounds']} rounds per server while its "
               f"rounds have taken under {ROUNDS_BUDGET_S:g} s (at least 2; 1 after a warm-up "
               "of 10 s or more), each once every "
               f"server's CPU is quiet (at most {SETTLE_S:g} s); the last delivery is the "
               "median round's. A server whose warm-up broadcast does not finish in "
               f"{res['round_timeout_s']:g} s is stopped there.")
    out.append("")
    out.append("| server | N | rounds | p50 (ms) | p99 (ms) | last delivery (ms) | missing / "
               f"rounds timed out | {TIMES} Hearth (last delivery) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in res["sizes"]:
        for k in keys:
            b = ch[k]["broadcast"].get(str(size))
            vs = show_vs(bcast_vs(res, k, size))
            if b is None:
                out.append(f"| {ch[k]['label']} | {size:,} | 0 | not tried: stopped after its "
                           f"warm-up broadcast to {ch[k]['dropped']:,} did not finish in "
                           f"{ROUND_TIMEOUT_S:g} s | | | | {vs} |")
            elif b["timed_out"]:
                out.append(f"| {ch[k]['label']} | {size:,} | 0 | did not finish in "
                           f"{ROUND_TIMEOUT_S:g} s: {b['delivered_in_timeout']:,} of "
                           f"{b['subscribers']:,} delivered by then | | | | {vs} |")
            else:
                out.append(f"| {ch[k]['label']} | {size:,} | {b['rounds']} | "
                           f"{b['p50_ms']:.1f} | {b['p99_ms']:.1f} | {b['last_ms']:.1f} | "
                           f"{b['missing']} / {b['timeouts']} | {vs} |")
    for size in res["unreachable"]:
        out.append(f"| (all) | {size:,} | not measured: the hard RLIMIT_NOFILE of "
                   f"{res['rlimit_nofile']:,} caps one server process below {size:,} "
                   "connections on this machine | | | | | |")
    out.append("")

    out.append(f"**(c) Chat room**, measured first, on servers holding nothing else: "
               f"{CHAT_MEMBERS} members, each with one `new_message` in "
               f"flight; {res['chat_reps']} windows of {res['chat_s']:g} s per server.")
    out.append("")
    out.append("| server | deliveries/s, best window | median window | messages "
               f"acknowledged/s | delivered of acknowledged {TIMES} members | server CPU per "
               f"acknowledged delivery (µs) | {TIMES} Hearth (best window) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for k in keys:
        c = ch[k]["chat"]
        out.append(f"| {ch[k]['label']} | {c['deliveries_per_s']:,.0f} | "
                   f"{c['median_deliveries_per_s']:,.0f} | {c['acked_per_s']:,.0f} | "
                   f"{c['delivered_share']:.0%} | {c['cpu_us_per_delivery']:.2f} | "
                   f"{x(ahead(h['chat']['deliveries_per_s'], c['deliveries_per_s'], True))} |")
    out.append("")

    out.append(f"**(d) Connect + join rate**: opening the {res['n']:,} connections of (a) in "
               f"{res['chunks']} chunks, the servers taking turns.")
    out.append("")
    out.append(f"| server | connects + joins per second | {TIMES} Hearth |")
    out.append("|---|---:|---:|")
    for k in keys:
        r = ch[k]
        out.append(f"| {r['label']} | {r['connect_per_s']:,.0f} | "
                   f"{x(ahead(h['connect_per_s'], r['connect_per_s'], True))} |")
    out.append("")

    a = res["actors"]
    out.append("**Actors** (`bench/actors.py`" + (" --quick" if res["quick"] else "")
               + ", run on its own after the servers stopped):")
    out.append("")
    out.append("| figure | hearth | asyncio floor | pykka |")
    out.append("|---|---:|---:|---:|")
    for row in a["rows"]:
        out.append("| " + " | ".join(row) + " |")
    for note in a["notes"]:
        out.append(f"\n{note}")
    out.append("")

    out.append(f"**Goals** (Hearth at least 3{TIMES} python-socketio and Django Channels on "
               f"(b) and (c), and at least 0.6{TIMES} the bare aiohttp floor):")
    out.append("")
    out.append("| goal | figure | result |")
    out.append("|---|---:|---|")
    for g in goals(res):
        out.append(f"| {g['goal']} | {show_vs((g['value'], g.get('bound', False)))} | "
                   f"{'met' if g['met'] else 'missed'} |")
    out.append("")
    out.append("Plots: " + ", ".join(f"`bench/plots/{p}`" for p in PLOT_FILES) + "; figures: "
               "`bench/plots/side_by_side.json`.")
    out.append("")
    out.append("Summary lines:")
    out.append("")
    for line in summary_lines(res):
        out.append(f"`{line}`")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


PLOT_FILES = ("idle.png", "broadcast.png", "chat.png", "connect.png", "actors.png")


def bcast_vs(res: dict[str, Any], k: str, size: int) -> tuple[float, bool]:
    """Hearth's advantage over ``k`` on the last delivery of a broadcast to ``size``, and
    whether it is only a lower bound: a server whose broadcast did not finish within
    ROUND_TIMEOUT_S (or that was stopped before this size) is at least that slow."""
    h = res["channels"]["hearth"]["broadcast"][str(size)]["last_ms"]
    b = res["channels"][k]["broadcast"].get(str(size))
    if b is None or b.get("timed_out"):
        return ROUND_TIMEOUT_S * 1000 / h, True
    return ahead(h, b["last_ms"], False), False


def show_vs(v: tuple[float, bool]) -> str:
    return f"more than {v[0]:.0f}{TIMES}" if v[1] else x(v[0])


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    ch = res["channels"]
    h = ch["hearth"]
    rows = []
    for k in [k for k in ch if k != "hearth"]:
        target = 0.6 if k == "aiohttp" else 3.0
        for size in res["sizes"]:
            v, bound = bcast_vs(res, k, size)
            rows.append({"goal": f"(b) {size:,}: last delivery, vs {ch[k]['label']} "
                                 f"≥ {target:g}{TIMES}", "value": v, "bound": bound,
                         "met": v >= target})
        v = ahead(h["chat"]["deliveries_per_s"], ch[k]["chat"]["deliveries_per_s"], True)
        rows.append({"goal": f"(c) chat deliveries/s, vs {ch[k]['label']} ≥ {target:g}{TIMES}",
                     "value": v, "met": v >= target})
    return rows


def summary_lines(res: dict[str, Any]) -> list[str]:
    ch = res["channels"]
    h = ch["hearth"]
    others = [k for k in ch if k != "hearth"]
    idle = [f"side_by_side_idle: n={res['n']}"]
    idle += [f"{k}_kb_per_conn={ch[k]['kb_per_conn']:.2f}" for k in ch]
    idle += [f"hearth_vs_{k}={ahead(h['kb_per_conn'], ch[k]['kb_per_conn'], False):.2f}x"
             for k in others]
    bc = [f"side_by_side_broadcast: sizes={','.join(map(str, res['sizes']))} "
          f"unreachable={','.join(map(str, res['unreachable'])) or 'none'} "
          f"rlimit_nofile={res['rlimit_nofile']}"]
    for size in res["sizes"]:
        for k in ch:
            b = ch[k]["broadcast"].get(str(size))
            if b is None or b["timed_out"]:
                bc.append(f"{k}_{size}_last_ms=over{ROUND_TIMEOUT_S * 1000:.0f}")
            else:
                bc.append(f"{k}_{size}_last_ms={b['last_ms']:.1f} "
                          f"{k}_{size}_p99_ms={b['p99_ms']:.1f}")
        for k in others:
            v, bound = bcast_vs(res, k, size)
            bc.append(f"hearth_vs_{k}_{size}{'_at_least' if bound else ''}={v:.2f}x")
    cht = [f"side_by_side_chat: members={CHAT_MEMBERS}"]
    cht += [f"{k}_deliveries_per_s={ch[k]['chat']['deliveries_per_s']:.0f}" for k in ch]
    cht += [f"hearth_vs_{k}="
            f"{ahead(h['chat']['deliveries_per_s'], ch[k]['chat']['deliveries_per_s'], True):.2f}x"
            for k in others]
    con = [f"side_by_side_connect: n={res['n']}"]
    con += [f"{k}_per_s={ch[k]['connect_per_s']:.0f}" for k in ch]
    con += [f"hearth_vs_{k}={ahead(h['connect_per_s'], ch[k]['connect_per_s'], True):.2f}x"
            for k in others]
    act = "side_by_side_" + res["actors"]["summary"]
    met = goals(res)
    gl = [f"side_by_side_goals: met={sum(g['met'] for g in met)} of={len(met)}"]
    return [" ".join(idle), " ".join(bc), " ".join(cht), " ".join(con), act, " ".join(gl)]


def write_section(path: str, generated: str) -> None:
    """Put ``generated`` between the markers of the "Side by side" section of ``path``,
    adding the section (heading and markers) at the end if it is not there yet. Nothing
    else in the file changes."""
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        if SECTION not in text:
            text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{BEGIN}\n{END}\n"
        else:  # the heading is there without markers: they go at the end of the section
            i = text.index(SECTION) + len(SECTION)
            j = text.find("\n## ", i)
            j = len(text) if j < 0 else j + 1
            text = text[:j].rstrip("\n") + f"\n\n{BEGIN}\n{END}\n" + ("\n" + text[j:]
                                                                        if text[j:] else "")
    i = text.index(BEGIN) + len(BEGIN)
    j = text.index(END)
    text = text[:i] + "\n\n" + generated + "\n" + text[j:]
    tmp = path + ".run_all.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def peer_versions() -> str:
    out = subprocess.run([PEERS_PYTHON, "-m", "pip", "list", "--format=json",
                          "--disable-pip-version-check"], capture_output=True, text=True)
    have = {p["name"].lower(): p["version"] for p in json.loads(out.stdout or "[]")}
    names = ("python-socketio", "python-engineio", "aiohttp", "django", "channels",
             "channels-redis", "uvicorn", "websockets", "uvloop")
    return ", ".join(f"{n} {have[n]}" for n in names if n in have)


def main() -> None:
    global ROUND_TIMEOUT_S
    # A SIGTERM stops the run through its ``finally`` blocks: servers, workers and redis go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small N, short windows; report and plots go to a temporary "
                             "folder (a smoke run)")
    parser.add_argument("-n", type=int, help="connections held per server (default 10,000)")
    parser.add_argument("--sizes", help="broadcast sizes, comma-separated "
                                        "(default 1000,10000,50000)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=",".join(KINDS))
    parser.add_argument("--no-actors", action="store_true", help="skip bench/actors.py")
    parser.add_argument("--round-timeout", type=float, default=ROUND_TIMEOUT_S,
                        help="seconds a warm-up broadcast may take before its server is "
                             "stopped (default %(default)s)")
    parser.add_argument("--out", help="folder for the report and plots (default: "
                                      "BENCHMARKS.md and bench/plots/; --quick: a temporary "
                                      "folder)")
    args = parser.parse_args()

    ROUND_TIMEOUT_S = args.round_timeout
    keys = [k for k in args.kinds.split(",") if k]
    if "hearth" not in keys:
        raise SystemExit("the kinds must include hearth: every ratio is against it")
    ensure_peers_venv()
    _soft, hard = raise_nofile()
    sizes = [int(v) for v in (args.sizes or ("100,1000" if args.quick
                                             else "1000,10000,50000")).split(",")]
    limit = hard - FD_RESERVE - CHAT_MEMBERS
    unreachable = [v for v in sizes if v > limit]
    sizes = [v for v in sizes if v <= limit]
    n = args.n or (max(sizes) if sizes else 1000)
    if n > limit:
        raise SystemExit(f"-n {n}: above what one server process may hold here ({limit})")
    sizes = [v for v in sizes if v <= n]
    rounds = 3 if args.quick else 8
    chunks = 2 if args.quick else 4
    chat_s, chat_reps = (1.0, 1) if args.quick else (2.0, 3)
    n_workers = max(2, math.ceil((len(keys) * (n + CHAT_MEMBERS) + 200) / PER_WORKER))
    load_before = os.getloadavg()[0]
    print(f"side by side: {os.cpu_count()} CPUs, load average {load_before:.2f}, "
          f"RLIMIT_NOFILE hard limit {hard}, {n_workers} load-generator processes, "
          f"servers: {', '.join(keys)}", flush=True)
    for v in unreachable:
        print(f"  broadcast to {v:,}: not reachable on this machine: the hard RLIMIT_NOFILE "
              f"of {hard} caps one server process at {limit:,} connections (raising it "
              f"needs CAP_SYS_RESOURCE); not measured", flush=True)

    t0 = time.perf_counter()
    channels = run_channels(keys, n, sizes, rounds, chunks, chat_s, chat_reps, n_workers)
    load_after = os.getloadavg()[0]
    if args.no_actors:
        actors = {"rows": [], "notes": ["(not run: --no-actors)"], "summary": "actors: skipped"}
    else:
        print("actors: bench/actors.py" + (" --quick" if args.quick else ""), flush=True)
        actors = run_actors(args.quick)
    took = time.perf_counter() - t0

    res = {
        "machine": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after,
            "python": platform.python_version(), "versions": peer_versions(),
        },
        "quick": args.quick, "n": n, "sizes": sizes, "unreachable": unreachable,
        "rlimit_nofile": hard, "rounds": rounds, "round_timeout_s": ROUND_TIMEOUT_S,
        "chunks": chunks, "chat_s": chat_s,
        "chat_reps": chat_reps, "took_s": took, "channels": channels, "actors": actors,
    }
    out_dir = args.out or (tempfile.mkdtemp(prefix="hearth-bench-") if args.quick else None)
    plots = os.path.join(out_dir, "plots") if out_dir else PLOTS
    report = os.path.join(out_dir, "BENCHMARKS.md") if out_dir else BENCHMARKS_MD
    os.makedirs(plots, exist_ok=True)
    data = os.path.join(plots, "side_by_side.json")
    with open(data, "w") as f:
        json.dump(res, f, indent=1, default=str)
        f.write("\n")
    subprocess.run([PEERS_PYTHON, os.path.join(BENCH, "_plots.py"), data, plots], check=True)
    if out_dir and not os.path.exists(report):
        with open(report, "w") as f:
            f.write("# Benchmarks\n")
    write_section(report, markdown(res))
    print(f"report: {report}; plots: {plots}", flush=True)
    print(markdown(res))
    for line in summary_lines(res):
        print(line)


if __name__ == "__main__":
    main()
