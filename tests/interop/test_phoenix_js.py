"""The unmodified npm ``phoenix`` client (over ``ws``, and its long-poll transport) against
our server: protocol.md §1 as phoenix.js 1.8 exercises it."""

from __future__ import annotations

import pytest

import otp
from channels.handler import Limits, disconnect_socket
from hearth import names

from ..channels.conftest import Serve, Server, channels_of, sessions
from ._app import InteropSocket
from .conftest import Run


def topics_of(session: otp.Pid) -> list[str]:
    info = otp.process_info(session)
    assert info is not None
    return sorted(info["channels"])


async def test_join_push_reply_server_push_and_binary_frames(interop: Server, run_js: Run) -> None:
    js = await run_js("join_push.mjs", interop.url)

    joined = await js.expect("joined")
    echo = await js.expect("echo")
    fail = await js.expect("fail")
    later = await js.expect("later")
    push_me = await js.expect("push_me")
    binary = await js.expect("binary")
    denied = await js.expect("denied")
    unmatched = await js.expect("unmatched")
    await js.finish()

    assert joined["status"] == "ok"
    assert joined["response"] == {"topic": "room:lobby", "user": "ann"}
    assert echo["status"] == "ok" and echo["response"] == {"body": "hi", "n": 1}
    assert fail["status"] == "error" and fail["response"] == {"reason": "refused"}
    assert later["status"] == "ok" and later["response"] == {"later": {"x": 2}}
    assert push_me["reply"]["status"] == "ok" and push_me["pushed"] == {"y": 3}
    # A binary push: a binary reply (kind 1) and a binary server push (kind 0).
    assert binary["reply"] == {"status": "ok", "response": [250, 3, 2, 1]}
    assert binary["pushed"] == [250, 3, 2, 1]
    assert denied["status"] == "error" and denied["response"] == {"reason": "unauthorized"}
    assert unmatched["status"] == "error"
    assert unmatched["response"] == {"reason": "unmatched topic"}
    # Every frame for the channel carried its join_ref (phoenix.js drops others).
    lobby = js.seen("join", topic="room:lobby")[0]["join_ref"]
    frames = js.seen("frame", topic="room:lobby")
    assert frames and all(f["join_ref"] == lobby for f in frames)


async def test_heartbeats_are_answered_and_keep_the_socket_open(serve: Serve,
                                                                run_js: Run) -> None:
    # The server closes a socket silent for 0.5 s; eight heartbeats 150 ms apart span more
    # than twice that. phoenix.js gives each reply one interval before it reconnects.
    server = await serve(handler=InteropSocket(), limits=Limits(idle_timeout=0.5))
    js = await run_js("heartbeat.mjs", server.url, "150", "8")

    done = await js.finish()

    replies = js.seen("heartbeat_reply")
    assert len(replies) == 8
    assert all(r["status"] == "ok" and r["response"] == {} for r in replies)
    assert len({r["ref"] for r in replies}) == 8
    assert js.seen("close") == [] and js.seen("transport_error") == []
    assert done["closes"] == 0 and done["connected"] is True
    assert len(js.seen("open")) == 1


async def test_broadcast_reaches_both_and_broadcast_from_skips_the_sender(
    interop: Server, run_js: Run
) -> None:
    js = await run_js("broadcast.mjs", interop.url)

    shout = await js.expect("shout")
    whisper = await js.expect("whisper")
    barrier = await js.expect("barrier")
    done = await js.finish()

    assert shout["reply"]["status"] == "ok"
    assert shout["ann"] == shout["bob"] == {"body": "to all"}
    assert whisper["reply"]["status"] == "ok" and whisper["bob"] == {"body": "psst"}
    assert barrier["ann"] == {"body": "barrier"}
    assert done["received"]["ann"] == [["shout", {"body": "to all"}],
                                       ["shout", {"body": "barrier"}]]
    assert done["received"]["bob"] == [["shout", {"body": "to all"}],
                                       ["whisper", {"body": "psst"}],
                                       ["shout", {"body": "barrier"}]]
    # Broadcasts go out with no refs (protocol.md §1.2).
    bcasts = [f for f in js.seen("frame") if f["frame"] in ("shout", "whisper")]
    assert bcasts and all(f["join_ref"] is None and f["ref"] is None for f in bcasts)


