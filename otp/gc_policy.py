"""Garbage-collector policy for a long-running node: short collector pauses however much it holds.

CPython frees most objects by reference counting; its cyclic collector runs now and then, and
while it runs nothing else does. A full (generation 2) collection visits every tracked object,
so a node holding 20,000 connections (about 95 tracked objects each) stopped serving for
0.9-1.6 s at every full collection. :func:`apply_gc_policy` changes four things:

1. **Freeze at start.** Once the tree is up, one collection, then ``gc.freeze()``: the
   modules, the supervisors and the endpoint live for the node's life, and the collector
   never visits them again.
2. **Freeze what outgrew a pause.** A full collection that took longer than
   ``freeze_after_ms`` freezes what survived it, so the next full collection visits only what
   arrived since. While the heap is not growing (a steady number of connections) full
   collections stay short and nothing more is frozen.
3. **Thresholds** (``gc.set_threshold``). A young collection visits the objects that arrived
   since the last one, and during a burst of connections nearly all of them survive, so the
   thresholds bound how much one collection can meet: generation 0 holds about
   ``threshold0`` objects, generation 1 about ``threshold0 * (threshold1 + 1)``, and a full
   collection about ``threshold2 + 1`` of those since the last freeze. The default
   ``threshold2`` of 0 makes every middle collection a full one, so a full collection meets
   about 12,000 objects plus what the last one left unfrozen: measured at 18,772
   connections, about 1 ms per 10,000 objects, and a freeze once it passes 2 ms.
4. **A collection tick** (``tick_ms``). CPython starts a young collection when the tracked
   objects allocated *less those freed* pass ``threshold0``, so a node that frees old objects
   as fast as it makes new ones (connections closing while others open: the ones closing
   were frozen long ago) never starts one, and its youngest generation grows by every object
   that arrives: 90,000 of them, and a collection's pause of 120 ms, in one churn of 1,000
   connections at 18,772 held. CPython also starts a full collection only once a quarter of
   the last one's survivors, the ones since frozen included, have been promoted. A timer on
   the event loop runs, every ``tick_ms``, the collection the generations' counts call for
   (the oldest whose count passed its threshold, else the youngest), so no generation holds
   more than a tick's arrivals.

The price of freezing: a reference cycle among frozen objects is never collected (reference
counting still frees every frozen object not in a cycle). So what a connection leaves behind
must not be a cycle; ``web.sockets`` breaks the one aiohttp makes when a client goes away, and
a test checks that closed connections leave no garbage among the frozen objects.
``gc.get_freeze_count()`` says how many objects are frozen; it walks them all (milliseconds
at a few hundred thousand), which is why :func:`gc_stats`, read by every ``/health``, does not
report it.

Every collection's pause is measured (``gc.callbacks``) into a histogram per generation,
whichever policy is in force: :func:`gc_stats`, shown by ``node_info()`` and the admin stats.
The histogram is wall-clock time, what a waiting client sees, which counts the time the
operating system gave the core to another process mid-collection; the longest pause is
also given in the thread's CPU time, the collector's own share.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["GcPolicy", "apply_gc_policy", "gc_stats", "remove_gc_policy"]

BUCKETS_MS = (1.0, 5.0, 10.0, 50.0, 100.0)
"""Upper edges of the pause histogram's buckets, in milliseconds (the last bucket is open)."""
BUCKET_NAMES = ("<1ms", "1-5ms", "5-10ms", "10-50ms", "50-100ms", ">=100ms")
_EDGES_NS = tuple(int(ms * 1e6) for ms in BUCKETS_MS)


@dataclass(frozen=True)
class GcPolicy:
    """How the node runs the cyclic collector; ``apply_gc_policy`` puts it in force.

    ``freeze``: freeze what lives at start, and what survived a full collection longer than
    ``freeze_after_ms``. ``thresholds``: ``gc.set_threshold``'s three, or ``None`` to keep
    the interpreter's. ``tick_ms``: how often the event loop runs the collection the
    generations' counts call for (0: never; only with a running loop).
    """

    freeze: bool = True
    freeze_after_ms: float = 2.0
    thresholds: tuple[int, int, int] | None = (2_000, 5, 0)
    tick_ms: float = 50.0

    def __post_init__(self) -> None:
        if self.freeze_after_ms < 0:
            raise ValueError(f"freeze_after_ms must be >= 0, not {self.freeze_after_ms!r}")
        if self.tick_ms < 0:
            raise ValueError(f"tick_ms must be >= 0 (0: no tick), not {self.tick_ms!r}")
        if self.thresholds is not None and (
            len(self.thresholds) != 3 or self.thresholds[0] < 1 or min(self.thresholds) < 0
        ):
            raise ValueError(f"thresholds must be three counts, the first >= 1, "
                             f"not {self.thresholds!r}")


