"""The load generator of ``bench/channels.py``: worker processes, each holding many raw
WebSocket connections speaking Phoenix V2, and a blocking control connection.

A connection here is a non-blocking socket, a reader callback on the event loop (uvloop) and
an object with a few slots: no transport, no protocol object, no task once it is open. Frames
from clients are masked with the all-zero key (the masked bytes are the payload itself, and
servers must accept any key). Every socket asks the kernel for receive timestamps
(``SO_TIMESTAMPNS``), so a broadcast's arrival is recorded twice: when the kernel queued it on
the client's socket ("kernel", what the server achieved) and when this process read it
("read", which adds the load generator's own queueing on a machine it shares with the server).
Broadcast payloads carry ``t``, ``time.time_ns()`` when the control connection sent the
message that caused them; both arrival clocks are the same host realtime clock.

Clients bind to several loopback source addresses (127.0.0.2, ...) with
``IP_BIND_ADDRESS_NO_PORT`` so the 4-tuples do not exhaust one address's ephemeral range.

Workers take commands on a pipe (see :meth:`Worker.command`; a thread reads it) and answer
on it; they also send ``("round_done", topic, round)`` unasked when every one of their
connections joined to ``topic`` has the broadcast of that round.
"""

from __future__ import annotations

import array
import asyncio
import os
import resource
import socket
import struct
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import orjson
import uvloop

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
HEARTBEAT_S = 30.0  # phoenix.js default
OPEN_TIMEOUT_S = 60.0
MAX_OPENING = 64  # handshakes in flight per worker
_unpack_ts = struct.Struct("qq").unpack_from


def raise_nofile() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def client_frame(data: bytes) -> bytes:
    """A masked text frame (FIN set) with the zero mask key."""
    n = len(data)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + b"\0\0\0\0" + data


def upgrade_request(host: str, port: int) -> bytes:
    return (
        f"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: phoenix\r\n\r\n"
    ).encode()


class Client:
    """One connection of a worker."""

    __slots__ = (
        "buf",
        "fd",
        "joined",
        "outbox",
        "pending",
        "pending_ref",
        "ref",
        "sock",
        "upgraded",
        "window",
        "worker",
    )

    def __init__(self, worker: Worker, sock: socket.socket) -> None:
        self.worker = worker
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = b""
        self.upgraded = False
        self.ref = 0
        self.joined: dict[str, str] = {}  # topic -> join_ref
        self.pending: asyncio.Future[Any] | None = None
        self.pending_ref: str | None = None  # the ref whose reply resolves ``pending``
        self.outbox = b""
        self.window = 0  # chat messages sent and not yet acknowledged

    def send(self, join_ref: str | None, topic: str, event: str, payload: Any) -> str:
        self.ref += 1
        ref = str(self.ref)
        self.write(client_frame(orjson.dumps([join_ref, ref, topic, event, payload])))
        return ref

    def write(self, data: bytes) -> None:
        if self.outbox:
            self.outbox += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return
        if sent < len(data):
            self.outbox = data[sent:]
            self.worker.loop.add_writer(self.fd, self.flush)

    def flush(self) -> None:
        try:
            sent = self.sock.send(self.outbox)
        except BlockingIOError:
            return
        except OSError:
            sent = len(self.outbox)
        self.outbox = self.outbox[sent:]
        if not self.outbox:
            self.worker.loop.remove_writer(self.fd)

    async def join(self, topic: str) -> None:
        self.ref += 1
        ref = str(self.ref)
        fut = self.pending = self.worker.loop.create_future()
        self.pending_ref = ref
        self.write(client_frame(orjson.dumps([ref, ref, topic, "phx_join", {}])))
        reply = await fut
        if reply[4].get("status") != "ok":
            raise RuntimeError(f"join {topic} refused: {reply[4]}")
        self.joined[topic] = ref

    def on_readable(self) -> None:
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(262144, 64)
        except BlockingIOError:
            return
        except OSError:
            self.lost()
            return
        now = time.time_ns()
        if not data:
            self.lost()
            return
        kts = now
        if anc:
            sec, nsec = _unpack_ts(anc[0][2])
            kts = sec * 1_000_000_000 + nsec
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            status = buf[: buf.find(b"\r\n")]
            if b" 101 " not in status:
                self.fail(f"upgrade refused: {status.decode(errors='replace')}")
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            fut, self.pending = self.pending, None
            if fut is not None and not fut.done():
                fut.set_result(None)
        i, n = 0, len(buf)
        on_text = self.worker.on_text
        while n - i >= 2:
            length = buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                head = 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            if n - i < head + length:
                break
            opcode = buf[i] & 0x0F
            start = i + head
            i = start + length
            if opcode == 1:
                on_text(self, buf[start:i], now, kts)
            elif opcode == 8:
                self.lost()
                return
        self.buf = buf[i:] if i < n else b""

    def fail(self, why: str) -> None:
        fut, self.pending = self.pending, None
        if fut is not None and not fut.done():
            fut.set_exception(ConnectionError(why))
        self.close()

    def lost(self) -> None:
        if self.fd >= 0:
            self.worker.lost += 1
        self.fail("connection lost")

    def close(self) -> None:
        if self.fd >= 0:
            self.worker.loop.remove_reader(self.fd)
            if self.outbox:
                self.worker.loop.remove_writer(self.fd)
            self.fd = -1
            self.sock.close()


