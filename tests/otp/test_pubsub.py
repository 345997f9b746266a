"""PubSub: subscriptions, broadcasts, ordering, and the adapter that links nodes."""

from __future__ import annotations

from typing import Any

import pytest

import otp
from otp import Adapter, NoProcess, Pid, PubSub
from otp.pubsub import Deliver

from ._mailbox import down_of, expect, nothing_before, stop_tree


async def start_pubsub(name: str = "ps", adapter: Adapter | None = None) -> Pid:
    pid = await PubSub.start(name=name, adapter=adapter)
    assert pid is not None
    return pid


async def subscriber(topic: str, pubsub: str = "ps") -> Pid:
    """A process subscribed to ``topic`` that forwards what it gets to the test as
    ``("got", its_pid, msg)``; ``"stop"`` ends it."""
    me = otp.self()

    async def body() -> None:
        PubSub.subscribe(pubsub, topic)
        otp.send(me, ("subscribed", otp.self()))
        while (msg := await otp.receive()) != "stop":
            otp.send(me, ("got", otp.self(), msg))

    pid = otp.spawn(body)
    assert await expect(lambda m: m == ("subscribed", pid))
    return pid


async def test_a_subscriber_receives_broadcasts_on_its_topic_only() -> None:
    await start_pubsub()
    PubSub.subscribe("ps", "room:1")

    PubSub.broadcast("ps", "room:2", "elsewhere")
    PubSub.broadcast("ps", "room:1", "hello")

    assert await expect() == "hello"
    await nothing_before("marker")


async def test_every_subscriber_gets_the_broadcast() -> None:
    await start_pubsub()
    a, b = await subscriber("t"), await subscriber("t")

    PubSub.broadcast("ps", "t", "all")

    got = {await expect(), await expect()}
    assert got == {("got", a, "all"), ("got", b, "all")}
    assert sorted(PubSub.subscribers("ps", "t")) == sorted([a, b])


async def test_subscribing_twice_delivers_once() -> None:
    await start_pubsub()
    PubSub.subscribe("ps", "t")
    PubSub.subscribe("ps", "t")

    PubSub.broadcast("ps", "t", "once")

    assert await expect() == "once"
    await nothing_before("marker")


async def test_unsubscribe_stops_delivery() -> None:
    await start_pubsub()
    PubSub.subscribe("ps", "t")
    PubSub.subscribe("ps", "other")

    PubSub.unsubscribe("ps", "t")
    PubSub.broadcast("ps", "t", "missed")
    PubSub.broadcast("ps", "other", "still subscribed here")

    assert await expect() == "still subscribed here"
    assert PubSub.subscribers("ps", "t") == []


async def test_broadcast_from_skips_the_sender() -> None:
    await start_pubsub()
    other = await subscriber("t")
    PubSub.subscribe("ps", "t")

    PubSub.broadcast_from("ps", otp.self(), "t", "from me")

    assert await expect() == ("got", other, "from me")
    await nothing_before("marker")


async def test_local_broadcast_reaches_local_subscribers() -> None:
    await start_pubsub()
    PubSub.subscribe("ps", "t")

    PubSub.local_broadcast("ps", "t", "local")

    assert await expect() == "local"


async def test_a_subscriber_is_removed_when_it_exits() -> None:
    await start_pubsub()
    stays = await subscriber("t")
    goes = await subscriber("t")
    ref = otp.monitor(goes)

    otp.send(goes, "stop")
    await down_of(ref)

    assert PubSub.subscribers("ps", "t") == [stays]
    PubSub.broadcast("ps", "t", "after")
    assert await expect() == ("got", stays, "after")