async def test_leave_is_answered_then_closed_and_never_rejoined(interop: Server,
                                                               run_js: Run) -> None:
    js = await run_js("leave.mjs", interop.url)

    joined = await js.expect("joined")
    left = await js.expect("left")
    quiet = await js.expect("quiet")
    [session] = sessions()
    assert topics_of(session) == []
    await js.send(cmd="finish")
    await js.finish()

    join_ref = joined["join_ref"]
    assert left["status"] == "ok" and left["state"] == "closed"
    assert quiet["state"] == "closed" and quiet["channels"] == 0 and quiet["heartbeats"] == 3
    [close] = js.seen("frame", frame="phx_close")
    assert close["join_ref"] == close["ref"] == join_ref and close["payload"] == {}
    # One join and one leave went out, nothing after.
    sent = [(s["sent"], s["join_ref"]) for s in js.seen("sent")]
    assert sent == [("phx_join", join_ref), ("phx_leave", join_ref)]
    assert js.seen("channel_error") == []


async def test_duplicate_join_closes_the_old_instance(interop: Server, run_js: Run) -> None:
    js = await run_js("duplicate_join.mjs", interop.url)

    client = await js.expect("client_dedupe")
    server = await js.expect("server_dedupe")
    [session] = sessions()
    topics = topics_of(session)
    await js.finish()

    # phoenix.js leaves the first instance itself before joining the second.
    assert client["first"] == "closed" and client["second"] == "joined"
    assert client["join"]["status"] == "ok" and client["echo"]["status"] == "ok"
    dup = [(s["sent"], s["socket"]) for s in js.seen("sent", topic="room:dup")]
    assert [e for e, _ in dup[:3]] == ["phx_join", "phx_leave", "phx_join"]
    # Without that, the server closes the old instance with phx_close on the old join_ref;
    # the new instance ignores it and works.
    assert server["old"] == "closed" and server["fresh"] == "joined"
    assert server["join"]["status"] == "ok"
    assert server["echo"] == {"status": "ok", "response": {"n": 2}}
    sent = [s["sent"] for s in js.seen("sent", topic="room:dup2")]
    assert sent.count("phx_leave") == 0
    [close] = js.seen("frame", topic="room:dup2", frame="phx_close")
    assert close["join_ref"] == close["ref"] == server["old_join_ref"]
    assert server["fresh_join_ref"] != server["old_join_ref"]
    assert topics == ["room:dup", "room:dup2"]  # one channel per topic
    assert js.seen("channel_error") == []


