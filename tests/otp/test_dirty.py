"""Dirty work: blocking calls on pykka threads, and pykka actors in the supervision tree."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import bcrypt
import pykka
import pytest

import otp
from otp import (
    From,
    GenServer,
    NoProcess,
    Pid,
    PykkaChild,
    Reply,
    Supervisor,
    dirty_pool_spec,
    run_dirty,
)

from ._mailbox import WAIT, down_of, expect, stop_tree


@asynccontextmanager
async def dirty_pool(size: int, name: str) -> AsyncIterator[Pid]:
    """A dirty pool started by the test (its parent), shut down at the end so the worker
    threads stop."""
    pid = await dirty_pool_spec(size, name=name).start()
    assert pid is not None
    try:
        yield pid
    finally:
        await stop_tree(pid)


class Pong(GenServer):
    def handle_call(self, request: Any, from_: From, state: Any) -> Any:
        return Reply("pong", state)


def blocking_job(me: Pid, loop: asyncio.AbstractEventLoop, release: threading.Event) -> str:
    """Tell ``me`` the job started, then block this thread until ``release`` is set."""
    loop.call_soon_threadsafe(otp.send, me, ("job started", threading.get_ident()))
    return "released" if release.wait(WAIT) else "never released"


async def test_the_loop_keeps_serving_calls_while_a_dirty_job_blocks() -> None:
    async with dirty_pool(1, "dirty_loop"):
        server = await Pong.start()
        release = threading.Event()
        loop = asyncio.get_running_loop()
        job = asyncio.ensure_future(
            run_dirty(blocking_job, otp.self(), loop, release, pool="dirty_loop")
        )
        _, thread = await expect(lambda m: m[0] == "job started")

        assert await otp.call(server, "ping") == "pong"
        assert not job.done()
        assert thread != threading.get_ident()

        release.set()
        assert await job == "released"


async def test_jobs_run_in_parallel_on_the_workers_of_a_pool() -> None:
    async with dirty_pool(2, "dirty_pair"):
        release = threading.Event()
        loop, me = asyncio.get_running_loop(), otp.self()
        jobs = [
            asyncio.ensure_future(run_dirty(blocking_job, me, loop, release, pool="dirty_pair"))
            for _ in range(2)
        ]

        started = [await expect(lambda m: m[0] == "job started") for _ in jobs]

        assert len({thread for _, thread in started}) == 2
        release.set()
        assert await asyncio.gather(*jobs) == ["released", "released"]


async def test_run_dirty_returns_the_result_of_a_cpu_heavy_call() -> None:
    async with dirty_pool(1, "dirty_bcrypt"):
        hashed = await run_dirty(bcrypt.hashpw, b"secret", bcrypt.gensalt(4), pool="dirty_bcrypt")

        assert await run_dirty(bcrypt.checkpw, b"secret", hashed, pool="dirty_bcrypt")
        assert not await run_dirty(bcrypt.checkpw, b"wrong", hashed, pool="dirty_bcrypt")


async def test_an_exception_in_the_job_is_the_callers_and_the_worker_lives_on() -> None:
    async with dirty_pool(1, "dirty_err"):
        worker = otp.whereis("dirty_err.0")
        assert worker is not None

        with pytest.raises(ValueError):
            await run_dirty(int, "not a number", pool="dirty_err")

        assert otp.whereis("dirty_err.0") is worker
        assert await run_dirty(len, "abc", pool="dirty_err") == 3


async def test_run_dirty_on_a_pool_that_is_not_running_raises_no_process() -> None:
    with pytest.raises(NoProcess):
        await run_dirty(len, "abc", pool="no_such_pool")


async def test_shutting_the_pool_down_stops_the_worker_threads() -> None:
    pool = await dirty_pool_spec(1, name="dirty_stop").start()
    assert pool is not None
    info = otp.process_info("dirty_stop.0")
    assert info is not None
    actor = pykka.ActorRegistry.get_by_urn(info["actor_urn"])
    assert actor is not None and actor.is_alive()

    assert await stop_tree(pool) == "shutdown"

    assert not actor.is_alive()
    assert pykka.ActorRegistry.get_by_urn(info["actor_urn"]) is None


# -- pykka actors under a supervisor ----------------------------------------------------------


class Fragile(pykka.ThreadingActor):
    """Crashes on ``"crash"``; told, not asked, so the failure is the actor's own."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("actor crashed")
        return message


