"""Registry: unique and duplicate keys, lookups, dispatch, and via-names for servers."""

from __future__ import annotations

from typing import Any

import pytest

import otp
from otp import (
    AlreadyRegistered,
    AlreadyStarted,
    Down,
    From,
    GenServer,
    NoProcess,
    NoReply,
    Ok,
    Pid,
    Registry,
    Reply,
    StartError,
    Via,
)

from ._mailbox import down_of, expect


async def start_registry(keys: str, name: str) -> Pid:
    pid = await Registry.start(keys=keys, name=name)
    assert pid is not None
    return pid


async def holder(registry: Any, key: Any, value: Any = None) -> Pid:
    """A process that registers under ``key`` and waits for ``"stop"``."""
    me = otp.self()

    async def body() -> None:
        Registry.register(registry, key, value)
        otp.send(me, ("registered", otp.self()))
        await otp.receive(match=lambda m: m == "stop")

    pid = otp.spawn(body)
    assert await expect(lambda m: m == ("registered", pid))
    return pid


async def stop(pid: Pid) -> None:
    ref = otp.monitor(pid)
    otp.send(pid, "stop")
    await down_of(ref)


class Echo(GenServer):
    def init(self, owner: Pid) -> Any:
        return Ok(owner)

    def handle_call(self, request: Any, from_: From, owner: Pid) -> Any:
        return Reply(("echo", request), owner)

    def handle_cast(self, request: Any, owner: Pid) -> Any:
        otp.send(owner, ("cast", request))
        return NoReply(owner)

    def handle_info(self, msg: Any, owner: Pid) -> Any:
        otp.send(owner, ("info", msg))
        return NoReply(owner)


# -- unique keys ------------------------------------------------------------------------------


async def test_register_and_lookup_with_a_value() -> None:
    await start_registry("unique", "reg")

    Registry.register("reg", "room:1", {"joined": 1})

    assert Registry.lookup("reg", "room:1") == [(otp.self(), {"joined": 1})]
    assert Registry.lookup("reg", "room:2") == []


async def test_a_unique_key_held_by_another_process_raises_already_registered() -> None:
    await start_registry("unique", "reg")
    other = await holder("reg", "k")

    with pytest.raises(AlreadyRegistered) as info:
        Registry.register("reg", "k")

    assert info.value.pid is other and info.value.key == "k"
    assert Registry.lookup("reg", "k") == [(other, None)]


async def test_registering_a_unique_key_again_updates_the_value() -> None:
    await start_registry("unique", "reg")

    Registry.register("reg", "k", 1)
    Registry.register("reg", "k", 2)

    assert Registry.lookup("reg", "k") == [(otp.self(), 2)]
    assert Registry.count("reg") == 1


async def test_unregister_frees_the_key() -> None:
    await start_registry("unique", "reg")
    Registry.register("reg", "k")

    Registry.unregister("reg", "k")

    assert Registry.lookup("reg", "k") == []
    assert Registry.keys("reg", otp.self()) == []
    other = await holder("reg", "k")
    assert Registry.lookup("reg", "k") == [(other, None)]


# -- duplicate keys ---------------------------------------------------------------------------


async def test_duplicate_keys_hold_many_processes() -> None:
    await start_registry("duplicate", "topics")
    a = await holder("topics", "news", "a")
    b = await holder("topics", "news", "b")

    assert sorted(Registry.lookup("topics", "news")) == sorted([(a, "a"), (b, "b")])
    assert Registry.count("topics", "news") == 2


async def test_match_keeps_the_entries_whose_value_satisfies_the_pattern() -> None:
    await start_registry("duplicate", "topics")
    admin = await holder("topics", "chat", {"role": "admin"})
    await holder("topics", "chat", {"role": "guest"})

    admins = Registry.match("topics", "chat", lambda v: v["role"] == "admin")

    assert admins == [(admin, {"role": "admin"})]
    assert Registry.match("topics", "nobody", lambda v: True) == []


async def test_dispatch_calls_the_function_with_every_entry() -> None:
    await start_registry("duplicate", "topics")
    a = await holder("topics", "jobs", 1)
    b = await holder("topics", "jobs", 2)
    seen: list[list[tuple[Pid, Any]]] = []

    assert Registry.dispatch("topics", "jobs", seen.append) is True

    assert len(seen) == 1
    assert sorted(seen[0]) == sorted([(a, 1), (b, 2)])


async def test_dispatch_without_entries_returns_false_and_does_not_call() -> None:
    await start_registry("duplicate", "topics")
    seen: list[Any] = []

    assert Registry.dispatch("topics", "empty", seen.append) is False
    assert seen == []


async def test_count_and_keys() -> None:
    await start_registry("duplicate", "topics")
    Registry.register("topics", "a")
    Registry.register("topics", "b")
    other = await holder("topics", "a")

    assert Registry.count("topics") == 3
    assert Registry.count("topics", "a") == 2
    assert Registry.count("topics", "missing") == 0
    assert Registry.keys("topics", otp.self()) == ["a", "b"]
    assert Registry.keys("topics", other) == ["a"]


# -- entries vanish with their process --------------------------------------------------------


