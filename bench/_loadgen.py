"""The load generator of ``bench/channels.py`` and ``bench/run_all.py``: worker processes,
each holding many raw WebSocket connections, and a blocking control connection.

A connection speaks one of three protocols, each an adapter below with the same few
operations (the upgrade path, join, push, parse), so the client side costs the same whatever
server it drives:

- ``phoenix``: Phoenix V2 JSON arrays (Hearth, the bare aiohttp floor);
- ``socketio``: Engine.IO v4 / Socket.IO v5 over a raw WebSocket (python-socketio): the
  server's open packet ``0{...}`` is answered with ``40``, a join is the event
  ``42<ack>["join",topic]``, a push ``42<ack>["new_message",{"topic":...,"payload":...}]``,
  answers come back as ``43<ack>[...]``, the server's ping ``2`` is answered ``3``;
- ``json``: plain JSON objects (Django Channels): ``{"ref","topic","event","payload"}`` in,
  ``{"ref","status"}`` replies and ``{"topic","event","payload"}`` broadcasts out.

WebSocket ping frames (uvicorn sends them) are answered with pongs for every protocol.

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

# What :func:`parse` of an adapter found in a text frame: (kind, a, b).
OTHER = 0
BCAST = 1  # (topic, payload): a broadcast
REPLY = 2  # (ref, ok): the answer to a join or a push
ANSWER = 3  # (text to send back, None): a protocol-level ping or open packet to answer
OPEN = 4  # (None, None): the application-level handshake is complete


class Phoenix:
    """Phoenix V2: ``[join_ref, ref, topic, event, payload]``."""

    path = "/socket/websocket?vsn=2.0.0"
    subprotocol: str | None = "phoenix"
    opens = False  # no handshake after the upgrade
    heartbeats = True  # the client sends one every HEARTBEAT_S

    @staticmethod
    def join(ref: str, topic: str) -> bytes:
        return orjson.dumps([ref, ref, topic, "phx_join", {}])

    @staticmethod
    def push(join_ref: str | None, ref: str, topic: str, event: str, payload: Any) -> bytes:
        return orjson.dumps([join_ref, ref, topic, event, payload])

    @staticmethod
    def parse(data: bytes) -> tuple[int, Any, Any]:
        msg = orjson.loads(data)
        if msg[0] is None and msg[1] is None:
            return BCAST, msg[2], msg[4]
        if msg[3] == "phx_reply":
            return REPLY, msg[1], msg[4].get("status") == "ok"
        return OTHER, None, None


class SocketIO:
    """Engine.IO v4 / Socket.IO v5 on the default namespace, WebSocket transport only."""

    path = "/socket.io/?EIO=4&transport=websocket"
    subprotocol: str | None = None
    opens = True  # 0{...} from the server, 40 from us, 40{...} from the server
    heartbeats = False  # the server pings (``2``), the client answers (``3``)

    @staticmethod
    def join(ref: str, topic: str) -> bytes:
        return b"42" + ref.encode() + orjson.dumps(["join", topic])

    @staticmethod
    def push(join_ref: str | None, ref: str, topic: str, event: str, payload: Any) -> bytes:
        return b"42" + ref.encode() + orjson.dumps([event, {"topic": topic, "payload": payload}])

    @staticmethod
    def parse(data: bytes) -> tuple[int, Any, Any]:
        if data[:2] == b"42":  # an event (a broadcast)
            d = orjson.loads(data[data.index(b"[", 2):])[1]
            return BCAST, d["topic"], d["payload"]
        if data[:2] == b"43":  # an acknowledgement
            i = data.index(b"[", 2)
            return REPLY, data[2:i].decode(), orjson.loads(data[i:])[0] == "ok"
        if data == b"2":
            return ANSWER, b"3", None
        if data[:1] == b"0":
            return ANSWER, b"40", None
        if data[:2] == b"40":
            return OPEN, None, None
        return OTHER, None, None


class Json:
    """Plain JSON objects, as a Django Channels consumer would define them."""

    path = "/ws/"
    subprotocol: str | None = None
    opens = False
    heartbeats = False

    @staticmethod
    def join(ref: str, topic: str) -> bytes:
        return orjson.dumps({"ref": ref, "topic": topic, "event": "join"})

    @staticmethod
    def push(join_ref: str | None, ref: str, topic: str, event: str, payload: Any) -> bytes:
        return orjson.dumps({"ref": ref, "topic": topic, "event": event, "payload": payload})

    @staticmethod
    def parse(data: bytes) -> tuple[int, Any, Any]:
        msg = orjson.loads(data)
        ref = msg.get("ref")
        if ref is not None:
            return REPLY, ref, msg.get("status") == "ok"
        return BCAST, msg["topic"], msg["payload"]


PROTOCOLS: dict[str, Any] = {"phoenix": Phoenix, "socketio": SocketIO, "json": Json}


def raise_nofile() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def client_frame(data: bytes, opcode: int = 1) -> bytes:
    """A masked frame (FIN set, a text frame unless ``opcode`` says) with the zero mask key."""
    n = len(data)
    first = 0x80 | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + b"\0\0\0\0" + data


def upgrade_request(host: str, port: int, proto: Any = Phoenix) -> bytes:
    sub = (f"Sec-WebSocket-Protocol: {proto.subprotocol}\r\n"
           if proto.subprotocol else "")
    return (
        f"GET {proto.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"{sub}\r\n"
    ).encode()


class Client:
    """One connection of a worker."""

    __slots__ = (
        "buf",
        "chat_ref",
        "fd",
        "joined",
        "outbox",
        "pending",
        "pending_ref",
        "proto",
        "ref",
        "sock",
        "upgraded",
        "window",
        "worker",
    )

    def __init__(self, worker: Worker, sock: socket.socket, proto: Any = Phoenix) -> None:
        self.worker = worker
        self.proto = proto
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
        self.chat_ref: str | None = None  # the ref of the chat message in flight

    def send(self, join_ref: str | None, topic: str, event: str, payload: Any) -> str:
        self.ref += 1
        ref = str(self.ref)
        self.write(client_frame(self.proto.push(join_ref, ref, topic, event, payload)))
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
        self.write(client_frame(self.proto.join(ref, topic)))
        if not await fut:
            raise RuntimeError(f"join {topic} refused")
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
            if not self.proto.opens:  # else the open handshake resolves ``pending``
                self.opened()
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
            elif opcode == 9:  # a WebSocket ping: pong
                self.write(client_frame(buf[start:i], 0xA))
            elif opcode == 8:
                self.lost()
                return
        self.buf = buf[i:] if i < n else b""

    def opened(self) -> None:
        fut, self.pending = self.pending, None
        if fut is not None and not fut.done():
            fut.set_result(None)

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
        kind, a, b = client.proto.parse(data)
        if kind == BCAST:
            topic, payload = a, b
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
        if kind == ANSWER:
            client.write(client_frame(a))
            return
        if kind == OPEN:
            client.opened()
            return
        if kind != REPLY:
            return
        if a == client.pending_ref:
            fut, client.pending, client.pending_ref = client.pending, None, None
            if fut is not None and not fut.done():
                fut.set_result(b)
            return
        if a is not None and a == client.chat_ref:
            # A chat message acknowledged: send the next while the window is open.
            client.chat_ref = None
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
                       first: int, proto: str = "phoenix") -> None:
        """Open ``count`` connections to ``port``, each joined to ``topics``, speaking
        ``proto`` (a key of PROTOCOLS); ``first`` is the global index of the first (it picks
        the source addresses)."""
        t0 = time.perf_counter()
        clients = self.groups.setdefault(group, [])
        sem = asyncio.Semaphore(MAX_OPENING)
        errors: list[str] = []

        async def one(i: int) -> None:
            async with sem:
                try:
                    c = await asyncio.wait_for(
                        self.open_one(self.sources[i % len(self.sources)], port, topics,
                                      PROTOCOLS[proto]),
                        OPEN_TIMEOUT_S)
                    clients.append(c)
                except Exception as e:
                    errors.append(repr(e))

        await asyncio.gather(*(one(first + i) for i in range(count)))
        for topic in topics:
            self.subscribed[topic] = self.subscribed.get(topic, 0) + count - len(errors)
        self.pipe.send(("opened", count - len(errors), len(errors), time.perf_counter() - t0,
                        errors[:3]))

    async def open_one(self, source: str, port: int, topics: list[str],
                       proto: Any = Phoenix) -> Client:
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
        c = Client(self, sock, proto)
        fut = c.pending = self.loop.create_future()
        self.loop.add_reader(c.fd, c.on_readable)
        try:
            c.write(upgrade_request(self.host, port, proto))
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
                    if c.fd >= 0 and c.proto.heartbeats:
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
        if c.fd < 0 or self.chat_topic is None or self.chat_topic not in c.joined:
            return
        c.window += 1
        c.chat_ref = c.send(c.joined[self.chat_topic], self.chat_topic, self.chat_event,
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


def stop_workers(pipes: list[Connection], procs: list[Any]) -> None:
    """Tell each worker process to quit, and kill one that has not within 30 s."""
    for p in pipes:
        try:
            p.send(("quit",))
        except OSError:
            pass
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()


def server_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete (unmasked) frames at the start of ``buf``, as (opcode, payload), and
    the bytes left over."""
    frames = []
    i, n = 0, len(buf)
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
        frames.append((buf[i] & 0x0F, buf[i + head : i + head + length]))
        i += head + length
    return frames, buf[i:]


