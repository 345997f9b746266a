"""Property tests: random child exits against a reference model of OTP's restart rules.

The model knows the strategy, each child's restart type, the reasons that count as a
clean exit and the restart intensity; it predicts, after every exit, which children run,
which were restarted (new pid), which specs remain and whether the supervisor gives up.
Hypothesis drives random sequences of exits (and of starts that fail in ``init``) through a
real supervisor and compares it with the model after each one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import uvloop
from hypothesis import event, given, settings
from hypothesis import strategies as st

import otp
from otp import Pid, Supervisor

from ._supervision import Journal, down_of, make_exit, pids_of, worker

STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
RESTARTS = ("permanent", "transient", "temporary")
# How the test makes a child exit, and the exit reason the supervisor then sees.
HOWS: dict[Any, str] = {
    "crash": "abnormal",  # an exception in a callback
    "kill": "abnormal",  # "killed"
    "other": "abnormal",  # Stop("other")
    "normal": "clean",
    "shutdown": "clean",
    ("shutdown", "bye"): "clean",
}
FAIL_NEXT_START = "fail_next_start"  # not an exit: the child's next start fails in init


# -- the reference model ---------------------------------------------------------------------


@dataclass
class ModelChild:
    id: str
    restart: str
    running: bool = True
    generation: int = 0  # bumped at every (re)start: a new generation is a new pid


@dataclass
class Model:
    """What OTP documents, and nothing more: restart type x reason decides whether the
    exit needs a restart; the strategy decides the group; intensity counts restarts, a
    failed start of a restarted child included (it is tried again)."""

    strategy: str
    max_restarts: int
    children: list[ModelChild] = field(default_factory=list)
    fail_starts: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    alive: bool = True

    def find(self, child_id: str) -> ModelChild | None:
        return next((c for c in self.children if c.id == child_id), None)

    def exit(self, child_id: str, how: Any) -> int:
        """Child ``child_id`` exits; returns how many restarts failed (and were retried)."""
        child = self.find(child_id)
        assert child is not None and child.running
        child.running = False
        clean = HOWS[how] == "clean"
        if child.restart == "temporary" or (child.restart == "transient" and clean):
            if child.restart == "temporary":
                self.children.remove(child)
            return 0
        return self.restart(child)

    def restart(self, failed: ModelChild) -> int:
        retries = 0
        while True:
            self.restarts += 1
            if self.restarts > self.max_restarts:  # every restart falls within max_seconds
                self.alive = False
                for c in self.children:
                    c.running = False
                return retries
            if self.strategy == "one_for_one":
                group = [failed]
            elif self.strategy == "one_for_all":
                group = list(self.children)
            else:
                group = self.children[self.children.index(failed) :]
            for c in group:
                c.running = False  # stopped, in reverse order
                if c is not failed and c.restart == "temporary":
                    self.children.remove(c)  # stopped with the group, never restarted
            for c in group:
                if c not in self.children:
                    continue
                if self.fail_starts.get(c.id, 0) > 0:
                    self.fail_starts[c.id] -= 1
                    failed = c  # the rest of the group stays down until the retry
                    retries += 1
                    break
                c.running = True  # (re)started, even if it had stopped cleanly before
                c.generation += 1
            else:
                return retries


# -- driving a real supervisor ---------------------------------------------------------------


async def check(sup: Pid, model: Model, seen: dict[str, tuple[int, Pid | None]]) -> None:
    """Compare the supervisor with the model; ``seen`` has each child's last generation and
    pid and is updated."""
    real = await pids_of(sup)
    assert list(real) == [c.id for c in model.children]
    for c in model.children:
        pid = real[c.id]
        assert (pid is not None) == c.running, (c, pid)
        last_generation, last_pid = seen.get(c.id, (-1, None))
        if c.running and c.generation == last_generation:
            assert pid is last_pid, (c, pid, last_pid)  # untouched
        elif last_pid is not None:
            assert pid is not last_pid and not otp.is_alive(last_pid), (c, pid, last_pid)
        assert pid is None or otp.is_alive(pid)
        seen[c.id] = (c.generation, pid)


async def run_scenario(
    strategy: str,
    children: list[tuple[str, bool]],
    ops: list[tuple[int, Any]],
    max_restarts: int,
) -> None:
    me = otp.self()
    before = set(otp.processes())
    logging.getLogger("otp").setLevel(logging.CRITICAL)  # hundreds of crash reports
    try:
        otp.trap_exit(True)
        journal = Journal()
        ids = [f"c{i}" for i in range(len(children))]
        model = Model(strategy, max_restarts)
        specs = []
        for child_id, (restart, trap) in zip(ids, children, strict=True):
            specs.append(worker(journal, child_id, restart=restart, trap=trap))
            model.children.append(ModelChild(child_id, restart))
        sup = await Supervisor.start_link(
            specs, strategy=strategy, max_restarts=max_restarts, max_seconds=3600
        )
        assert sup is not None
        sup_ref = otp.monitor(sup)
        seen: dict[str, tuple[int, Pid | None]] = {}
        await check(sup, model, seen)

        for index, how in ops:
            target = model.find(ids[index % len(ids)])
            if how == FAIL_NEXT_START:
                if target is not None:
                    model.fail_starts[target.id] = model.fail_starts.get(target.id, 0) + 1
                    journal.fail_starts[target.id] = journal.fail_starts.get(target.id, 0) + 1
                continue
            if target is None or not target.running:
                continue  # nothing to make exit
            pid = seen[target.id][1]
            assert pid is not None
            await make_exit(pid, how)
            retries = model.exit(target.id, how)
            if retries:
                event("a restart failed and was tried again")
            if not model.alive:
                event("the supervisor gave up")
                assert await down_of(sup_ref) == "shutdown"
                assert not any(otp.is_alive(p) for p in journal.pids.values())
                return
            for _ in range(retries):
                await pids_of(sup)  # each retry is queued behind the previous call
            await check(sup, model, seen)
    finally:
        for pid in otp.processes():
            if pid not in before and pid is not me:
                otp.exit(pid, "kill")
        logging.getLogger("otp").setLevel(logging.NOTSET)


child_specs = st.lists(
    st.tuples(st.sampled_from(RESTARTS), st.booleans()), min_size=1, max_size=5
)
exits = st.tuples(
    st.integers(min_value=0, max_value=4), st.sampled_from([*HOWS, FAIL_NEXT_START])
)


@settings(max_examples=600, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    children=child_specs,
    ops=st.lists(exits, min_size=1, max_size=25),
)
def test_restarts_follow_the_model(
    strategy: str, children: list[tuple[str, bool]], ops: list[tuple[int, Any]]
) -> None:
    uvloop.run(run_scenario(strategy, children, ops, max_restarts=10_000))


@settings(max_examples=300, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    children=child_specs,
    ops=st.lists(exits, min_size=1, max_size=12),
    max_restarts=st.integers(min_value=0, max_value=3),
)
def test_intensity_follows_the_model(
    strategy: str,
    children: list[tuple[str, bool]],
    ops: list[tuple[int, Any]],
    max_restarts: int,
) -> None:
    uvloop.run(run_scenario(strategy, children, ops, max_restarts=max_restarts))
