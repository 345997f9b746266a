"""Signed-in people in ``room:lobby`` of a served node, as their browsers would be.

Each :class:`Member` is one browser tab: a session made through the login pages, the page's
socket token, and a :class:`channels.client.Socket` on ``/socket`` that reconnects and rejoins
on phoenix.js's schedules. It keeps what a phoenix.js page keeps: the messages broadcast to
it, the room's presence (``presence_state`` and ``presence_diff`` applied as phoenix.js's
``Presence.syncState`` / ``syncDiff`` do), the close codes of its connection, and the ids of
its messages that the server acknowledged (``ok``).

:class:`Lobby` holds the members (ann on a laptop and a phone, ben, cat), the load they send,
and an API client that posts probe messages through ``POST /api/v1/rooms/lobby/messages``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from channels.client import Channel, ClientError, Socket
from hearth.testing import PASSWORD, Conn, log_in_with_password, redirected_to
from tests.web.test_user_socket_endpoint import page_token

from ._node import ServedNode

TOPIC = "room:lobby"
PACE = 0.05
"""Seconds between one tab's messages: 20 a second per tab, under a user's event rate."""
PUSH_TIMEOUT = 5.0

TABS = (("ann", "laptop"), ("ann", "phone"), ("ben", "laptop"), ("cat", "laptop"))
"""Who is in the room: ann twice (two browser sessions), ben and cat once (names the demo
data does not have)."""


@dataclass
class Member:
    """One tab in the lobby; see the module docstring."""

    user: str
    device: str
    user_id: int
    cookie: str | None
    socket: Socket
    lobby: Channel
    bodies: list[str] = field(default_factory=list)
    presence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    closes: list[int] = field(default_factory=list)
    acked: dict[int, str] = field(default_factory=dict)
    acks: int = 0
    last_answer: str = "nothing yet"

    @property
    def name(self) -> str:
        return f"{self.user}'s {self.device}"

    def listen(self) -> None:
        self.lobby.on("new_message", lambda m: self.bodies.append(m.get("body", "")))
        self.lobby.on("presence_state", self._sync_state)
        self.lobby.on("presence_diff", self._sync_diff)
        self.socket.on_close(self.closes.append)

    def _sync_state(self, state: dict[str, Any]) -> None:
        self.presence = {key: list(entry["metas"]) for key, entry in state.items()}

    def _sync_diff(self, diff: dict[str, Any]) -> None:
        for key, entry in diff.get("joins", {}).items():
            new_refs = {m["phx_ref"] for m in entry["metas"]}
            kept = [m for m in self.presence.get(key, []) if m["phx_ref"] not in new_refs]
            self.presence[key] = kept + list(entry["metas"])
        for key, entry in diff.get("leaves", {}).items():
            gone = {m["phx_ref"] for m in entry["metas"]}
            left = [m for m in self.presence.get(key, []) if m["phx_ref"] not in gone]
            if left:
                self.presence[key] = left
            else:
                self.presence.pop(key, None)

    def listed(self) -> dict[str, int]:
        """Who this tab shows as present: user id -> number of tabs."""
        return {key: len(metas) for key, metas in self.presence.items()}

    async def send_load(self, stop: asyncio.Event) -> None:
        """Post a message every :data:`PACE` seconds until ``stop``, keeping what was ``ok``."""
        n = 0
        while not stop.is_set():
            n += 1
            body = f"{self.user}/{self.device} #{n}"
            try:
                reply = await self.lobby.push("new_message", {"body": body},
                                              timeout=PUSH_TIMEOUT)
            except (ClientError, RuntimeError) as e:
                self.last_answer = f"{type(e).__name__}: {e}"
            else:
                if reply.status == "ok":
                    self.acked[reply.response["id"]] = body
                    self.acks += 1
                    self.last_answer = "ok"
                else:
                    self.last_answer = f"{reply.status} {reply.response}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PACE)  # the load's pace


@dataclass
class Lobby:
    """The members, the load they send and the API prober; made by :func:`lobby`."""

    node: ServedNode
    members: list[Member]
    api: aiohttp.ClientSession
    api_token: str
    probes: int = 0
    probe_errors: list[str] = field(default_factory=list)
    acked: dict[int, str] = field(default_factory=dict)
    """The probes the API stored (201): id -> body."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _load: list[asyncio.Task[None]] = field(default_factory=list)

    def expected_presence(self) -> dict[str, int]:
        """Who is joined: user id -> tabs joined (a member that left is not counted)."""
        out: dict[str, int] = {}
        for m in self.members:
            if m.lobby.state == "joined":
                out[str(m.user_id)] = out.get(str(m.user_id), 0) + 1
        return out

    def start_load(self) -> None:
        self._stop.clear()
        self._load = [asyncio.create_task(m.send_load(self._stop)) for m in self.members]

    async def stop_load(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._load)
        self._load = []

    async def probe(self, label: str) -> None:
        """Post ``probe <label> <n>`` through the API, as another client of the room would."""
        self.probes += 1
        body = f"probe {label} {self.probes}"
        try:
            async with self.api.post(f"{self.node.url}/api/v1/rooms/lobby/messages",
                                     json={"body": body},
                                     headers={"Authorization": f"Bearer {self.api_token}"}
                                     ) as r:
                if r.status == 201:
                    self.acked[(await r.json())["id"]] = body
                else:
                    self.probe_errors.append(f"{r.status} {await r.text()}")
        except aiohttp.ClientError as e:
            self.probe_errors.append(repr(e))


    async def newcomers_view(self, within: float) -> dict[str, int] | None:
        """Who a reader who opens the room now is shown (user id -> tabs), from the
        ``presence_state`` its join gets; None if none came within ``within`` seconds."""
        socket = Socket(self.node.ws_url, inbox_size=0, reconnect_after=())
        state: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(within):
                await socket.connect()
                channel = socket.channel(TOPIC)
                channel.on("presence_state",
                           lambda s: None if state.done() else state.set_result(s))
                await channel.join()
                got = await state
        except (ClientError, TimeoutError):
            return None
        finally:
            await socket.disconnect()
        return {key: len(entry["metas"]) for key, entry in got.items()}