async def test_entries_vanish_when_the_process_exits() -> None:
    await start_registry("duplicate", "topics")
    stays = await holder("topics", "t", "stays")
    goes = await holder("topics", "t", "goes")
    Registry.register("topics", "mine")

    await stop(goes)

    assert Registry.lookup("topics", "t") == [(stays, "stays")]
    assert Registry.keys("topics", goes) == []
    assert Registry.count("topics") == 2


async def test_a_unique_key_is_free_again_after_its_holder_is_killed() -> None:
    await start_registry("unique", "reg")
    first = await holder("reg", "k")
    ref = otp.monitor(first)

    otp.exit(first, "kill")
    await down_of(ref)

    assert Registry.lookup("reg", "k") == []
    Registry.register("reg", "k")
    assert Registry.lookup("reg", "k") == [(otp.self(), None)]


# -- via names --------------------------------------------------------------------------------


async def test_a_via_name_starts_and_addresses_a_server() -> None:
    await start_registry("unique", "reg")
    name = Registry.via("reg", ("user", 7))
    assert isinstance(name, Via)

    pid = await Echo.start(otp.self(), name=name)
    assert pid is not None

    assert Registry.lookup("reg", ("user", 7)) == [(pid, None)]
    assert otp.is_alive(name)
    assert await otp.call(name, "hi") == ("echo", "hi")
    otp.cast(name, "c")
    assert await expect() == ("cast", "c")
    otp.send(name, "s")
    assert await expect() == ("info", "s")

    ref = otp.monitor(name)
    otp.exit(pid, "kill")
    assert await expect() == Down(ref, pid, "killed")


async def test_a_taken_via_name_raises_already_started() -> None:
    await start_registry("unique", "reg")
    name = Via("reg", "singleton")
    first = await Echo.start(otp.self(), name=name)
    before = otp.process_count()

    with pytest.raises(AlreadyStarted) as info:
        await Echo.start(otp.self(), name=name)

    assert info.value.pid is first
    assert otp.process_count() == before


async def test_a_via_name_is_released_when_the_server_exits() -> None:
    await start_registry("unique", "reg")
    name = Via("reg", "session")
    pid = await Echo.start(otp.self(), name=name)
    ref = otp.monitor(pid)

    otp.exit(pid, "kill")
    await down_of(ref)

    assert not otp.is_alive(name)
    again = await Echo.start(otp.self(), name=name)
    assert Registry.lookup("reg", "session") == [(again, None)]


async def test_an_unregistered_via_name_behaves_like_an_unregistered_name() -> None:
    await start_registry("unique", "reg")
    name = Via("reg", "nobody")

    with pytest.raises(NoProcess):
        otp.send(name, "hello")
    with pytest.raises(NoProcess):
        await otp.call(name, "hello")
    otp.cast(name, "ignored")
    assert await down_of(otp.monitor(name)) == "noproc"


async def test_a_failed_init_releases_the_via_name() -> None:
    class Refuses(GenServer):
        def init(self) -> Any:
            return otp.Stop("no")

    await start_registry("unique", "reg")

    with pytest.raises(StartError):
        await Refuses.start(name=Via("reg", "refused"))

    assert Registry.lookup("reg", "refused") == []


async def test_a_via_name_in_a_missing_registry_fails_the_start_and_leaves_no_process() -> None:
    otp.self()
    before = otp.process_count()

    with pytest.raises(NoProcess):
        await Echo.start(otp.self(), name=Via("no_such_registry", "x"))

    assert otp.process_count() == before


# -- the registry process ---------------------------------------------------------------------


async def test_keys_must_be_unique_or_duplicate() -> None:
    with pytest.raises(StartError) as info:
        await Registry.start(keys="sometimes")

    assert isinstance(info.value.reason, ValueError)


async def test_using_a_registry_that_is_not_running_raises_no_process() -> None:
    otp.self()
    with pytest.raises(NoProcess):
        Registry.lookup("no_such_registry", "k")
    with pytest.raises(NoProcess):
        Registry.register("no_such_registry", "k")


async def test_registries_are_independent() -> None:
    await start_registry("unique", "reg_a")
    await start_registry("unique", "reg_b")

    Registry.register("reg_a", "k", "a")

    assert Registry.lookup("reg_a", "k") == [(otp.self(), "a")]
    assert Registry.lookup("reg_b", "k") == []


async def test_a_restarted_registry_still_knows_who_registered_before() -> None:
    otp.trap_exit(True)
    sup = await otp.Supervisor.start_link(
        [Registry.child_spec(id="reg", name="reg", init_kwargs={"keys": "unique"})]
    )
    ann = await holder("reg", "ann", {"tab": 1})
    old = otp.whereis("reg")
    assert old is not None

    otp.exit(old, "kill")
    (row,) = await otp.Supervisor.which_children(sup)  # answered once the restart is done

    assert row.pid is not None and row.pid != old
    assert Registry.lookup("reg", "ann") == [(ann, {"tab": 1})]
    with pytest.raises(AlreadyRegistered):
        Registry.register("reg", "ann")
    await stop(ann)
    assert Registry.lookup("reg", "ann") == []
    ref = otp.monitor(sup)
    otp.exit(sup, "shutdown")
    await down_of(ref)
