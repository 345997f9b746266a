"""Channels benchmark: many joined WebSocket connections on Hearth beside a bare aiohttp server.

Run: ``.venv/bin/python bench/channels.py`` (tries 50,000 connections, a few minutes;
``--quick`` for 2,000). Two servers, each in its own process on uvloop
(``bench/_channels_server.py``):

- **hearth**: ``mount_socket``, a session and a channel process per joined connection,
  PubSub, fastlane broadcasts;
- **aiohttp**, the floor: a bare aiohttp WebSocket handler speaking the same Phoenix V2
  frames, with a dict of rooms and no channel layer.

Both run side by side for the whole run and are driven by the same multi-process load
generator (``bench/_loadgen.py``) over loopback; their rounds take turns, so a burst of noise
on the machine hits both alike. Read the ratios, not the absolute numbers.

1. Connections (one kind at a time): N connections open and each joins ``room:<kind>:all``.
   Server RSS per connection is (RSS with N joined - RSS before) / N, each read after a
   ``gc.collect()`` in the server, after a warm-up of 200 connections opened and closed.
   Kernel socket buffers are not in RSS.
2. A broadcast to all N: a control connection pushes ``new_message``, the channel
   broadcasts it. Every receiver records its arrival: the kernel's receive timestamp on the
   client socket (what the server achieved) and when the load generator read it (adds the
   generator's own queueing on the cores it shares with the server). p50/p99 over all
   receivers of all rounds, the p99 of the median and of the worst round, and the median
   round's last arrival. A first round is a warm-up, dropped. The server also times its own
   fan-out loop (wall and CPU, and how much of the CPU was the kernel's).
3. The same with 10,000 of the connections also joined to ``room:<kind>:big``.
4. A chat room of 100 fresh connections: each keeps one ``new_message`` in flight (it sends
   the next when the server acknowledges the last, so the room runs as fast as the server
   lets it); deliveries per second counted by the members over a window after a warm-up,
   best and median of the windows; server CPU per delivery.
5. Pushes: the same 100 connections send ``ping``, which the channel answers (no
   broadcast), one in flight each: pushes per second and server CPU per push, the cost of
   a client message through the session and its channel and back.

The server's automatic full (generation 2) garbage collections are counted, with the
longest, while connecting and afterwards.

``--gc`` measures the collector's pauses instead, on two Hearth servers side by side:
**hearth** with the interpreter's collector and **hearth-gc** with the node's policy
(``otp.GcPolicy()``, what ``hearth serve`` applies once its tree is up). Each holds 20,000
connections less what the descriptor limit keeps for the rest (19,872 - 1,100 with a hard
limit of 20,000), plus 1,000 that are closed and opened again and a chat room of 100. Every
collection is timed in the server (``otp.gc_stats``) while connecting and during
``--churn`` seconds of churn, the kinds taking turns: three broadcasts to all, the 1,000
connections closed and opened again, two seconds of chat. The histogram (<1, 1-5, 5-10,
10-50, 50-100, >=100 ms) and the longest pause, off against on; then, outside the measured
part, every frozen object is unfrozen and collected once, which shows the garbage freezing
kept from the collector (it should be none).

Every process raises RLIMIT_NOFILE to its hard limit. A server holds one descriptor per
connection, so N is capped by that limit; the run says so when it is. The last line is one
machine-readable summary.
"""

from __future__ import annotations

import argparse
import array
import json
import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from multiprocessing.connection import Connection, wait
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _loadgen import Control, raise_nofile, stop_workers, worker_main

from otp.gc_policy import BUCKET_NAMES

HOST = "127.0.0.1"
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]  # 8 source addresses x ~28k ephemeral ports
SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_channels_server.py")
FD_RESERVE = 128  # descriptors a server needs besides its connections
PER_WORKER = 10_000  # connections per load-generator process, at most
BODY = "x" * 64
KINDS = ("hearth", "aiohttp")
CHAT_MEMBERS = 100


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