async def test_messages_from_one_publisher_arrive_in_order() -> None:
    await start_pubsub()
    a, b = await subscriber("t"), await subscriber("t")
    count = 1000

    async def publisher(tag: str) -> None:
        for i in range(count):
            PubSub.broadcast("ps", "t", (tag, i))

    otp.spawn(publisher, "p1")
    otp.spawn(publisher, "p2")
    got: dict[tuple[Pid, str], list[int]] = {}
    for _ in range(4 * count):
        _, sub, (tag, i) = await expect()
        got.setdefault((sub, tag), []).append(i)

    assert set(got) == {(a, "p1"), (a, "p2"), (b, "p1"), (b, "p2")}
    assert all(seq == list(range(count)) for seq in got.values())


async def test_a_gen_server_subscriber_gets_broadcasts_as_info() -> None:
    await start_pubsub()

    class Listener(otp.GenServer):
        def init(self, owner: Pid) -> Any:
            PubSub.subscribe("ps", "events")
            return otp.Ok(owner)

        def handle_info(self, msg: Any, owner: Pid) -> Any:
            otp.send(owner, ("listener got", msg))
            return otp.NoReply(owner)

    await Listener.start(otp.self())
    PubSub.broadcast("ps", "events", "e1")

    assert await expect() == ("listener got", "e1")


async def test_a_pubsub_that_is_not_running_raises_no_process() -> None:
    otp.self()
    with pytest.raises(NoProcess):
        PubSub.broadcast("no_such_pubsub", "t", "x")
    with pytest.raises(NoProcess):
        PubSub.subscribe("no_such_pubsub", "t")


# -- adapters ---------------------------------------------------------------------------------


class RecordingAdapter:
    """Stands for a cluster adapter: records what it would send to other nodes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, Pid | None]] = []
        self.deliver: Deliver | None = None
        self.stopped = False

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver

    def broadcast(self, topic: str, message: Any, exclude: Pid | None) -> None:
        self.sent.append((topic, message, exclude))

    async def stop(self) -> None:
        self.stopped = True


async def test_an_adapter_is_started_and_carries_broadcasts_to_other_nodes() -> None:
    adapter = RecordingAdapter()
    await start_pubsub(adapter=adapter)
    me = otp.self()

    PubSub.broadcast("ps", "t", "everyone")
    PubSub.broadcast_from("ps", me, "t", "not me")
    PubSub.local_broadcast("ps", "t", "this node only")

    assert adapter.deliver is not None
    assert adapter.sent == [("t", "everyone", None), ("t", "not me", me)]


async def test_the_adapter_deliver_callback_delivers_locally() -> None:
    adapter = RecordingAdapter()
    await start_pubsub(adapter=adapter)
    other = await subscriber("t")
    PubSub.subscribe("ps", "t")
    assert adapter.deliver is not None

    adapter.deliver("t", "from another node", None)
    assert await expect(lambda m: m == "from another node")
    assert await expect() == ("got", other, "from another node")

    adapter.deliver("t", "excluding me", otp.self())
    assert await expect() == ("got", other, "excluding me")
    await nothing_before("marker")
    assert adapter.sent == []  # remote broadcasts are not sent back out


async def test_the_adapter_is_stopped_when_the_pubsub_is_shut_down() -> None:
    adapter = RecordingAdapter()
    pid = await PubSub.start_link(name="ps", adapter=adapter)
    assert pid is not None

    assert await stop_tree(pid) == "shutdown"

    assert adapter.stopped


async def test_a_restarted_pubsub_still_delivers_to_those_who_subscribed_before() -> None:
    otp.trap_exit(True)
    sup = await otp.Supervisor.start_link([PubSub.child_spec(id="ps", name="ps")])
    before = await subscriber("room:1")
    old = otp.whereis("ps")
    assert old is not None

    otp.exit(old, "kill")
    (row,) = await otp.Supervisor.which_children(sup)  # answered once the restart is done
    after = await subscriber("room:1")
    PubSub.broadcast("ps", "room:1", "hello again")

    assert row.pid is not None and row.pid != old
    got = {await expect(), await expect()}
    assert got == {("got", before, "hello again"), ("got", after, "hello again")}
    otp.send(before, "stop")
    await down_of(otp.monitor(before))
    assert PubSub.subscribers("ps", "room:1") == [after]
    await stop_tree(sup)
