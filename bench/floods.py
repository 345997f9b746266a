"""One client's flood against a real node: what the others see (issue 12, items 5 and 6).

Runs ``hearth serve`` on a scratch database and, in one run:

- **garbage**: an anonymous client sends one-byte invalid frames as fast as it can for
  ``--seconds`` (reconnecting whenever it is closed), while 20 readers sit in ``room:lobby``,
  a signed-in user posts a message every 50 ms and a prober asks ``/health`` every 20 ms.
  Reported: ``/health`` latency idle and under the flood, the share of the poster's
  messages the readers got, log bytes written, how often the flooder was closed.
- **posting**: a signed-in client sends ``new_message`` without waiting for replies for
  ``--seconds``, then disconnects. Reported: replies ok and ``rate_limited``, the node's
  resident memory before and at its peak, and rows still inserted after the disconnect.
- **logins** (item 7), at the shipped bcrypt cost (12) and dirty pool (2): 40 wrong guesses
  for one account sent together, 30 wrong guesses and the right password sent together for
  another, and a burst of 200 guesses at a third while its owner's neighbour logs in from
  another address. Reported: how many guesses had their password checked (401) and how many
  were refused before it (429), the right password's answer, and the neighbour's login time
  beside the same login on an idle node.

``--tree DIR`` runs the node from another checkout (``git worktree add /tmp/old <commit>``)
to compare before and after in the same conditions::

    .venv/bin/python bench/floods.py --seconds 10 [--tree /tmp/old]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
[node]
name = "bench@floods"
dirty_pool_size = {pool}
log_level = "info"

[server]
host = "127.0.0.1"
port = 0

[database]
path = "{db}"

[auth]
bcrypt_cost = {cost}
"""
PASSWORD = "a flood bench password"


class Node:
    """A ``hearth serve`` subprocess, its log file and its port."""

    def __init__(self, workdir: Path, tree: Path, cost: int = 4, pool: int = 1) -> None:
        self.workdir = workdir
        self.config = workdir / "hearth.toml"
        self.config.write_text(CONFIG.format(db=workdir / "hearth.db", cost=cost, pool=pool))
        self.log = workdir / "node.log"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")},
                    "PYTHONPATH": str(tree)}
        self.tree = tree
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def hearth(self, *args: str, stdin: str = "") -> None:
        subprocess.run([sys.executable, "-m", "hearth", *args, "--config", str(self.config)],
                       input=stdin.encode(), env=self.env, cwd=self.tree, check=True,
                       capture_output=True)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hearth", "serve", "--config", str(self.config)],
            env=self.env, cwd=self.tree, stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log.read_text())
            if found:
                self.port = int(found.group(1))
                return
            time.sleep(0.05)
        raise SystemExit(f"the node did not start:\n{self.log.read_text()}")

    def rss_kb(self) -> int:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    def rows(self) -> int:
        db = sqlite3.connect(f"file:{self.workdir / 'hearth.db'}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        finally:
            db.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket/websocket?vsn=2.0.0"


async def token(http: aiohttp.ClientSession, node: Node, email: str) -> str:
    async with http.post(f"{node.base}/api/v1/auth/token",
                         json={"email": email, "password": PASSWORD}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return str(body["access_token"])


def frame(*parts: Any) -> str:
    return json.dumps(list(parts))


async def join(ws: aiohttp.ClientWebSocketResponse, topic: str) -> None:
    await ws.send_str(frame("1", "1", topic, "phx_join", {}))
    while True:
        msg = json.loads((await ws.receive(timeout=10)).data)
        if msg[1] == "1" and msg[3] == "phx_reply":
            assert msg[4]["status"] == "ok", msg
            return


# -- garbage -------------------------------------------------------------------------------


def garbage_flooder(url: str, seconds: float, out: Any) -> None:
    """In its own process: one-byte invalid frames as fast as possible, reconnecting."""

    async def run() -> tuple[int, int]:
        sent = closed = 0
        end = time.monotonic() + seconds
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < end:
                try:
                    async with http.ws_connect(url) as ws:
                        while time.monotonic() < end and not ws.closed:
                            await ws.send_str("x")
                            sent += 1
                        if ws.closed:
                            closed += 1
                except (aiohttp.ClientError, ConnectionError):
                    closed += 1
        return sent, closed

    out.put(asyncio.run(run()))


async def health_latencies(http: aiohttp.ClientSession, node: Node, seconds: float
                           ) -> list[float]:
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        async with http.get(f"{node.base}/health") as resp:
            await resp.read()
        times.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.02)
    return times


async def chat_delivery(http: aiohttp.ClientSession, node: Node, poster_token: str,
                        seconds: float) -> float:
    """The share of the poster's messages that reached the 20 readers."""
    readers = [await http.ws_connect(node.ws) for _ in range(20)]
    for ws in readers:
        await join(ws, "room:lobby")
    poster = await http.ws_connect(f"{node.ws}&token={poster_token}")
    await join(poster, "room:lobby")
    got = [0] * len(readers)

    async def read(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if '"new_message"' in msg.data:
                got[i] += 1

    tasks = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(readers)]
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sent += 1
        await poster.send_str(frame("1", str(sent + 1), "room:lobby", "new_message",
                                    {"body": f"m{sent}"}))
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)  # let the last ones arrive
    for ws in [*readers, poster]:
        await ws.close()
    for task in tasks:
        task.cancel()
    return sum(got) / (sent * len(readers)) if sent else 0.0