def all_of(
    pipes: list[Connection], cmds: list[tuple[Any, ...]], name: str
) -> list[tuple[Any, ...]]:
    """Send each worker its command, then wait for every answer ``name``."""
    for pipe, cmd in zip(pipes, cmds, strict=True):
        pipe.send(cmd)
    return [recv(pipe, name) for pipe in pipes]


def split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def server_stats(port: int, collect: bool = True, since: bool = False) -> dict[str, Any]:
    """The server's RSS and counts (after ``gc.collect()`` if ``collect``); with ``since``,
    the fan-outs it timed and its collector runs since last asked."""
    query = "&".join(q for q, on in (("gc=1", collect), ("fanouts=1", since)) if on)
    with urllib.request.urlopen(f"http://{HOST}:{port}/bench/stats?{query}", timeout=60) as r:
        stats: dict[str, Any] = json.loads(r.read())
    return stats


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gc_summary(runs: list[dict[str, list[float]]]) -> dict[str, float]:
    """Full (generation 2) collections in ``runs``: how many, and the longest (ms)."""
    return {"full": sum(r["2"][0] for r in runs), "longest_ms": max(r["2"][2] for r in runs)}


def pct(sorted_ns: list[int], p: float) -> float:
    """The ``p``th percentile of sorted nanoseconds, in ms."""
    if not sorted_ns:
        return math.nan
    i = min(len(sorted_ns) - 1, max(0, math.ceil(p / 100 * len(sorted_ns)) - 1))
    return sorted_ns[i] / 1e6


# -- the run -------------------------------------------------------------------------------------