class Worker:
    """One load-generator process."""

    def __init__(self, pipe: Connection, host: str, sources: list[str]) -> None:
        self.pipe = pipe
        self.host = host
        self.sources = sources
        self.loop = asyncio.get_running_loop()
        self.groups: dict[str, list[Client]] = {}
        self.subscribed: dict[str, int] = {}  # topic -> clients of this worker joined to it
        self.counts: dict[tuple[str, int], int] = {}
        self.kernel: dict[tuple[str, int], array.array[int]] = {}
        self.read: dict[tuple[str, int], array.array[int]] = {}
        self.lost = 0
        self.done = self.loop.create_future()
        self.tasks: set[asyncio.Task[Any]] = set()
        # chat
        self.chat_topic: str | None = None
        self.chat_on = False
        self.chat_from = 0
        self.chat_to = 0
        self.chat_deliveries = 0
        self.chat_acks = 0
        self.chat_window_acks = 0
        self.chat_body = ""
        self.chat_event = "new_message"

    # -- inbound ---------------------------------------------------------------------------

    def on_text(self, client: Client, data: bytes, now: int, kts: int) -> None:
        msg = orjson.loads(data)
        if msg[0] is None and msg[1] is None:  # a broadcast
            topic, payload = msg[2], msg[4]
            r = payload.get("r")
            if r is None:  # a chat message
                if topic == self.chat_topic and self.chat_from <= now < self.chat_to:
                    self.chat_deliveries += 1
                return
            key = (topic, r)
            t = payload["t"]
            lat = self.kernel.get(key)
            if lat is None:
                lat = self.kernel[key] = array.array("q")
                self.read[key] = array.array("q")
            lat.append(kts - t)
            self.read[key].append(now - t)
            count = self.counts[key] = self.counts.get(key, 0) + 1
            if count == self.subscribed.get(topic):
                self.pipe.send(("round_done", topic, r))
            return
        if msg[3] != "phx_reply":
            return
        if msg[1] == client.pending_ref:
            fut, client.pending, client.pending_ref = client.pending, None, None
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        if msg[2] == self.chat_topic:
            # A chat message acknowledged: send the next while the window is open.
            self.chat_acks += 1
            if self.chat_from <= now < self.chat_to:
                self.chat_window_acks += 1
            client.window -= 1
            if self.chat_on:
                self.chat_send(client)

    # -- commands --------------------------------------------------------------------------

    def read_commands(self) -> None:
        """A thread: the pipe stays blocking (the event loop would make a registered fd
        non-blocking, and a large answer would then fail to send)."""
        while True:
            try:
                cmd = self.pipe.recv()
            except (EOFError, OSError):
                cmd = ("quit",)
            self.loop.call_soon_threadsafe(self.command, cmd)
            if cmd[0] == "quit":
                return

    def command(self, cmd: tuple[Any, ...]) -> None:
        """Run ``cmd``: ``(name, *args)`` calls ``cmd_<name>(*args)`` (open, join, close,
        collect, heartbeats, chat_go), each answering on the pipe when done; ``("quit",)``
        closes every connection and ends the worker."""
        if self.done.done():
            return
        name, args = cmd[0], cmd[1:]
        if name == "quit":
            for clients in self.groups.values():
                for c in clients:
                    c.close()
            self.done.set_result(None)
            return
        coro = getattr(self, f"cmd_{name}")(*args)
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cmd_open(self, group: str, port: int, count: int, topics: list[str],
                       first: int) -> None:
        """Open ``count`` connections to ``port``, each joined to ``topics``; ``first`` is
        the global index of the first (it picks the source addresses)."""
        t0 = time.perf_counter()
        clients = self.groups.setdefault(group, [])
        sem = asyncio.Semaphore(MAX_OPENING)
        errors: list[str] = []

        async def one(i: int) -> None:
            async with sem:
                try:
                    c = await asyncio.wait_for(
                        self.open_one(self.sources[i % len(self.sources)], port, topics),
                        OPEN_TIMEOUT_S)
                    clients.append(c)
                except Exception as e:
                    errors.append(repr(e))

        await asyncio.gather(*(one(first + i) for i in range(count)))
        for topic in topics:
            self.subscribed[topic] = self.subscribed.get(topic, 0) + count - len(errors)
        self.pipe.send(("opened", count - len(errors), len(errors), time.perf_counter() - t0,
                        errors[:3]))

    async def open_one(self, source: str, port: int, topics: list[str]) -> Client:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((source, 0))
            await self.loop.sock_connect(sock, (self.host, port))
        except BaseException:
            sock.close()
            raise
        c = Client(self, sock)
        fut = c.pending = self.loop.create_future()
        self.loop.add_reader(c.fd, c.on_readable)
        try:
            c.write(upgrade_request(self.host, port))
            await fut
            for topic in topics:
                await c.join(topic)
        except BaseException:
            c.close()
            raise
        return c

    async def cmd_join(self, group: str, count: int, topic: str) -> None:
        """The first ``count`` connections of ``group`` also join ``topic``."""
        clients = self.groups.get(group, [])[:count]
        sem = asyncio.Semaphore(MAX_OPENING)
        failed = 0

        async def one(c: Client) -> None:
            nonlocal failed
            async with sem:
                try:
                    await asyncio.wait_for(c.join(topic), OPEN_TIMEOUT_S)
                except Exception:
                    failed += 1

        await asyncio.gather(*(one(c) for c in clients))
        self.subscribed[topic] = self.subscribed.get(topic, 0) + len(clients) - failed
        self.pipe.send(("joined", len(clients) - failed, failed))

    async def cmd_close(self, group: str) -> None:
        for c in self.groups.pop(group, []):
            for topic in c.joined:
                self.subscribed[topic] -= 1
            c.close()
        self.pipe.send(("closed",))

    async def cmd_collect(self) -> None:
        """Every broadcast arrival recorded so far (and forget them)."""
        out = {f"{t}|{r}": (self.kernel[(t, r)].tobytes(), self.read[(t, r)].tobytes())
               for (t, r) in self.kernel}
        self.kernel.clear()
        self.read.clear()
        self.counts.clear()
        self.pipe.send(("collected", out, self.lost))

    async def cmd_heartbeats(self) -> None:
        """Every connection sends a heartbeat every HEARTBEAT_S, spread over the interval."""
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            slot = tick % int(HEARTBEAT_S)
            for clients in self.groups.values():
                for c in clients[slot :: int(HEARTBEAT_S)]:
                    if c.fd >= 0:
                        c.send(None, "phoenix", "heartbeat", {})

    async def cmd_chat_go(self, group: str, topic: str, event: str, start_ns: int,
                          warm_ns: int, end_ns: int, window: int, body: str) -> None:
        """Every connection of ``group`` (joined to ``topic``) keeps ``window`` pushes of
        ``event`` in flight from ``start_ns`` to ``end_ns``, sending the next when the server
        acknowledges one; deliveries (of ``new_message`` broadcasts) and acknowledgements
        are counted from ``start_ns + warm_ns``; answers (deliveries, acknowledgements in
        the window, all acknowledgements)."""
        clients = self.groups[group]
        self.chat_topic = topic
        self.chat_event = event
        self.chat_body = body
        self.chat_deliveries = self.chat_acks = self.chat_window_acks = 0
        for c in clients:
            c.window = 0
        self.chat_from = start_ns + warm_ns
        self.chat_to = end_ns
        await asyncio.sleep(max(0.0, (start_ns - time.time_ns()) / 1e9))
        self.chat_on = True
        for c in clients:
            for _ in range(window):
                self.chat_send(c)
        await asyncio.sleep(max(0.0, (end_ns - time.time_ns()) / 1e9))
        self.chat_on = False
        await asyncio.sleep(0.5)  # acks and deliveries in flight
        self.pipe.send(("chat", self.chat_deliveries, self.chat_window_acks, self.chat_acks))

    def chat_send(self, c: Client) -> None:
        if c.fd < 0 or self.chat_topic is None:
            return
        c.window += 1
        c.send(c.joined[self.chat_topic], self.chat_topic, self.chat_event,
               {"t": time.time_ns(), "body": self.chat_body})

    async def run(self) -> None:
        threading.Thread(target=self.read_commands, daemon=True).start()
        await self.done


