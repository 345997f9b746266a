"""Presence benchmark: a topic with 10,000 present users and 1,000 joins/leaves a second.

Run: ``.venv/bin/python bench/presence.py`` (``--quick`` for a smoke run).

One node, in-process: PubSub, the tracker shards of ``channels.presence`` and a subscriber
that keeps a view of the topic the way phoenix.js's Presence helper does (``syncDiff``: joins
add metas by ``phx_ref``, leaves remove them). A driver keeps ``users`` presences on the topic
(one process each, as a channel would be) and replaces ``churn`` of them a second: it tracks a
new process and kills an old one, whose leave the tracker must notice by itself.

Figures: the tracker's memory per presence; CPU per second of churn, against a baseline run in
the same process doing the same spawns and kills without tracking (so the difference is the
tracker's); ``presence_diff`` broadcasts per second; and the delay from a ``track`` call to
the key's appearance in the subscriber's view (p50/p99). The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import uvloop

import otp
from channels.presence import Presence, presence_spec
from channels.serializer import Broadcast
from otp import GenServer, NoReply, Ok, PubSub

TOPIC = "room:bench"
TRACKER = "bench.presence"
PUBSUB = "bench.pubsub"


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class View(GenServer):
    """A subscriber applying diffs like phoenix.js's ``Presence.syncDiff``; it notes when
    each watched key first appears."""

    def init(self, watch: dict[str, float], seen: dict[str, float]) -> Any:
        PubSub.subscribe(PUBSUB, TOPIC)
        return Ok({"state": {}, "watch": watch, "seen": seen, "diffs": 0})

    def handle_info(self, msg: Any, st: dict[str, Any]) -> Any:
        if type(msg) is Broadcast and msg.event == "presence_diff":
            now = time.perf_counter()
            st["diffs"] += 1
            state = st["state"]
            for key, joined in msg.payload["joins"].items():
                metas = state.setdefault(key, {})
                for meta in joined["metas"]:
                    metas[meta["phx_ref"]] = meta
                if key in st["watch"] and key not in st["seen"]:
                    st["seen"][key] = now
            for key, left in msg.payload["leaves"].items():
                metas = state.get(key)
                if metas is None:
                    continue
                for meta in left["metas"]:
                    metas.pop(meta["phx_ref"], None)
                if not metas:
                    del state[key]
        return NoReply(st)

    def handle_call(self, request: Any, from_: Any, st: dict[str, Any]) -> Any:
        return otp.Reply((len(st["state"]), st["diffs"]), st)


async def _user() -> None:
    await otp.receive()


async def run(
    users: int, churn: int, seconds: float, window: float, track: bool
) -> dict[str, Any]:
    otp.trap_exit(True)
    await PubSub.start_link(name=PUBSUB)
    await presence_spec(TRACKER, PUBSUB, shards=4, broadcast_window=window).start()
    watch: dict[str, float] = {}
    seen: dict[str, float] = {}
    view = await View.start_link(watch, seen)
    gc.collect()
    base_rss = rss_kb()
    procs: list[tuple[str, Any]] = []
    for i in range(users):
        pid = otp.spawn(_user)
        if track:
            await Presence.track(TRACKER, pid, TOPIC, f"u{i}", {"status": "online"})
        procs.append((f"u{i}", pid))
    gc.collect()
    rss_after = rss_kb()
    # Churn: every tick, replace churn/ticks presences.
    ticks_per_s = 50
    per_tick = max(1, churn // ticks_per_s)
    n = users
    cpu0, wall0 = time.process_time(), time.perf_counter()
    _, diffs0 = await otp.call(view, "count")
    deadline = wall0 + seconds
    next_tick = wall0
    while time.perf_counter() < deadline:
        for _ in range(per_tick):
            key = f"u{n}"
            n += 1
            pid = otp.spawn(_user)
            if track:
                watch[key] = time.perf_counter()
                await Presence.track(TRACKER, pid, TOPIC, key, {"status": "online"})
            procs.append((key, pid))
            _, old = procs.pop(0)
            otp.exit(old, "kill")
        next_tick += 1 / ticks_per_s
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    # Let the last window close, then read the subscriber's view.
    await asyncio.sleep(window * 2 + 0.05)
    present, diffs = await otp.call(view, "count")
    delays = sorted((seen[k] - t) * 1000 for k, t in watch.items() if k in seen)
    me = otp.self()
    for pid in otp.processes():
        if pid != me:
            otp.exit(pid, "kill")
    return {
        "present": present,
        "rss_kb": rss_after - base_rss,
        "cpu_per_s": cpu / wall,
        "diffs_per_s": (diffs - diffs0) / wall,
        "delays_ms": delays,
        "missing": len([k for k in watch if k not in seen]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--window", type=float, default=0.05)
    parser.add_argument("--one", nargs=2, metavar=("TRACK", "QUICK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = args.quick or (args.one is not None and args.one[1] == "1")
    users = 1_000 if quick else 10_000
    churn = 200 if quick else 1_000
    seconds = 3.0 if quick else 10.0
    if args.one:
        result = uvloop.run(run(users, churn, seconds, args.window, args.one[0] == "1"))
        print(json.dumps(result))
        return

    def fresh(track: bool) -> dict[str, Any]:
        # Each run in its own process, so one run's freed memory does not flatter the other.
        out = subprocess.run(
            [sys.executable, __file__, "--window", str(args.window), "--one",
             "1" if track else "0", "1" if quick else "0"],
            check=True, capture_output=True, text=True,
        ).stdout
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    base = fresh(track=False)
    tracked = fresh(track=True)
    tracker_cpu = max(0.0, tracked["cpu_per_s"] - base["cpu_per_s"])
    delays = tracked["delays_ms"]
    p50 = statistics.median(delays) if delays else float("nan")
    p99 = delays[int(len(delays) * 0.99) - 1] if delays else float("nan")
    kb_per_presence = (tracked["rss_kb"] - base["rss_kb"]) / users
    print(f"users present: {users:,}; churn: {churn:,} joins + {churn:,} leaves per second "
          f"for {seconds:.0f} s; diff window {args.window * 1000:.0f} ms")
    print(f"subscriber's view at the end: {tracked['present']:,} keys "
          f"(expected {users:,}); joins never seen: {tracked['missing']}")
    print(f"tracker memory: {kb_per_presence:.2f} KB per presence")
    print(f"CPU (one core = 1.00): with tracking {tracked['cpu_per_s']:.2f}, baseline "
          f"{base['cpu_per_s']:.2f}, tracker {tracker_cpu:.2f}")
    print(f"presence_diff broadcasts per second: {tracked['diffs_per_s']:.1f}")
    print(f"join to appearance in another client's view: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"presence: users={users} churn_per_s={churn} kb_per_presence={kb_per_presence:.2f} "
          f"tracker_cpu={tracker_cpu:.2f} diffs_per_s={tracked['diffs_per_s']:.1f} "
          f"join_visible_p50_ms={p50:.1f} join_visible_p99_ms={p99:.1f} "
          f"view_ok={tracked['present'] == users and tracked['missing'] == 0}")


if __name__ == "__main__":
    main()