class Server:
    """One server kind in its own process, with its control connection and results."""

    def __init__(self, kind: str, policy: str | None = None) -> None:
        self.kind = kind
        self.proc = subprocess.Popen([sys.executable, SERVER, kind, HOST,
                                      *([policy] if policy else [])],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.port: int = info["port"]
        self.pid: int = info["pid"]
        self.ctrl: Control | None = None
        self.out: dict[str, Any] = {"kind": kind}
        self.gc: list[dict[str, list[float]]] = []  # collector runs, per phase after connecting

    def topic(self, name: str) -> str:
        return f"room:{self.kind}:{name}"

    def since(self) -> dict[str, Any]:
        """Fan-outs and collector runs since last asked (the latter kept)."""
        stats = server_stats(self.port, False, True)
        self.gc.append(stats["gc"])
        return stats

    def stop(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def one_round(ctrl: Control, pipes: list[Connection], subscribed: list[int], topic: str,
              r: int) -> bool:
    """Broadcast round ``r`` to ``topic``; wait until every subscriber has it (False if
    some have not after 30 s)."""
    pending = {p for p, n in zip(pipes, subscribed, strict=True) if n > 0}
    ctrl.broadcast(topic, {"r": r, "t": time.time_ns(), "body": BODY})
    deadline = time.monotonic() + 30.0
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


def broadcasts(servers: list[Server], pipes: list[Connection],
               subscribed: dict[str, list[int]], name: str,
               rounds: int) -> dict[str, dict[str, Any]]:
    """``rounds`` broadcasts to topic ``name`` of each server (after a warm-up round),
    the kinds taking turns."""
    timeouts = {s.kind: 0 for s in servers}
    for r in range(rounds + 1):
        for s in servers:
            assert s.ctrl is not None
            if not one_round(s.ctrl, pipes, subscribed[s.kind], s.topic(name), r):
                timeouts[s.kind] += 1
            time.sleep(0.1)
    kernel: dict[str, dict[int, list[int]]] = {s.kind: {} for s in servers}
    read: dict[str, dict[int, list[int]]] = {s.kind: {} for s in servers}
    lost = 0
    for got, worker_lost in all_of(pipes, [("collect",)] * len(pipes), "collected"):
        lost += worker_lost
        for key, (kb, rb) in got.items():
            topic, r = key.rsplit("|", 1)
            kind = topic.split(":")[1]
            if int(r) == 0 or kind not in kernel or topic != f"room:{kind}:{name}":
                continue
            kernel[kind].setdefault(int(r), []).extend(array.array("q", kb))
            read[kind].setdefault(int(r), []).extend(array.array("q", rb))
    out = {}
    for s in servers:
        fans = [f for f in s.since()["fanouts"] if f[0] == s.topic(name)][1:]  # no warm-up
        per_round = [sorted(v) for v in kernel[s.kind].values()]
        expected = sum(subscribed[s.kind])
        k_all = sorted(v for vs in per_round for v in vs)
        r_all = sorted(v for vs in read[s.kind].values() for v in vs)
        out[s.kind] = {
            "subscribers": expected,
            "missing": expected * rounds - len(k_all),
            "timeouts": timeouts[s.kind],
            "lost_connections": lost,
            "p50_ms": pct(k_all, 50),
            "p99_ms": pct(k_all, 99),
            "round_p99_ms": statistics.median(pct(v, 99) for v in per_round),
            "worst_p99_ms": max(pct(v, 99) for v in per_round),
            "last_ms": statistics.median(pct(v, 100) for v in per_round),
            "read_p50_ms": pct(r_all, 50),
            "read_p99_ms": pct(r_all, 99),
            "fanout_wall_ms": statistics.median(f[2] for f in fans) / 1e6,
            "fanout_cpu_ms": statistics.median(f[3] for f in fans) / 1e6,
            "fanout_cpu_us_per_member": statistics.median(f[3] / f[1] for f in fans) / 1e3,
            "fanout_kernel_share": sum(f[4] for f in fans) / max(1, sum(f[3] for f in fans)),
        }
    return out


def connect(s: Server, pipes: list[Connection], n: int) -> list[int]:
    """Open ``n`` connections to ``s``, each joined to its ``all`` topic; the connections
    each worker holds."""
    pipes[0].send(("open", f"{s.kind}:warm", s.port, 200, [s.topic("warm")], 0))
    recv(pipes[0], "opened")
    pipes[0].send(("close", f"{s.kind}:warm"))
    recv(pipes[0], "closed")
    time.sleep(1.0)
    before = server_stats(s.port)
    server_stats(s.port, False, True)  # the collector's runs are counted from here
    shares = split(n, len(pipes))
    firsts = [sum(shares[:i]) for i in range(len(pipes))]
    t0 = time.perf_counter()
    opened = all_of(pipes, [("open", f"{s.kind}:main", s.port, c, [s.topic("all")], f)
                            for c, f in zip(shares, firsts, strict=True)], "opened")
    open_s = time.perf_counter() - t0
    o = s.out
    o["gc_connect"] = gc_summary([server_stats(s.port, False, True)["gc"]])
    time.sleep(1.0)
    after = server_stats(s.port)
    ok = [x[0] for x in opened]
    o["connected"] = sum(ok)
    o["failed"] = sum(x[1] for x in opened)
    o["errors"] = [e for x in opened for e in x[3]][:3]
    o["connect_per_s"] = sum(ok) / open_s
    o["kb_per_conn"] = (after["rss_kb"] - before["rss_kb"]) / max(1, sum(ok))
    o["rss_mb"] = after["rss_kb"] / 1024
    failed = f", {o['failed']} failed: {'; '.join(o['errors'])}" if o["failed"] else ""
    print(f"  {s.kind}: {sum(ok):,} joined in {open_s:.1f}s{failed}; server RSS "
          f"{before['rss_kb'] / 1024:.0f} -> {o['rss_mb']:.0f} MB, {o['kb_per_conn']:.2f} KB "
          f"per connection; {after}", flush=True)
    return ok


def chat(servers: list[Server], pipes: list[Connection], window_s: float, reps: int) -> None:
    """A room of CHAT_MEMBERS fresh connections per kind. Chat windows (``new_message``:
    broadcast to the room, acknowledged) and push windows (``ping``: answered by the
    channel, no broadcast), ``reps`` of each, the kinds taking turns."""
    shares = split(CHAT_MEMBERS, len(pipes))
    firsts = [10**6 + sum(shares[:i]) for i in range(len(pipes))]
    for s in servers:
        opened = all_of(pipes, [("open", f"{s.kind}:chat", s.port, c, [s.topic("chat")], f)
                                for c, f in zip(shares, firsts, strict=True)], "opened")
        s.out["chat_members"] = sum(x[0] for x in opened)
        s.out["chat_windows"] = []
        s.out["push_windows"] = []
    warm_s = 0.5
    for _ in range(reps):
        for event in ("new_message", "ping"):
            for s in servers:
                start = time.time_ns() + 200_000_000
                end = start + int((warm_s + window_s) * 1e9)
                cpu = cpu_seconds(s.pid)
                got = all_of(pipes, [("chat_go", f"{s.kind}:chat", s.topic("chat"), event,
                                      start, int(warm_s * 1e9), end, 1, BODY)] * len(pipes),
                             "chat")
                cpu = cpu_seconds(s.pid) - cpu
                # The server's CPU from the start to the drain, over what it did in that
                # time: every acknowledged message went to every member.
                acked = sum(g[2] for g in got)
                if event == "new_message":
                    s.out["chat_windows"].append({
                        "deliveries_per_s": sum(g[0] for g in got) / window_s,
                        "cpu_us_per_delivery":
                            cpu / max(1, acked * s.out["chat_members"]) * 1e6,
                    })
                else:
                    s.out["push_windows"].append({
                        "per_s": sum(g[1] for g in got) / window_s,
                        "cpu_us_per_push": cpu / max(1, acked) * 1e6,
                    })
    for s in servers:
        w = s.out["chat_windows"]
        s.out["chat"] = {
            "deliveries_per_s": max(x["deliveries_per_s"] for x in w),
            "median_deliveries_per_s": statistics.median(x["deliveries_per_s"] for x in w),
            "cpu_us_per_delivery": min(x["cpu_us_per_delivery"] for x in w),
        }
        p = s.out["push_windows"]
        s.out["push"] = {
            "per_s": max(x["per_s"] for x in p),
            "cpu_us_per_push": min(x["cpu_us_per_push"] for x in p),
        }


def run(kinds: list[str], n: int, big: int, rounds: int, chat_s: float, chat_reps: int,
        n_workers: int) -> dict[str, dict[str, Any]]:
    servers: list[Server] = []
    pipes: list[Connection] = []
    procs: list[Any] = []
    try:
        for kind in kinds:
            servers.append(Server(kind))
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
        for s in servers:
            s.ctrl = Control(HOST, s.port)
            for name in ("all", "big"):
                s.ctrl.join(s.topic(name))

        subscribed = {s.kind: connect(s, pipes, n) for s in servers}

        for kind, res in broadcasts(servers, pipes, subscribed, "all", rounds).items():
            servers[kinds.index(kind)].out["all"] = res
            print(f"  {kind}: broadcast to all: {res}", flush=True)

        for s in servers:
            counts = [min(a, b) for a, b in zip(subscribed[s.kind], split(big, n_workers),
                                                strict=True)]
            joined = all_of(pipes, [("join", f"{s.kind}:main", c, s.topic("big"))
                                    for c in counts], "joined")
            subscribed[s.kind] = [j[0] for j in joined]
        for kind, res in broadcasts(servers, pipes, subscribed, "big", rounds).items():
            servers[kinds.index(kind)].out["big"] = res
            print(f"  {kind}: broadcast to {big:,}: {res}", flush=True)

        chat(servers, pipes, chat_s, chat_reps)
        for s in servers:
            s.since()
            s.out["gc_after"] = gc_summary(s.gc)
            phases = ", ".join(f"{name} {g['2'][0]:.0f} ({g['2'][2]:.0f} ms)" for name, g in
                               zip(("idle+all", "join+big", "chat"), s.gc, strict=True))
            print(f"  {s.kind}: chat: {s.out['chat']}; pushes: {s.out['push']}; full GC runs "
                  f"by phase: {phases}", flush=True)
    finally:
        stop_workers(pipes, procs)
        for s in servers:
            s.stop()
    return {s.kind: s.out for s in servers}


# -- collector pauses (--gc) ---------------------------------------------------------------------

GC_KINDS = ("hearth", "hearth-gc")
CHURN = 1_000  # connections closed and opened again in each churn cycle


def pauses(s: Server) -> dict[str, Any]:
    """The server's collector pauses since last asked (``otp.gc_stats``)."""
    with urllib.request.urlopen(f"http://{HOST}:{s.port}/bench/stats?pauses=1",
                                timeout=120) as r:
        stats: dict[str, Any] = json.loads(r.read())["pauses"]
    return stats


def merged(*runs: dict[str, Any]) -> dict[str, Any]:
    """Pause histograms of several ``pauses`` answers, all generations together."""
    buckets: dict[str, int] = {}
    longest = 0.0
    total = 0.0
    for run in runs:
        for g in run["generations"].values():
            for name, count in g["pauses"].items():
                buckets[name] = buckets.get(name, 0) + count
            total += g["total_ms"]
        longest = max(longest, run["longest_ms"])
    full = sum(sum(run["generations"]["2"]["pauses"].values()) for run in runs)
    full_longest = max(run["generations"]["2"]["longest_ms"] for run in runs)
    return {"buckets": buckets, "longest_ms": longest, "total_ms": total, "full": full,
            "full_longest_ms": full_longest, "freezes": sum(r.get("freezes", 0) for r in runs),
            "longest_cpu_ms": max(r.get("longest_cpu_ms", math.nan) for r in runs),
            "ticks": sum(r.get("ticks", 0) for r in runs), "frozen": runs[-1]["frozen"]}


def gc_run(n: int, churn_s: float, n_workers: int, policy: str | None = None
           ) -> dict[str, dict[str, Any]]:
    """Both kinds hold ``n`` connections; the collector's pauses while connecting and during
    ``churn_s`` seconds of churn (broadcasts to all, chat, CHURN connections closed and
    opened again), the kinds taking turns. ``policy``: the on server's ``otp.GcPolicy``
    fields as JSON, if not the default."""
    servers = [Server(kind, policy if kind == "hearth-gc" else None) for kind in GC_KINDS]
    pipes: list[Connection] = []
    procs: list[Any] = []
    subscribed: dict[str, list[int]] = {}
    try:
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
        shares = split(n, len(pipes))
        firsts = [sum(shares[:i]) for i in range(len(pipes))]
        churn = split(CHURN, len(pipes))
        churn_firsts = [2 * 10**6 + sum(churn[:i]) for i in range(len(pipes))]
        for s in servers:
            s.ctrl = Control(HOST, s.port)
            s.ctrl.join(s.topic("all"))
            pauses(s)  # counted from here
            t0 = time.perf_counter()
            opened = all_of(pipes, [("open", f"{s.kind}:main", s.port, c, [s.topic("all")], f)
                                    for c, f in zip(shares, firsts, strict=True)], "opened")
            s.out["connect_s"] = time.perf_counter() - t0
            subscribed[s.kind] = [x[0] for x in opened]
            s.out["connected"] = sum(subscribed[s.kind])
            s.out["connect"] = pauses(s)
            print(f"  {s.kind}: {s.out['connected']:,} joined in {s.out['connect_s']:.1f}s; "
                  f"pauses {merged(s.out['connect'])}", flush=True)
        for s in servers:
            all_of(pipes, [("open", f"{s.kind}:churn", s.port, c, [s.topic("churn")], f)
                           for c, f in zip(churn, churn_firsts, strict=True)], "opened")
        chat(servers, pipes, 2.0, 1)  # opens the chat rooms; their pauses count as churn
        runs: dict[str, list[dict[str, Any]]] = {s.kind: [] for s in servers}
        deadline = time.monotonic() + churn_s
        r = 0
        while time.monotonic() < deadline:
            for s in servers:
                assert s.ctrl is not None
                for _ in range(3):
                    r += 1
                    one_round(s.ctrl, pipes, subscribed[s.kind], s.topic("all"), r)
                all_of(pipes, [("close", f"{s.kind}:churn")] * len(pipes), "closed")
                all_of(pipes, [("open", f"{s.kind}:churn", s.port, c, [s.topic("churn")], f)
                               for c, f in zip(churn, churn_firsts, strict=True)], "opened")
                start = time.time_ns() + 200_000_000
                all_of(pipes, [("chat_go", f"{s.kind}:chat", s.topic("chat"), "new_message",
                                start, 0, start + 2_000_000_000, 1, BODY)] * len(pipes),
                       "chat")
            all_of(pipes, [("collect",)] * len(pipes), "collected")  # drop the arrivals
        for s in servers:
            runs[s.kind].append(pauses(s))
            s.out["churn"] = runs[s.kind][-1]
            # What freezing kept from the collector: every frozen object back under it, one
            # full collection, the garbage it found (a pause, after the measured part).
            with urllib.request.urlopen(f"http://{HOST}:{s.port}/bench/stats?frozen_garbage=1",
                                        timeout=300) as resp:
                s.out["frozen_garbage"] = json.loads(resp.read())["frozen_garbage"]
            print(f"  {s.kind}: churn pauses {merged(s.out['churn'])}; frozen garbage "
                  f"{s.out['frozen_garbage']}", flush=True)
    finally:
        stop_workers(pipes, procs)
        for s in servers:
            s.stop()
    return {s.kind: s.out for s in servers}


def gc_report(results: dict[str, dict[str, Any]], n: int, hard: int) -> None:
    """The pause histograms, off against on, and one machine-readable line."""
    off, on = results["hearth"], results["hearth-gc"]
    print(f"collector pauses, {n:,} connections held (policy off: the interpreter's collector;"
          f" on: otp.GcPolicy())")
    cols = [("connecting", "connect"), ("churn", "churn")]
    print(f"{'pause':<22}" + "".join(f"{c + ' ' + w:>18}" for c, _ in cols
                                     for w in ("off", "on")))
    m = {(k, w): merged(r[k]) for _, k in cols for w, r in (("off", off), ("on", on))}
    for name in BUCKET_NAMES:
        print(f"{name:<22}" + "".join(f"{m[(k, w)]['buckets'][name]:>18,}" for _, k in cols
                                      for w in ("off", "on")))
    for label, key, fmt in (("longest (ms)", "longest_ms", "{:,.1f}"),
                            ("longest, CPU (ms)", "longest_cpu_ms", "{:,.1f}"),
                            ("full collections", "full", "{:,}"),
                            ("longest full (ms)", "full_longest_ms", "{:,.1f}"),
                            ("all pauses (ms)", "total_ms", "{:,.0f}"),
                            ("freezes", "freezes", "{:,}"),
                            ("ticks", "ticks", "{:,}")):
        print(f"{label:<22}" + "".join(f"{fmt.format(m[(k, w)][key]):>18}" for _, k in cols
                                       for w in ("off", "on")))
    longest_off = max(m[("connect", "off")]["longest_ms"], m[("churn", "off")]["longest_ms"])
    longest_on = max(m[("connect", "on")]["longest_ms"], m[("churn", "on")]["longest_ms"])
    garbage = on["frozen_garbage"]["garbage"]
    print(f"connecting took {off['connect_s']:.1f} s off, {on['connect_s']:.1f} s on; "
          f"longest pause {longest_off:,.1f} ms off, {longest_on:,.1f} ms on "
          f"({longest_off / max(longest_on, 1e-9):.0f}x shorter); target 50 ms "
          f"{'met' if longest_on <= 50 else 'MISSED'}")
    print(f"frozen objects at the end (on): {on['frozen_garbage']['frozen']:,}, of which "
          f"garbage kept by freezing: {garbage['objects']:,} {garbage['types'][:5]}")
    print(" ".join([
        "channels-gc:", f"n={n}", f"rlimit_nofile={hard}",
        f"longest_off_ms={longest_off:.1f}", f"longest_on_ms={longest_on:.1f}",
        f"longest_ratio={longest_off / max(longest_on, 1e-9):.1f}x",
        f"connect_s_off={off['connect_s']:.1f}", f"connect_s_on={on['connect_s']:.1f}",
        f"frozen_garbage={garbage['objects']}",
    ]))


# -- report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 connections (smoke run)")
    parser.add_argument("-n", type=int, help="connections to try (default 50,000)")
    parser.add_argument("--workers", type=int, help="load-generator processes")
    parser.add_argument("--kinds", default=",".join(KINDS), help="hearth,aiohttp")
    parser.add_argument("--gc", action="store_true",
                        help="collector pauses at 20,000 connections, policy off and on")
    parser.add_argument("--churn", type=float, default=60.0,
                        help="seconds of churn in the --gc run (default 60)")
    parser.add_argument("--policy", metavar="JSON",
                        help='the on server\'s otp.GcPolicy fields in the --gc run, e.g. '
                             '\'{"thresholds": [2000, 5, 0]}\' (default: the node\'s)')
    args = parser.parse_args()

    _soft, hard = raise_nofile()
    if args.gc:
        # Each server holds the main connections, the churning ones and a chat room.
        n = min(args.n or 20_000, hard - FD_RESERVE - CHURN - CHAT_MEMBERS)
        workers = args.workers or max(2, math.ceil(2 * (n + CHURN + CHAT_MEMBERS) / PER_WORKER))
        print(f"channels --gc: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
              f"RLIMIT_NOFILE hard limit {hard}: {n:,} connections held (+{CHURN:,} churning,"
              f" +{CHAT_MEMBERS} chatting) per server, {workers} load-generator processes",
              flush=True)
        gc_report(gc_run(n, args.churn, workers, args.policy), n, hard)
        return
    wanted = args.n or (2_000 if args.quick else 50_000)
    n = min(wanted, hard - FD_RESERVE)
    big = min(10_000, n)
    rounds = 5 if args.quick else 10
    chat_s, chat_reps = (2.0, 2) if args.quick else (3.0, 3)
    kinds = [k for k in args.kinds.split(",") if k]
    # Every worker holds its share of every kind's connections, under its own fd limit.
    per_worker = min(PER_WORKER, hard - FD_RESERVE - CHAT_MEMBERS * len(kinds))
    n_workers = args.workers or max(2, math.ceil(len(kinds) * n / per_worker))
    load = os.getloadavg()[0]
    print(f"channels: {os.cpu_count()} CPUs, load average {load:.2f}, RLIMIT_NOFILE hard "
          f"limit {hard}, {n_workers} load-generator processes", flush=True)
    if n < wanted:
        print(f"  asked for {wanted:,} connections; the hard RLIMIT_NOFILE of {hard} caps "
              f"one server process at {n:,} (raising it needs CAP_SYS_RESOURCE: "
              f"`ulimit -Hn` as root, or LimitNOFILE= in a systemd unit)", flush=True)

    t0 = time.perf_counter()
    results = run(kinds, n, big, rounds, chat_s, chat_reps, n_workers)
    took = time.perf_counter() - t0

    rows: list[tuple[str, Any]] = [
        ("connections joined", lambda r: f"{r['connected']:,}"),
        ("connects+joins per second", lambda r: f"{r['connect_per_s']:,.0f}"),
        ("server RSS per connection (KB)", lambda r: f"{r['kb_per_conn']:.2f}"),
        ("server RSS, all joined (MB)", lambda r: f"{r['rss_mb']:.0f}"),
    ]
    for key, label in (("all", f"to all {n:,}"), ("big", f"to {big:,}")):
        rows += [
            (f"broadcast {label}: p50 / p99 (ms)",
             lambda r, k=key: f"{r[k]['p50_ms']:.1f} / {r[k]['p99_ms']:.1f}"),
            ("  p99 of median round / worst round (ms)",
             lambda r, k=key: f"{r[k]['round_p99_ms']:.1f} / {r[k]['worst_p99_ms']:.1f}"),
            ("  last arrival, median round (ms)", lambda r, k=key: f"{r[k]['last_ms']:.1f}"),
            ("  read by the generator p50 / p99 (ms)",
             lambda r, k=key: f"{r[k]['read_p50_ms']:.1f} / {r[k]['read_p99_ms']:.1f}"),
            ("  server fan-out loop, wall / CPU (ms)",
             lambda r, k=key: f"{r[k]['fanout_wall_ms']:.1f} / {r[k]['fanout_cpu_ms']:.1f}"),
            ("  server fan-out CPU per member (us)",
             lambda r, k=key: f"{r[k]['fanout_cpu_us_per_member']:.2f}"),
            ("  of which in the kernel (approx.)",
             lambda r, k=key: f"{r[k]['fanout_kernel_share']:.0%}"),
        ]
    rows += [
        ("broadcast deliveries missing",
         lambda r: f"{r['all']['missing'] + r['big']['missing']}"),
        (f"chat ({CHAT_MEMBERS}): deliveries/s, best window",
         lambda r: f"{r['chat']['deliveries_per_s']:,.0f}"),
        (f"chat ({CHAT_MEMBERS}): deliveries/s, median window",
         lambda r: f"{r['chat']['median_deliveries_per_s']:,.0f}"),
        (f"chat ({CHAT_MEMBERS}): server CPU per delivery (us)",
         lambda r: f"{r['chat']['cpu_us_per_delivery']:.2f}"),
        (f"pushes ({CHAT_MEMBERS} clients): per second, best window",
         lambda r: f"{r['push']['per_s']:,.0f}"),
        (f"pushes ({CHAT_MEMBERS} clients): server CPU per push (us)",
         lambda r: f"{r['push']['cpu_us_per_push']:.1f}"),
        ("full GC runs / longest (ms), connecting",
         lambda r: f"{r['gc_connect']['full']} / {r['gc_connect']['longest_ms']:.0f}"),
        ("full GC runs / longest (ms), afterwards",
         lambda r: f"{r['gc_after']['full']} / {r['gc_after']['longest_ms']:.0f}"),
    ]
    print(f"{'figure':<44}" + "".join(f"{k:>16}" for k in kinds))
    for label, cell in rows:
        print(f"{label:<44}" + "".join(f"{cell(results[k]):>16}" for k in kinds))
    print(f"({took:.0f} s; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)")

    h, a = results.get("hearth"), results.get("aiohttp")
    parts = ["channels:", f"wanted={wanted}", f"rlimit_nofile={hard}", f"big_n={big}"]
    if h:
        gc_longest = max(h["gc_connect"]["longest_ms"], h["gc_after"]["longest_ms"])
        parts += [
            f"n={h['connected']}",
            f"kb_per_conn={h['kb_per_conn']:.2f}",
            f"bcast_all_p50_ms={h['all']['p50_ms']:.1f}",
            f"bcast_all_p99_ms={h['all']['p99_ms']:.1f}",
            f"bcast_big_p50_ms={h['big']['p50_ms']:.1f}",
            f"bcast_big_p99_ms={h['big']['p99_ms']:.1f}",
            f"fanout_big_cpu_ms={h['big']['fanout_cpu_ms']:.1f}",
            f"chat_deliveries_per_s={h['chat']['deliveries_per_s']:.0f}",
            f"pushes_per_s={h['push']['per_s']:.0f}",
            f"gc_full_longest_ms={gc_longest:.0f}",
        ]
    if h and a:
        parts += [
            f"kb_per_conn_vs_aiohttp={h['kb_per_conn'] / a['kb_per_conn']:.2f}x",
            f"connect_vs_aiohttp={h['connect_per_s'] / a['connect_per_s']:.2f}x",
            f"bcast_all_p99_vs_aiohttp={h['all']['p99_ms'] / a['all']['p99_ms']:.2f}x",
            f"bcast_big_p99_vs_aiohttp={h['big']['p99_ms'] / a['big']['p99_ms']:.2f}x",
            "fanout_cpu_vs_aiohttp="
            f"{h['big']['fanout_cpu_us_per_member'] / a['big']['fanout_cpu_us_per_member']:.2f}x",
            "chat_vs_aiohttp="
            f"{h['chat']['deliveries_per_s'] / a['chat']['deliveries_per_s']:.2f}x",
            "chat_cpu_vs_aiohttp="
            f"{h['chat']['cpu_us_per_delivery'] / a['chat']['cpu_us_per_delivery']:.2f}x",
            f"push_cpu_vs_aiohttp="
            f"{h['push']['cpu_us_per_push'] / a['push']['cpu_us_per_push']:.2f}x",
        ]
    print(" ".join(parts))


if __name__ == "__main__":
    main()
