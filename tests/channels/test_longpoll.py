"""The long-poll fallback (protocol.md §1.6): sessions, polls, batches, tokens."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import orjson

import otp
from channels.client import decode_server_binary, encode_client
from channels.conn import metrics
from channels.handler import ConnectInfo, Limits, disconnect_socket
from channels.serializer import Broadcast, Message
from hearth import names
from otp import PubSub

from ._app import UserSocket
from .conftest import WAIT, Serve, Server, sessions


class Poller:
    """A long-poll client as phoenix.js 1.8 is: the session token goes last in the query."""

    def __init__(self, server: Server, **params: str) -> None:
        self.http = server.http
        self.url = server.longpoll_url
        self.params = {**params, "vsn": "2.0.0"}
        self.token: str | None = None

    def query(self) -> list[tuple[str, str]]:
        return [*self.params.items(), *([("token", self.token)] if self.token else [])]

    async def get(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        async with self.http.get(self.url, params=self.query(), headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=WAIT)) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            body: dict[str, Any] = await response.json()
        if "token" in body:
            self.token = body["token"]
        return body

    async def open(self) -> None:
        body = await self.get()
        assert body["status"] == 410 and body["messages"] == []

    async def post(self, *lines: str | bytes, ndjson: bool = True) -> dict[str, Any]:
        body = "\n".join(line if isinstance(line, str) else base64.b64encode(line).decode()
                         for line in lines)
        headers = {"Content-Type": "application/x-ndjson" if ndjson else "application/json"}
        async with self.http.post(self.url, params=self.query(), data=body, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=WAIT)) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            result: dict[str, Any] = await response.json()
            return result

    async def messages(self, count: int) -> list[Any]:
        """Poll until ``count`` messages came; each decoded (binary ones as Messages)."""
        got: list[Any] = []
        while len(got) < count:
            body = await self.get()
            assert body["status"] in (200, 204), body
            got.extend(decode(text) for text in body["messages"])
        assert len(got) == count, got
        return got


def frame(*parts: Any) -> str:
    return orjson.dumps(list(parts)).decode()


def decode(text: str) -> Any:
    if text.startswith("["):
        return orjson.loads(text)
    return decode_server_binary(base64.b64decode(text))


async def test_a_session_opens_takes_frames_and_answers_polls(serve: Serve) -> None:
    server = await serve(limits=Limits(longpoll_window=0.2))
    poller = Poller(server, user="ann")

    await poller.open()
    posted = await poller.post(frame("1", "1", "room:lobby", "phx_join", {}))
    replies = await poller.messages(1)
    idle = await poller.get()

    assert posted == {"status": 200}
    assert replies == [["1", "1", "room:lobby", "phx_reply",
                        {"status": "ok", "response": {"topic": "room:lobby", "user": "ann"}}]]
    assert idle == {"status": 204, "token": poller.token, "messages": []}


async def test_a_poll_in_flight_returns_as_soon_as_a_message_is_buffered(server: Server) -> None:
    poller = Poller(server)
    await poller.open()
    await poller.post(frame("1", "1", "room:lobby", "phx_join", {}))
    await poller.messages(1)

    waiting = asyncio.ensure_future(poller.get())
    PubSub.broadcast(names.PUBSUB, "room:lobby", Broadcast("room:lobby", "news", {"n": 1}))
    body = await waiting

    assert body["status"] == 200
    assert [orjson.loads(m) for m in body["messages"]] == [
        [None, None, "room:lobby", "news", {"n": 1}]]


async def test_a_batch_is_dispatched_in_order(server: Server) -> None:
    poller = Poller(server)
    await poller.open()

    posted = await poller.post(
        frame("1", "1", "room:lobby", "phx_join", {}),
        *(frame("1", str(n), "room:lobby", "echo", {"n": n}) for n in range(2, 6)),
        frame(None, "6", "phoenix", "heartbeat", {}),
    )
    got = await poller.messages(6)

    # The heartbeat is the session's to answer, the rest the channel's, in order.
    lobby = [m for m in got if m[2] == "room:lobby"]
    assert posted == {"status": 200}
    assert [m[1] for m in lobby] == ["1", "2", "3", "4", "5"]
    assert [m[4]["response"] for m in lobby[1:]] == [{"n": n} for n in range(2, 6)]
    assert [m[1] for m in got if m[2] == "phoenix"] == ["6"]


async def test_a_legacy_post_is_one_json_frame(server: Server) -> None:
    poller = Poller(server)
    await poller.open()

    assert await poller.post(frame(None, "1", "phoenix", "heartbeat", {}),
                             ndjson=False) == {"status": 200}
    assert (await poller.messages(1))[0][:4] == [None, "1", "phoenix", "phx_reply"]


async def test_binary_frames_travel_as_base64_lines(server: Server) -> None:
    poller = Poller(server)
    await poller.open()
    binary, _ = encode_client(Message("1", "2", "room:lobby", "upload", b"\x00\xffab"))

    await poller.post(frame("1", "1", "room:lobby", "phx_join", {}), binary)
    joined, pushed, replied = await poller.messages(3)

    assert joined[3] == "phx_reply"
    assert pushed == Message("1", None, "room:lobby", "bytes", b"ba\xff\x00")
    assert replied == Message("1", "2", "room:lobby", "phx_reply",
                              {"status": "ok", "response": b"ba\xff\x00"})


async def test_a_binary_broadcast_reaches_a_long_poll_client(server: Server) -> None:
    poller = Poller(server)
    await poller.open()
    await poller.post(frame("1", "1", "room:lobby", "phx_join", {}))
    await poller.messages(1)

    PubSub.broadcast(names.PUBSUB, "room:lobby", Broadcast("room:lobby", "blob", b"\x01\x02"))

    assert await poller.messages(1) == [Message(None, None, "room:lobby", "blob", b"\x01\x02")]


async def test_more_than_100_frames_in_a_batch_are_refused(server: Server) -> None:
    poller = Poller(server)
    await poller.open()

    refused = await poller.post(*(frame(None, str(n), "phoenix", "heartbeat", {})
                                  for n in range(101)))

    assert refused == {"status": 400}


async def test_a_bad_line_is_dropped_and_the_rest_dispatched(server: Server) -> None:
    poller = Poller(server)
    await poller.open()

    posted = await poller.post("[not json", "%%% not base64",
                               frame(None, "1", "phoenix", "heartbeat", {}))

    assert posted == {"status": 200}
    assert (await poller.messages(1))[0][:4] == [None, "1", "phoenix", "phx_reply"]


async def test_an_unknown_token_gets_a_new_session(server: Server) -> None:
    poller = Poller(server)
    poller.token = "forged.or.expired"

    assert await poller.post(frame(None, "1", "phoenix", "heartbeat", {})) == {"status": 410}
    body = await poller.get()
    assert body["status"] == 410 and body["token"] != "forged.or.expired"
    assert await poller.post(frame(None, "1", "phoenix", "heartbeat", {})) == {"status": 200}


async def test_the_token_may_come_in_a_header(server: Server) -> None:
    poller = Poller(server)
    await poller.open()
    token, poller.token = poller.token, None
    assert token is not None
    header = {"X-Phoenix-Longpoll-Token": token}

    async with server.http.post(server.longpoll_url, params=poller.query(), headers={
        **header, "Content-Type": "application/x-ndjson"},
        data=frame(None, "1", "phoenix", "heartbeat", {})) as response:
        assert await response.json() == {"status": 200}
    body = await poller.get(headers=header)

    assert body["status"] == 200 and len(body["messages"]) == 1


async def test_the_socket_params_win_over_a_stale_session_token(serve: Serve) -> None:
    seen: list[dict[str, str]] = []

    class Recording(UserSocket):
        async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any]:
            seen.append(params)
            return {}

    server = await serve(handler=Recording())
    poller = Poller(server, token="user-token")
    poller.token = "stale-session-token"

    assert (await poller.get())["status"] == 410
    assert seen == [{"token": "user-token"}]


async def test_a_refused_connect_or_origin_is_a_403(serve: Serve) -> None:
    server = await serve(origins=("allowed.example",))

    refused = await Poller(server, token="bad").get()
    async with server.http.get(server.longpoll_url, params={"vsn": "2.0.0"},
                               headers={"Origin": "https://evil.example"}) as response:
        foreign = await response.json()

    assert refused == {"status": 403}
    assert foreign == {"status": 403}


async def test_a_preflight_echoes_the_requested_headers(server: Server) -> None:
    async with server.http.options(server.longpoll_url, headers={
        "Access-Control-Request-Headers": "x-phoenix-longpoll-token, content-type",
        "Access-Control-Request-Method": "POST",
    }) as response:
        assert response.status == 200
        headers = response.headers

    assert headers["Access-Control-Allow-Headers"] == "x-phoenix-longpoll-token, content-type"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "post" in headers["Access-Control-Allow-Methods"]


async def test_a_session_nobody_polls_ends(serve: Serve) -> None:
    server = await serve(limits=Limits(longpoll_window=0.1))
    poller = Poller(server)
    await poller.open()
    [session] = sessions()
    ref = otp.monitor(session)

    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)

    assert await poller.post(frame(None, "1", "phoenix", "heartbeat", {})) == {"status": 410}


async def test_a_disconnected_session_is_gone_for_its_poll(serve: Serve) -> None:
    server = await serve()
    poller = Poller(server, user="ann")
    await poller.open()
    old = poller.token

    # Whether the poll is already waiting when the session ends or comes after, it gets
    # 410 and no new session: phoenix.js then reconnects without a token, and rejoins.
    waiting = asyncio.ensure_future(poller.get())
    disconnect_socket(names.PUBSUB, "users_socket:ann")
    body = await waiting
    again = await poller.get()

    assert body == again == {"status": 410}
    assert poller.token == old and sessions() == []
    poller.token = None
    await poller.open()
    assert poller.token != old and len(sessions()) == 1


async def test_a_session_whose_messages_pile_up_unpolled_ends(serve: Serve) -> None:
    server = await serve(limits=Limits(outbound_buffer_bytes=4096))
    poller = Poller(server)
    await poller.open()
    await poller.post(frame("1", "1", "room:lobby", "phx_join", {}))
    await poller.messages(1)
    [session] = sessions()
    ref = otp.monitor(session)
    before = metrics["slow_consumers_disconnected"]

    for n in range(10):
        PubSub.broadcast(names.PUBSUB, "room:lobby",
                         Broadcast("room:lobby", "big", {"n": n, "pad": "x" * 1024}))

    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)
    assert metrics["slow_consumers_disconnected"] == before + 1
    assert await poller.post(frame(None, "2", "phoenix", "heartbeat", {})) == {"status": 410}


class TokenSocket(UserSocket):
    """Refuses any ``token`` param but ``good``, as a real socket refuses what it cannot
    verify: a long-poll session token taken for the socket's own would be refused."""

    async def connect(self, params: dict[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        if "token" in params and params["token"] != "good":
            return None
        return {"signed_in": params.get("token") == "good"}


async def test_phoenix_js_long_poll_tokens_are_never_taken_for_the_sockets_own(
    serve: Serve,
) -> None:
    server = await serve(handler=TokenSocket())
    anonymous, signed_in = Poller(server), Poller(server, token="good")
    # phoenix.js 1.8 sends token=null until it has a session token.
    anonymous.token = signed_in.token = "null"

    await anonymous.open()
    await signed_in.open()
    for session in sessions():
        otp.exit(session, "kill")
    gone = [await anonymous.get(), await signed_in.get()]

    assert gone == [{"status": 410}, {"status": 410}]
    assert sessions() == []


async def _open_status(server: Server, peer_params: dict[str, str]) -> tuple[int, Any]:
    async with server.http.get(server.longpoll_url, params={**peer_params, "vsn": "2.0.0"},
                               timeout=aiohttp.ClientTimeout(total=WAIT)) as response:
        return response.status, await response.json()


async def test_long_poll_sessions_are_bounded_per_address_and_in_all(serve: Serve) -> None:
    per_address = await serve(limits=Limits(longpoll_sessions_per_address=3))
    pollers = [Poller(per_address) for _ in range(3)]
    for poller in pollers:
        await poller.open()

    refused = await _open_status(per_address, {})
    [first, *_] = sessions()
    ref = otp.monitor(first)
    otp.exit(first, "kill")
    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)
    allowed = await _open_status(per_address, {})

    assert refused == (429, {"status": 500, "reason": "too many sessions"})
    assert allowed[0] == 200 and allowed[1]["status"] == 410
    assert len(sessions()) == 3
    for session in sessions():
        otp.exit(session, "kill")

    in_all = await serve(limits=Limits(longpoll_max_sessions=2))
    assert (await _open_status(in_all, {}))[0] == 200
    assert (await _open_status(in_all, {}))[0] == 200
    assert (await _open_status(in_all, {}))[0] == 429


async def test_bad_long_poll_frames_past_the_limit_end_the_session(serve: Serve) -> None:
    server = await serve(limits=Limits(max_bad_frames=2))
    poller = Poller(server)
    await poller.open()
    [session] = sessions()
    ref = otp.monitor(session)

    first = await poller.post("not json", "nor this")
    second = await poller.post("still not json")

    assert first == {"status": 200}
    assert second == {"status": 410}
    await otp.receive(timeout=WAIT, match=lambda m: type(m) is otp.Down and m.ref is ref)
    assert await poller.get() == {"status": 410}