class Control:
    """A blocking connection from the orchestrator that triggers broadcasts, speaking
    ``proto`` (a key of PROTOCOLS). A thread reads what the server sends, answers its pings
    and drops the rest (replies, its own copy of each broadcast); for Phoenix another sends
    a heartbeat every few seconds, as phoenix.js does, so the server never closes it as
    idle."""

    def __init__(self, host: str, port: int, proto: str = "phoenix") -> None:
        self.proto = PROTOCOLS[proto]
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(upgrade_request(host, port, self.proto))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("control connection refused")
            buf += chunk
        if b" 101 " not in buf[: buf.find(b"\r\n")]:
            raise ConnectionError(buf[:200].decode(errors="replace"))
        self.buf = buf[buf.find(b"\r\n\r\n") + 4 :]
        self.ref = 0
        self.joined: dict[str, str] = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        if self.proto.opens:
            while not self._read_once():
                pass
        threading.Thread(target=self._discard, daemon=True).start()
        if self.proto.heartbeats:
            threading.Thread(target=self._heartbeat, daemon=True).start()

    def _read_once(self) -> bool:
        """Read and handle what the server sent; True once the open handshake is done."""
        frames, self.buf = server_frames(self.buf)
        opened = False
        for opcode, data in frames:
            if opcode == 9:
                with self.lock:
                    self.sock.sendall(client_frame(data, 0xA))
            elif opcode == 1:
                kind, a, _b = self.proto.parse(data)
                if kind == ANSWER:
                    with self.lock:
                        self.sock.sendall(client_frame(a))
                opened = opened or kind == OPEN
        if opened:
            return True
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("control connection closed")
        self.buf += chunk
        return False

    def _discard(self) -> None:
        try:
            while True:
                self._read_once()
        except (OSError, ValueError):
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
                frame = self.proto.join(ref, topic)
            else:
                frame = self.proto.push(join_ref, ref, topic, event, payload)
            self.sock.sendall(client_frame(frame))
        return ref

    def join(self, topic: str) -> None:
        self.joined[topic] = self.send(None, topic, "phx_join", {})
        time.sleep(0.05)  # the server answers; the reader thread drops the reply

    def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        self.send(self.joined[topic], topic, "new_message", payload)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