async def test_a_crashed_channel_errors_and_rejoins_on_its_own(interop: Server,
                                                              run_js: Run) -> None:
    js = await run_js("crash_rejoin.mjs", interop.url)

    first = await js.expect("rejoined")
    ready = await js.expect("ready")
    [session] = sessions()
    [channel] = channels_of(session)
    otp.exit(channel, "kill")
    await js.send(cmd="killed")
    second = await js.expect("rejoined")
    await js.finish()

    joins = js.seen("join", status="ok")
    assert [j["count"] for j in joins] == [1, 2, 3]
    assert len({j["join_ref"] for j in joins}) == 3
    assert first["join_ref"] == ready["join_ref"] == joins[1]["join_ref"]
    assert second["join_ref"] == joins[2]["join_ref"]
    assert first["echo"] == {"status": "ok", "response": {"after": "crash"}}
    assert second["echo"] == {"status": "ok", "response": {"after": "kill"}}
    errors = js.seen("frame", frame="phx_error")
    assert [(e["join_ref"], e["ref"]) for e in errors] == [
        (joins[0]["join_ref"], joins[0]["join_ref"]),
        (joins[1]["join_ref"], joins[1]["join_ref"]),
    ]
    assert all(e["payload"] == {"reason": "channel_crash"} for e in errors)
    assert len(js.seen("channel_error")) == 2
    assert len(js.seen("open")) == 1 and js.seen("close") == []  # the socket stayed up


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
async def test_a_disconnected_socket_reconnects_and_rejoins(interop: Server, run_js: Run,
                                                           transport: str) -> None:
    js = await run_js("disconnect.mjs", interop.url, transport)

    ready = await js.expect("ready")
    disconnect_socket(names.PUBSUB, "users_socket:ann")
    rejoined = await js.expect("rejoined")
    await js.finish()

    # A WebSocket is closed with 1001 ("come back"); a long-poll client learns from the 410
    # of its next poll that its session is gone, and closes with 3410 itself.
    assert [c["code"] for c in js.seen("close")] == [1001 if transport == "websocket" else 3410]
    assert [o["count"] for o in js.seen("open")] == [1, 2]
    assert rejoined["opens"] == 2 and rejoined["state"] == "joined"
    assert rejoined["join_ref"] != ready["join_ref"]
    assert rejoined["echo"] == {"status": "ok", "response": {"after": "disconnect"}}
    [error] = js.seen("channel_error")
    assert error["reason"]["source"] == "transport"


async def test_long_poll_join_push_and_broadcast(interop: Server, run_js: Run) -> None:
    js = await run_js("longpoll.mjs", interop.url, "longpoll")

    joined = await js.expect("joined")
    echo = await js.expect("echo")
    pushed = await js.expect("pushed")
    lp_shout = await js.expect("lp_shout")
    ws_shout = await js.expect("ws_shout")
    done = await js.finish()

    assert joined["transport"] == "LongPoll" and done["transport"] == "LongPoll"
    assert joined["status"] == "ok"
    assert joined["response"] == {"topic": "room:mixed", "user": "lp"}
    assert echo["status"] == "ok" and echo["response"] == {"body": "over long-poll"}
    assert pushed["payload"] == {"n": 1}
    assert lp_shout["lp"] == lp_shout["ws"] == {"from": "lp"}
    assert ws_shout["lp"] == ws_shout["ws"] == {"from": "ws"}
    assert js.seen("transport_error") == []


async def test_phoenix_js_falls_back_to_long_poll_when_websockets_fail(
    interop: Server, run_js: Run
) -> None:
    js = await run_js("longpoll.mjs", interop.url, "fallback")

    joined = await js.expect("joined")
    await js.expect("echo")
    lp_shout = await js.expect("lp_shout")
    ws_shout = await js.expect("ws_shout")
    done = await js.finish()

    [refused] = js.seen("transport_error", socket="lp")
    assert refused["transport"] == "WebSocket" and "403" in refused["error"]
    assert joined["status"] == "ok" and joined["transport"] == "LongPoll"
    assert lp_shout["ws"] == {"from": "lp"} and ws_shout["lp"] == {"from": "ws"}
    assert done["stored"] == {"phx:fallback:LongPoll": "true"}


async def test_the_auth_token_reaches_connect_over_both_transports(interop: Server,
                                                                   run_js: Run) -> None:
    # "user:42?>" is "dXNlcjo0Mj8+" in base64: a "+", and no padding to strip; the handler
    # of the test takes the token as the user.
    js = await run_js("auth_token.mjs", interop.url, "user:42?>")

    ws = await js.expect("joined", socket="websocket")
    lp = await js.expect("joined", socket="longpoll")
    await js.finish()

    assert ws["status"] == "ok" and ws["response"]["user"] == "user:42?>"
    assert ws["protocol"] == "phoenix"  # the subprotocol the server picked
    assert lp["status"] == "ok" and lp["response"]["user"] == "user:42?>"
    assert lp["transport"] == "LongPoll"
