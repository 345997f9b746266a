"""Repo kills under write load: how long writes stall after a kill, and what a kill leaves.

Run: ``.venv/bin/python bench/repo_kills.py`` (``--quick`` for a smoke run). To measure other
code (an older commit checked out elsewhere), put its tree first: ``PYTHONPATH=/that/tree``.

In-process, on a real SQLite file: the Repo under a supervisor that allows every restart,
``--writers`` processes writing in a loop (half single statements, half transactions, each
followed by a read), and ``--kills`` kills of the Repo, one every ``--interval`` seconds.

Figures, per kill: the stall (from the kill to the first write that began after it and was
stored), and how long an outside connection (a second process, a backup) waits for the write
lock right after the restart (its busy timeout is ``--lock-wait``; "locked" if it never got
it). Then threads and descriptors before the first kill and once the kills are over (after up
to 10 s for closing connections to end), and which errors the writers saw. The last line is
machine-readable.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import uvloop

import otp
from actors.repo import Repo

NAME = "bench.repo"
INSERT = "INSERT INTO rooms (slug, name, created_at) VALUES (hex(randomblob(8)), 'w', 1)"


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def outside_lock(db: Path, wait: float) -> float | None:
    """Seconds an outside connection waited for the write lock; ``None``: never got it."""
    started = time.perf_counter()
    conn = sqlite3.connect(db, timeout=wait, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return time.perf_counter() - started
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    db = Path(tempfile.mkdtemp(prefix="repo-kills-")) / "hearth.db"
    otp.trap_exit(True)
    sup = await otp.Supervisor.start_link([Repo.child_spec(str(db), 2, name=NAME)],
                                          max_restarts=10 * args.kills + 10)
    assert sup is not None
    stored: list[tuple[float, float]] = []  # (began, stored) of every stored write
    errors: collections.Counter[str] = collections.Counter()
    stop = asyncio.Event()

    async def insert(conn: Any) -> None:
        await conn.execute(INSERT)

    async def writer(n: int) -> None:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                if n % 2:
                    await Repo.transaction(insert, repo=NAME)
                else:
                    await Repo.execute(INSERT, repo=NAME)
                stored.append((began, time.perf_counter()))
                await Repo.fetch_all("SELECT COUNT(*) FROM rooms", repo=NAME)
            except Exception as e:
                errors[type(e).__name__] += 1
                await asyncio.sleep(0.01)  # as a client would before it retries

    # Counted once both readers have read (each opens the -wal file then).
    await asyncio.gather(*(Repo.fetch_all("SELECT 1 FROM rooms", repo=NAME) for _ in range(4)))
    await asyncio.to_thread(outside_lock, db, 1.0)  # the executor keeps this thread
    threads_before, fds_before = threading.active_count(), descriptors()
    writers = [asyncio.ensure_future(writer(n)) for n in range(args.writers)]
    stalls: list[float] = []
    lock_waits: list[float | None] = []
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(args.interval)
        for _ in range(args.kills):
            pid = otp.whereis(NAME)
            killed_at = time.perf_counter()
            if pid is not None:
                otp.exit(pid, "kill")
            while True:  # the supervisor restarts it within the turn; polled to be sure
                if otp.whereis(NAME) not in (None, pid):
                    break
                await asyncio.sleep(0.001)
            lock_waits.append(await loop.run_in_executor(None, outside_lock, db,
                                                         args.lock_wait))
            deadline = killed_at + 120.0
            while time.perf_counter() < deadline:
                after = [done for began, done in stored[-args.writers * 4:] if began >= killed_at]
                if after:
                    stalls.append(min(after) - killed_at)
                    break
                await asyncio.sleep(0.001)
            else:
                stalls.append(time.perf_counter() - killed_at)
            await asyncio.sleep(args.interval)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    settle = time.perf_counter() + 10.0
    while time.perf_counter() < settle:
        if threading.active_count() <= threads_before and descriptors() <= fds_before:
            break
        await asyncio.sleep(0.05)
    threads_after, fds_after = threading.active_count(), descriptors()
    ref = otp.monitor(sup)
    otp.exit(sup, "shutdown")
    await otp.receive(timeout=30, match=lambda m: type(m) is otp.Down and m.ref == ref)
    got = [w for w in lock_waits if w is not None]
    return {
        "writers": args.writers,
        "kills": args.kills,
        "writes_stored": len(stored),
        "stall_max_s": round(max(stalls), 3),
        "stall_p50_s": round(statistics.median(stalls), 3),
        "stalls_over_1s": sum(s > 1.0 for s in stalls),
        "outside_lock_max_s": round(max(got), 3) if got else None,
        "outside_lock_refused": len(lock_waits) - len(got),
        "threads": [threads_before, threads_after],
        "descriptors": [fds_before, fds_after],
        "errors": dict(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=100)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds of load between kills")
    parser.add_argument("--lock-wait", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.writers, args.kills, args.interval = 20, 3, 0.2
    result = uvloop.run(bench(args))
    print(f"{args.writers} writers, {args.kills} kills: stall after a kill p50 "
          f"{result['stall_p50_s']} s, max {result['stall_max_s']} s "
          f"({result['stalls_over_1s']} over 1 s); outside write lock after the restart: "
          f"max wait {result['outside_lock_max_s']} s, refused {result['outside_lock_refused']}"
          f"; threads {result['threads'][0]} -> {result['threads'][1]}, descriptors "
          f"{result['descriptors'][0]} -> {result['descriptors'][1]}; "
          f"writer errors {result['errors']}")
    print(json.dumps(result))
    sys.stdout.flush()
    # Code that leaves connection threads behind would keep this process alive for good.
    os._exit(0)


if __name__ == "__main__":
    main()