async def test_a_crash_in_a_pykka_actor_restarts_its_child() -> None:
    spec = PykkaChild.child_spec(Fragile, id="fragile", name="fragile", shutdown=WAIT)
    sup = await Supervisor.start_link([spec])
    assert sup is not None
    try:
        old = otp.whereis("fragile")
        assert old is not None
        old_info = otp.process_info(old)
        assert old_info is not None and old_info["behaviour"] == "pykka:Fragile"
        old_actor = pykka.ActorRegistry.get_by_urn(old_info["actor_urn"])
        assert old_actor is not None
        ref = otp.monitor(old)

        old_actor.tell("crash")

        reason = await down_of(ref)
        assert isinstance(reason, RuntimeError) and str(reason) == "actor crashed"
        (child,) = await Supervisor.which_children(sup)
        assert child.id == "fragile" and child.pid is not None and child.pid is not old
        new_info = otp.process_info(child.pid)
        assert new_info is not None and new_info["restarts"] == 1
        new_actor = pykka.ActorRegistry.get_by_urn(new_info["actor_urn"])
        assert new_actor is not None and new_actor.is_alive()
        assert not old_actor.is_alive()
    finally:
        await stop_tree(sup)


async def test_a_killed_worker_fails_its_callers_at_once_and_its_thread_ends() -> None:
    before = {t.ident for t in threading.enumerate()}
    async with dirty_pool(1, "dirty_kill") as pool:
        (row,) = await Supervisor.which_children(pool)
        assert row.pid is not None
        release = threading.Event()
        job = asyncio.ensure_future(run_dirty(blocking_job, otp.self(),
                                              asyncio.get_running_loop(), release,
                                              pool="dirty_kill"))
        _, thread_id = await expect(lambda m: m[0] == "job started")

        otp.exit(row.pid, "kill")
        with pytest.raises(otp.ProcessExited):
            await asyncio.wait_for(job, WAIT)
        release.set()  # the job ends; its thread then takes the stop it was told
        old = next(t for t in threading.enumerate() if t.ident == thread_id)
        await asyncio.get_running_loop().run_in_executor(None, old.join, WAIT)

        assert not old.is_alive()
        (again,) = await Supervisor.which_children(pool)
        assert again.pid is not None and again.pid != row.pid
        assert await run_dirty(sum, [1, 2], pool="dirty_kill") == 3
    lingering = {t.ident for t in threading.enumerate()} - before
    assert thread_id not in lingering


async def test_a_killed_pool_is_restarted_while_its_old_workers_are_busy() -> None:
    otp.trap_exit(True)
    root = await Supervisor.start_link([dirty_pool_spec(1, name="dirty_root")])
    release = threading.Event()
    job = asyncio.ensure_future(run_dirty(blocking_job, otp.self(),
                                          asyncio.get_running_loop(), release,
                                          pool="dirty_root"))
    await expect(lambda m: m[0] == "job started")
    old = otp.whereis("dirty_root")
    assert old is not None

    otp.exit(old, "kill")
    (row,) = await Supervisor.which_children(root)  # answered once the restart is done

    assert row.pid is not None and row.pid != old
    with pytest.raises(otp.ProcessExited):
        await asyncio.wait_for(job, WAIT)
    assert await run_dirty(sum, [2, 3], pool="dirty_root") == 5
    release.set()
    await stop_tree(root)