async def garbage(node: Node, seconds: float) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        poster = await token(http, node, "poster@example.com")
        idle = await health_latencies(http, node, 2.0)
        log_before = node.log.stat().st_size
        out: Any = multiprocessing.Queue()
        flooder = multiprocessing.Process(target=garbage_flooder,
                                          args=(node.ws, seconds, out))
        flooder.start()
        busy, delivered = await asyncio.gather(
            health_latencies(http, node, seconds),
            chat_delivery(http, node, poster, seconds))
        sent, closed = out.get()
        flooder.join()
        return {
            "health_idle_p50_ms": statistics.median(idle),
            "health_flood_p50_ms": statistics.median(busy),
            "health_flood_p99_ms": sorted(busy)[int(len(busy) * 0.99)],
            "delivered": delivered,
            "log_bytes": node.log.stat().st_size - log_before,
            "garbage_frames_sent": sent,
            "flooder_closed": closed,
        }


# -- posting -------------------------------------------------------------------------------


async def posting(node: Node, seconds: float) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        flood_token = await token(http, node, "flood@example.com")
        ws = await http.ws_connect(f"{node.ws}&token={flood_token}")
        await join(ws, "room:lobby")
        rss_before = node.rss_kb()
        replies = {"ok": 0, "rate_limited": 0, "other": 0}

        async def read() -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if data[3] == "phx_reply" and data[1] not in (None, "1"):
                    status = data[4]["status"]
                    if status == "ok":
                        replies["ok"] += 1
                    elif data[4]["response"].get("reason") == "rate_limited":
                        replies["rate_limited"] += 1
                    else:
                        replies["other"] += 1

        reader = asyncio.create_task(read())
        peak = rss_before
        sent = 0
        end = time.monotonic() + seconds
        next_sample = 0.0
        while time.monotonic() < end:
            sent += 1
            # Sends complete as the kernel takes them: the server's reading paces this loop.
            try:
                await ws.send_str(frame("1", str(sent + 1), "room:lobby", "new_message",
                                        {"body": f"flood {sent}"}))
            except ConnectionError:
                break
            if time.monotonic() > next_sample:
                peak = max(peak, node.rss_kb())
                next_sample = time.monotonic() + 0.25
        close_code = ws.close_code
        await ws.close()
        reader.cancel()
        closed_at = node.rows()
        peak = max(peak, node.rss_kb())
        await asyncio.sleep(5.0)
        return {
            "sent": sent,
            "closed_by_server": close_code,
            "replies_ok": replies["ok"],
            "replies_rate_limited": replies["rate_limited"],
            "rss_before_mb": rss_before / 1024,
            "rss_peak_mb": peak / 1024,
            "rows_after_disconnect_5s": node.rows() - closed_at,
        }


LOGIN_USERS = ("guessed@example.com", "raced@example.com", "burst@example.com",
               "neighbour@example.com")


async def logins(node: Node, seconds: float) -> dict[str, Any]:
    del seconds  # each part runs to its end

    def at(address: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            local_addr=(address, 0), limit=0))

    async def login(http: aiohttp.ClientSession, email: str, password: str) -> int:
        async with http.post(f"{node.base}/api/v1/auth/token",
                             json={"email": email, "password": password}) as resp:
            await resp.read()
            return resp.status

    async def timed_login(http: aiohttp.ClientSession) -> tuple[int, float]:
        t0 = time.perf_counter()
        status = await login(http, "neighbour@example.com", PASSWORD)
        return status, (time.perf_counter() - t0) * 1000

    def counts(statuses: list[int]) -> dict[str, int]:
        return {str(code): statuses.count(code) for code in sorted(set(statuses))}

    out: dict[str, Any] = {}
    async with at("127.0.0.6") as neighbour:
        idle = [await timed_login(neighbour) for _ in range(3)]
        out["neighbour_login_idle_ms"] = statistics.median(ms for _, ms in idle)
    async with at("127.0.0.2") as guesser:
        out["forty_guesses"] = counts(list(await asyncio.gather(
            *(login(guesser, "guessed@example.com", f"guess {i}") for i in range(40)))))
    async with at("127.0.0.3") as guesser:
        *wrong, right = await asyncio.gather(
            *(login(guesser, "raced@example.com", f"guess {i}") for i in range(30)),
            login(guesser, "raced@example.com", PASSWORD))
        out["thirty_guesses_and_the_password"] = {"guesses": counts(wrong), "password": right}
    async with at("127.0.0.4") as guesser, at("127.0.0.5") as neighbour:
        t0 = time.perf_counter()
        burst = asyncio.gather(
            *(login(guesser, "burst@example.com", f"guess {i}") for i in range(200)))
        status, ms = await timed_login(neighbour)
        statuses = list(await burst)
        out["burst_of_200"] = {"guesses": counts(statuses),
                               "burst_ms": (time.perf_counter() - t0) * 1000,
                               "neighbour_status": status, "neighbour_login_ms": ms}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout whose node runs (default: this one)")
    parser.add_argument("--only", nargs="*", choices=("garbage", "posting", "logins"),
                        help="run only these scenarios")
    args = parser.parse_args()
    results: dict[str, Any] = {"tree": str(args.tree)}
    scenarios = (("garbage", garbage, {}), ("posting", posting, {}),
                 ("logins", logins, {"cost": 12, "pool": 2}))
    for name, scenario, shipped in scenarios:
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            node = Node(Path(tmp), args.tree.resolve(), **shipped)
            for email in ("poster@example.com", "flood@example.com", *LOGIN_USERS):
                node.hearth("users", "create", "--email", email, "--role", "user",
                            stdin=PASSWORD + "\n")
            node.start()
            try:
                results[name] = asyncio.run(scenario(node, args.seconds))
            finally:
                node.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