async def _user_id(node: ServedNode, email: str) -> int:
    def read() -> int:
        with contextlib.closing(
            sqlite3.connect(f"file:{node.database}?mode=ro", uri=True, timeout=10)
        ) as db:
            row = db.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
            assert row is not None, f"no account {email}"
            user_id: int = row[0]
            return user_id

    return await asyncio.to_thread(read)


async def _sign_in(node: ServedNode, user: str, first: bool) -> tuple[str | None, str]:
    """Register (first tab), then log in through the pages; the session cookie and the room
    page's socket token. Each browser is closed after: its idle keep-alive connection would
    otherwise count among the node's descriptors."""
    email = f"{user}@example.com"
    if first:
        async with Conn(node) as browser:
            registered = await browser.post("/register", {
                "email": email, "display_name": user.capitalize(), "password": PASSWORD,
            })
            assert redirected_to(registered) == "/login", f"{user} could not register"
    async with Conn(node) as browser:
        page = await browser.get(redirected_to(await log_in_with_password(browser, email)))
        assert page.user == user.capitalize(), f"{user} could not log in: {page.text[:500]}"
        return browser.cookie, await page_token(browser)


async def log_out(node: ServedNode, member: Member) -> None:
    """The member's browser session logs out through the page, as its person would."""
    async with Conn(node) as browser:
        browser.cookie = member.cookie
        page = await browser.post("/logout", follow=True)
        assert page.user is None, f"{member.name} is still signed in after logging out"


@asynccontextmanager
async def lobby(node: ServedNode) -> AsyncIterator[Lobby]:
    """Every tab of :data:`TABS` joined to ``room:lobby``; closed on the way out."""
    members: list[Member] = []
    seen: set[str] = set()
    try:
        for user, device in TABS:
            cookie, token = await _sign_in(node, user, user not in seen)
            seen.add(user)
            socket = Socket(node.ws_url, params={"token": token}, inbox_size=0)
            await socket.connect()
            member = Member(user, device, await _user_id(node, f"{user}@example.com"),
                            cookie, socket, socket.channel(TOPIC))
            members.append(member)
            member.listen()
            await member.lobby.join()
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)
        ) as api:
            async with api.post(f"{node.url}/api/v1/auth/token",
                                json={"email": "cat@example.com", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()
                token = (await r.json())["access_token"]
            room = Lobby(node, members, api, token)
            try:
                yield room
            finally:
                if room._load:
                    await room.stop_load()
    finally:
        for member in members:
            await member.socket.disconnect()