def worker_main(pipe: Connection, host: str, sources: list[str]) -> None:
    raise_nofile()

    async def main() -> None:
        await Worker(pipe, host, sources).run()

    uvloop.run(main())
    os._exit(0)


class Control:
    """A blocking connection from the orchestrator that triggers broadcasts. A thread reads
    and drops what the server sends (replies, its own copy of each broadcast) and another
    sends a heartbeat every few seconds, as phoenix.js does, so the server never closes it
    as idle."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(upgrade_request(host, port))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("control connection refused")
            buf += chunk
        if b" 101 " not in buf[: buf.find(b"\r\n")]:
            raise ConnectionError(buf[:200].decode(errors="replace"))
        self.ref = 0
        self.joined: dict[str, str] = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._discard, daemon=True).start()
        threading.Thread(target=self._heartbeat, daemon=True).start()

    def _discard(self) -> None:
        try:
            while self.sock.recv(1 << 20):
                pass
        except OSError:
            pass

    def _heartbeat(self) -> None:
        while not self.closed.wait(10.0):
            try:
                self.send(None, "phoenix", "heartbeat", {})
            except OSError:
                return

    def send(self, join_ref: str | None, topic: str, event: str, payload: Any) -> str:
        with self.lock:
            self.ref += 1
            ref = str(self.ref)
            if event == "phx_join":
                join_ref = ref
            self.sock.sendall(client_frame(orjson.dumps([join_ref, ref, topic, event,
                                                         payload])))
        return ref

    def join(self, topic: str) -> None:
        self.joined[topic] = self.send(None, topic, "phx_join", {})
        time.sleep(0.05)  # the server answers; the reader thread drops the reply

    def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        self.send(self.joined[topic], topic, "new_message", payload)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
