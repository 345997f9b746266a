"""Actor runtime benchmark: Hearth's processes beside a plain asyncio actor and pykka.

Run: ``.venv/bin/python bench/actors.py`` (``--quick`` for a smaller run). Everything is
measured in this one run, on the same machine and event loop (uvloop), so the ratios mean
something on a noisy box. Memory figures come from fresh subprocesses (resident set growth
divided by the number of idle actors). The last line is one machine-readable summary.

The floor ("asyncio") is the smallest honest actor: one task awaiting one ``asyncio.Queue``,
a call being a future put on the queue. pykka is ``ThreadingActor`` with ``ask``/``tell``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pykka
import uvloop

import otp
from otp import GenServer, NoReply, Ok, PubSub, Reply, gen_server

# -- the three actors -------------------------------------------------------------------------


class Idle(GenServer):
    __slots__ = ()

    def init(self, state: Any = None) -> Any:
        return Ok(state)

    def handle_call(self, request: Any, from_: Any, state: Any) -> Any:
        return Reply(request, state)

    def handle_cast(self, request: Any, state: Any) -> Any:
        return NoReply(state + 1)

    def handle_info(self, msg: Any, state: Any) -> Any:
        state.hit()
        return NoReply(state)


class QueueActor:
    """The floor: a task reading a queue; a call is a (message, future) pair."""

    __slots__ = ("queue", "state", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.state = 0
        self.task = loop.create_task(self._loop())

    async def _loop(self) -> None:
        queue = self.queue
        while True:
            kind, msg, fut = await queue.get()
            if kind == 0:
                fut.set_result(msg)
            elif kind == 1:
                self.state += 1
            else:
                msg.hit()

    async def call(self, msg: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((0, msg, fut))
        return await fut

    def cast(self, msg: Any) -> None:
        self.queue.put_nowait((1, msg, None))


class PykkaActor(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.state = 0

    def on_receive(self, message: Any) -> Any:
        if message == "cast":
            self.state += 1
            return None
        if isinstance(message, Counter):
            message.hit_threadsafe()
            return None
        return message


class Counter:
    """Counts deliveries; resolves ``done`` at ``target``."""

    def __init__(self, target: int, loop: asyncio.AbstractEventLoop) -> None:
        self.left = target
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()

    def hit(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set_result(None)

    def hit_threadsafe(self) -> None:
        self.loop.call_soon_threadsafe(self.hit)


# -- measurements ------------------------------------------------------------------------------


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def spawn_rate(kind: str, n: int) -> float:
    loop = asyncio.get_running_loop()
    gc.collect()
    t0 = time.perf_counter()
    if kind == "hearth":
        for _ in range(n):
            await Idle.start(0)
    elif kind == "asyncio":
        actors = [QueueActor(loop) for _ in range(n)]
        await asyncio.sleep(0)  # let every task reach its first await, as a started actor has
    else:
        refs = [PykkaActor.start() for _ in range(n)]
    dt = time.perf_counter() - t0
    if kind == "asyncio":
        for a in actors:
            a.task.cancel()
    elif kind == "pykka":
        for r in refs:
            r.stop(block=False)
    else:
        for pid in otp.processes():
            otp.exit(pid, "kill")
    return n / dt


async def call_rtt_us(kind: str, n: int) -> float:
    loop = asyncio.get_running_loop()
    if kind == "hearth-queued":
        # Every call through the mailbox and a loop iteration, as when the server is busy:
        # no direct handoff.
        saved = gen_server.HANDOFFS
        gen_server.HANDOFFS = gen_server._handoffs = 1
        try:
            return await call_rtt_us("hearth", n)
        finally:
            gen_server.HANDOFFS = gen_server._handoffs = saved
    if kind == "hearth":
        pid = await Idle.start(0)
        for _ in range(1000):
            await otp.call(pid, 1)
        t0 = time.perf_counter()
        for i in range(n):
            await otp.call(pid, i)
        dt = time.perf_counter() - t0
        otp.exit(pid, "kill")
    elif kind == "asyncio":
        actor = QueueActor(loop)
        for _ in range(1000):
            await actor.call(1)
        t0 = time.perf_counter()
        for i in range(n):
            await actor.call(i)
        dt = time.perf_counter() - t0
        actor.task.cancel()
    else:
        ref = PykkaActor.start()
        for _ in range(200):
            ref.ask(1)
        t0 = time.perf_counter()
        for i in range(n):
            ref.ask(i)
        dt = time.perf_counter() - t0
        ref.stop()
    return dt / n * 1e6


async def cast_rate(kind: str, n: int) -> float:
    loop = asyncio.get_running_loop()
    if kind == "hearth":
        pid = await Idle.start(0)
        t0 = time.perf_counter()
        for _ in range(n):
            otp.cast(pid, 1)
        await otp.call(pid, "sync", timeout=None)
        dt = time.perf_counter() - t0
        otp.exit(pid, "kill")
    elif kind == "asyncio":
        actor = QueueActor(loop)
        t0 = time.perf_counter()
        for _ in range(n):
            actor.cast(1)
        await actor.call("sync")
        dt = time.perf_counter() - t0
        actor.task.cancel()
    else:
        ref = PykkaActor.start()
        t0 = time.perf_counter()
        for _ in range(n):
            ref.tell("cast")
        ref.ask("sync")
        dt = time.perf_counter() - t0
        ref.stop()
    return n / dt


async def fanout_rate(kind: str, subscribers: int, rounds: int) -> float:
    """Deliveries per second: ``rounds`` broadcasts to ``subscribers``, all handled."""
    loop = asyncio.get_running_loop()
    counter = Counter(subscribers * rounds, loop)
    if kind == "hearth":
        ps = await PubSub.start(name="bench.pubsub")

        class Sub(GenServer):
            __slots__ = ()

            def init(self, c: Counter) -> Any:
                PubSub.subscribe("bench.pubsub", "topic")
                return Ok(c)

            def handle_info(self, msg: Any, state: Counter) -> Any:
                state.hit()
                return NoReply(state)

        for _ in range(subscribers):
            await Sub.start(counter)
        t0 = time.perf_counter()
        for i in range(rounds):
            PubSub.broadcast("bench.pubsub", "topic", i)
        await counter.done
        dt = time.perf_counter() - t0
        for pid in otp.processes():
            otp.exit(pid, "kill")
        assert ps is not None
    elif kind == "asyncio":
        actors = [QueueActor(loop) for _ in range(subscribers)]
        await asyncio.sleep(0)
        t0 = time.perf_counter()
        for _ in range(rounds):
            for a in actors:
                a.queue.put_nowait((2, counter, None))
        await counter.done
        dt = time.perf_counter() - t0
        for a in actors:
            a.task.cancel()
    else:
        refs = [PykkaActor.start() for _ in range(subscribers)]
        t0 = time.perf_counter()
        for _ in range(rounds):
            for r in refs:
                r.tell(counter)
        await counter.done
        dt = time.perf_counter() - t0
        for r in refs:
            r.stop(block=False)
    return subscribers * rounds / dt


async def idle_memory(kind: str, n: int) -> dict[str, float]:
    """Resident growth per idle actor (run in a fresh process)."""
    loop = asyncio.get_running_loop()
    keep: list[Any] = []
    # Warm up allocators and code paths so the baseline is not flattered.
    if kind == "hearth":
        for _ in range(1000):
            await Idle.start(0)
    gc.collect()
    before = rss_kb()
    t0 = time.perf_counter()
    if kind == "hearth":
        for _ in range(n):
            await Idle.start(0)
    elif kind == "asyncio":
        keep = [QueueActor(loop) for _ in range(n)]
        await asyncio.sleep(0)
    else:
        keep = [PykkaActor.start() for _ in range(n)]
    spawn_s = time.perf_counter() - t0
    gc.collect()
    after = rss_kb()
    if kind == "hearth":
        # Every one of them is still alive and answers.
        pids = otp.processes()
        assert len(pids) >= n
        assert await otp.call(pids[-1], "ping") == "ping"
    elif kind == "pykka":
        for r in keep:
            r.stop(block=False)
    return {
        "kb_per_actor": (after - before) / n,
        "rss_mb": after / 1024,
        "spawn_per_s": n / spawn_s,
    }


def in_subprocess(kind: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory", kind, str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


# -- report -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke run)")
    parser.add_argument("--memory", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        kind, n = args.memory[0], int(args.memory[1])
        print(json.dumps(uvloop.run(idle_memory(kind, n))))
        return

    q = args.quick
    spawn_n = 20_000 if q else 100_000
    calls = 20_000 if q else 50_000
    casts = 50_000 if q else 200_000
    subs = 2_000 if q else 10_000
    pykka_n = 200 if q else 1_000
    idle_n = 20_000 if q else 100_000
    million = 100_000 if q else 1_000_000
    repeats = 2 if q else 5

    async def speed() -> dict[str, Any]:
        # Kinds are interleaved and each figure is the best of ``repeats`` rounds, so a
        # burst of noise on the machine hits every kind alike and is then discarded.
        r: dict[str, Any] = {}

        def best(key: str, value: float, lower_is_better: bool = False) -> None:
            old = r.get(key)
            if old is None or (value < old if lower_is_better else value > old):
                r[key] = value

        async def settle() -> None:
            # Let cancelled actors finish and collect garbage before the next figure.
            for _ in range(3):
                await asyncio.sleep(0)
            gc.collect()

        kinds = ("hearth", "asyncio", "pykka")
        for _ in range(repeats):
            for kind in (*kinds, "hearth-queued"):
                n = calls // 10 if kind == "pykka" else calls
                best(f"call_rtt_us.{kind}", await call_rtt_us(kind, n), True)
                await settle()
        for _ in range(repeats):
            for kind in kinds:
                n = casts // 10 if kind == "pykka" else casts
                best(f"cast_per_s.{kind}", await cast_rate(kind, n))
                await settle()
        for _ in range(repeats):
            for kind in kinds:
                n = pykka_n if kind == "pykka" else subs
                best(f"fanout_per_s.{kind}", await fanout_rate(kind, n, 10))
                await settle()
        for _ in range(repeats):
            for kind in kinds:
                n = pykka_n if kind == "pykka" else spawn_n
                best(f"spawn_per_s.{kind}", await spawn_rate(kind, n))
                await settle()
        return r

    r = uvloop.run(speed())
    for kind, n in (("hearth", idle_n), ("asyncio", idle_n), ("pykka", pykka_n)):
        mem = in_subprocess(kind, n)
        r[f"kb_per_actor.{kind}"] = mem["kb_per_actor"]
    big = in_subprocess("hearth", million)
    r["million_rss_mb"] = big["rss_mb"]
    r["million_count"] = million

    rows = [
        ("spawn rate (/s)", "spawn_per_s", "{:,.0f}"),
        ("call round trip (us)", "call_rtt_us", "{:.2f}"),
        ("cast throughput (/s)", "cast_per_s", "{:,.0f}"),
        (f"pubsub fan-out deliveries (/s; {subs} subs, pykka {pykka_n})", "fanout_per_s",
         "{:,.0f}"),
        (f"memory per idle actor (KB; {idle_n}, pykka {pykka_n})", "kb_per_actor", "{:.2f}"),
    ]
    print(f"{'figure':<58}{'hearth':>14}{'asyncio':>14}{'pykka':>14}")
    for label, key, fmt in rows:
        cells = "".join(f"{fmt.format(r[f'{key}.{kind}']):>14}" for kind in
                        ("hearth", "asyncio", "pykka"))
        print(f"{label:<58}{cells}")
    print(f"call round trip through the mailbox (server busy, no direct handoff): "
          f"{r['call_rtt_us.hearth-queued']:.2f} us")
    print(f"RSS of {million:,} idle hearth processes: {r['million_rss_mb']:.0f} MB")

    rtt = r["call_rtt_us.hearth"]
    queued = r["call_rtt_us.hearth-queued"]
    summary = (
        f"actors: call_rtt_vs_asyncio={rtt / r['call_rtt_us.asyncio']:.2f}x "
        f"call_rtt_vs_pykka={rtt / r['call_rtt_us.pykka']:.3f}x "
        f"queued_call_rtt_vs_asyncio={queued / r['call_rtt_us.asyncio']:.2f}x "
        f"cast_vs_asyncio={r['cast_per_s.hearth'] / r['cast_per_s.asyncio']:.2f}x "
        f"fanout_vs_asyncio={r['fanout_per_s.hearth'] / r['fanout_per_s.asyncio']:.2f}x "
        f"spawn_per_s={r['spawn_per_s.hearth']:.0f} "
        f"kb_per_process={r['kb_per_actor.hearth']:.2f} "
        f"million_rss_mb={r['million_rss_mb']:.0f}"
    )
    print(summary)


if __name__ == "__main__":
    main()