class _Recorder:
    """The ``gc.callbacks`` hook: times each collection and freezes after a long full one."""

    __slots__ = ("counts", "cpu_started", "freeze_after_ns", "frozen_times", "longest_cpu_ns",
                 "longest_ns", "started", "total_ns")

    def __init__(self, freeze_after_ns: int | None) -> None:
        self.freeze_after_ns = freeze_after_ns
        self.started = 0
        self.cpu_started = 0
        self.frozen_times = 0
        self.reset()

    def reset(self) -> None:
        self.counts = [[0] * len(BUCKET_NAMES) for _ in range(3)]
        self.longest_ns = [0, 0, 0]
        self.longest_cpu_ns = [0, 0, 0]
        self.total_ns = [0, 0, 0]
        self.frozen_times = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.cpu_started = time.thread_time_ns()
            self.started = time.perf_counter_ns()
            return
        ns = time.perf_counter_ns() - self.started
        cpu_ns = time.thread_time_ns() - self.cpu_started
        gen = info["generation"]
        self.counts[gen][bisect.bisect_right(_EDGES_NS, ns)] += 1
        self.total_ns[gen] += ns
        if ns > self.longest_ns[gen]:
            self.longest_ns[gen] = ns
        if cpu_ns > self.longest_cpu_ns[gen]:
            self.longest_cpu_ns[gen] = cpu_ns
        if gen == 2 and self.freeze_after_ns is not None and ns > self.freeze_after_ns:
            # The collection is over (this is its "stop"): its survivors are all in
            # generation 2, and freezing them is a list splice, not a walk.
            gc.freeze()
            self.frozen_times += 1


class _Tick:
    """The collection tick: every ``interval`` seconds on the loop, the collection the
    generations' counts call for."""

    __slots__ = ("handle", "interval", "loop", "ticks")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.ticks = 0
        self.handle: asyncio.TimerHandle | None = loop.call_later(interval, self)

    def __call__(self) -> None:
        self.ticks += 1
        _, count1, count2 = gc.get_count()
        _, threshold1, threshold2 = gc.get_threshold()
        if count2 > threshold2:
            gc.collect(2)
        elif count1 > threshold1:
            gc.collect(1)
        else:
            gc.collect(0)
        self.handle = self.loop.call_later(self.interval, self)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class _State:
    recorder: _Recorder | None = None
    tick: _Tick | None = None
    saved_thresholds: tuple[int, int, int] | None = None


def apply_gc_policy(policy: GcPolicy) -> None:
    """Put ``policy`` in force now (the node calls this once its tree is up); replaces any
    policy applied before, and starts a fresh pause histogram. The tick runs on the running
    event loop; called with none, there is no tick."""
    remove_gc_policy(unfreeze=False)
    if policy.thresholds is not None:
        _State.saved_thresholds = gc.get_threshold()
        gc.set_threshold(*policy.thresholds)
    if policy.freeze:
        # What is garbage already is collected now rather than frozen for good.
        gc.collect()
        gc.freeze()
    recorder = _Recorder(int(policy.freeze_after_ms * 1e6) if policy.freeze else None)
    _State.recorder = recorder
    gc.callbacks.append(recorder)
    if policy.tick_ms > 0:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            _State.tick = _Tick(loop, policy.tick_ms / 1000)


def remove_gc_policy(unfreeze: bool = True) -> None:
    """Undo :func:`apply_gc_policy`: the interpreter's thresholds back, no more pauses
    recorded, and (``unfreeze``) every frozen object back under the collector."""
    recorder = _State.recorder
    if recorder is not None:
        gc.callbacks.remove(recorder)
        _State.recorder = None
    if _State.tick is not None:
        _State.tick.cancel()
        _State.tick = None
    if _State.saved_thresholds is not None:
        gc.set_threshold(*_State.saved_thresholds)
        _State.saved_thresholds = None
    if unfreeze:
        gc.unfreeze()


def gc_stats(reset: bool = False) -> dict[str, Any]:
    """The collector's pauses since the policy was applied (or last ``reset``): per
    generation, a histogram over ``BUCKET_NAMES``, the longest and the total in ms; and how
    often survivors were frozen. Cheap: it walks nothing."""
    recorder = _State.recorder
    out: dict[str, Any] = {
        "policy": recorder is not None,
        "thresholds": list(gc.get_threshold()),
    }
    if recorder is None:
        return out
    out["freezes"] = recorder.frozen_times
    out["ticks"] = _State.tick.ticks if _State.tick is not None else 0
    out["generations"] = {
        str(gen): {
            "pauses": dict(zip(BUCKET_NAMES, recorder.counts[gen], strict=True)),
            "longest_ms": round(recorder.longest_ns[gen] / 1e6, 3),
            "longest_cpu_ms": round(recorder.longest_cpu_ns[gen] / 1e6, 3),
            "total_ms": round(recorder.total_ns[gen] / 1e6, 3),
        }
        for gen in range(3)
    }
    out["longest_ms"] = round(max(recorder.longest_ns) / 1e6, 3)
    out["longest_cpu_ms"] = round(max(recorder.longest_cpu_ns) / 1e6, 3)
    if reset:
        recorder.reset()
    return out
