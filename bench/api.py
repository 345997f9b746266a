"""API benchmark: ``GET /api/v1/posts?page=1`` on a real Hearth node beside a bare aiohttp floor,
with the node on each of its two databases.

Run: ``.venv/bin/python bench/api.py`` (about seven minutes; ``--quick`` for one round of 3 s
per row; ``--profile 10`` adds a py-spy profile of each server under load; ``--backends
sqlite`` leaves PostgreSQL out).

The load generator is wrk (Debian's ``wrk``; ``apt-get install wrk``), one thread and
``--connections`` keep-alive connections (50), ``--latency`` for its percentiles. Three
servers, each in its own process on uvloop, alive side by side for the whole run, their
rounds taking turns so a burst of noise on the machine hits them alike:

- **sqlite** (the ``hearth`` of the summary line): ``hearth serve`` on a temporary SQLite
  database and config (``demo.seed = false``,
  ``server.access_log = false``, ``node.log_level = "warning"``, ``api.rate_limit`` one
  billion so the quota never refuses, ``auth.bcrypt_cost = 4`` to set up quickly: no
  password is checked while measuring). One user, an API key and 25 posts of ~400 characters
  each, made through the API itself; wrk sends ``X-API-Key``. Everything a real request
  crosses: session and API middlewares, the key looked up in SQLite, the quota counted in the
  RateLimiter, the page and the count read from the database, orjson, the ETag, gzip.
- **pg**: the same node with ``[repo] url`` on PostgreSQL: a throwaway cluster from Debian's
  ``postgresql`` binaries (``hearth.testing.postgres``: ``fsync`` off, ``synchronous_commit``
  on, as the tests run it), reached over TCP on loopback with a password; or the server of
  ``--pg-url`` (a database the script may drop and create).
- **floor**: a bare aiohttp application (this file, ``--serve-floor``) with one handler per
  path answering, from memory, the exact bytes Hearth answered for that path, as
  ``application/json``. No middleware, no database, no headers read.

Rows (every one alternates the two servers):

1. ``/api/v1/posts?page=1``, the target row: ``--rounds`` rounds (5) of ``--duration``
   seconds (10) per server;
2. the same with ``Accept-Encoding: gzip``: Hearth answers the gzipped body (compressed once,
   then from its cache); the floor ignores the header and sends the plain bytes;
3. the same with ``If-None-Match: <the ETag>``: Hearth answers 304 with no body; the floor
   sends the full 200;
4. ``/api/v2/posts?page=1`` (the JSON:API-style envelope); the floor sends Hearth's v2 bytes;
5. ``GET /api/v1/posts/<id>``, one post: unlike the pages, never kept rendered, so each
   request reads the database (the floor sends the post's bytes);
6. ``POST /api/v1/posts``, a new post each request (wrk's Lua ``wrk.method``/``wrk.body``):
   a write and its commit; the floor reads the body and answers 201 with the bytes of one.

Rows 2-6 take ``--secondary-rounds`` rounds (3) of ``--secondary-duration`` seconds (5). Each
server gets a short warm-up before the first row. Per row and server: the median and the best
requests/s over the rounds, wrk's p50 and p99 latency of the median round, the server's CPU
time per request (from ``/proc/PID/stat``: less noisy than requests/s on a shared machine),
and wrk's own CPU over the run (100% = one core: wrk, not the server, is then the limit).
wrk runs on the same two cores as the server it drives and is pinned to nothing.

``--profile SECONDS`` then loads each server once more with row 1: its threads' CPU over a
plain wrk run, and py-spy (``.venv/bin/pip install py-spy``) sampling whichever thread holds
the GIL, summed by function and by file (self time; coroutine stacks are cut at each
``await``, so inclusive shares would mislead).

The last line is one machine-readable summary; ``ratio`` is median hearth (SQLite)
requests/s over median floor requests/s of row 1, against the target of 0.60; ``pg_vs_sqlite``
is PostgreSQL's median over SQLite's on row 1, against the target of 0.80 (within 20%), and
``one_pg_vs_sqlite`` and ``post_pg_vs_sqlite`` the same for rows 5 and 6.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTH = os.path.join(ROOT, ".venv", "bin", "hearth")
HOST = "127.0.0.1"
TARGET = 0.60
PG_TARGET = 0.80
EMAIL = "bench@example.com"
PASSWORD = "bench-password-0123456789"
POSTS = 25
V1_PATH = "/api/v1/posts?page=1"
V2_PATH = "/api/v2/posts?page=1"
KINDS = ("sqlite", "pg", "floor")
NODES = ("sqlite", "pg")

CONFIG = """\
[node]
log_level = "warning"

[server]
host = "{host}"
port = {port}
access_log = false

[database]
path = "{db}"

[repo]
url = "{url}"

[auth]
bcrypt_cost = 4

[demo]
seed = false

[api]
rate_limit = 1000000000
"""


# -- the floor ----------------------------------------------------------------------------------


def serve_floor(files: str) -> None:
    """The floor's process: answer each posts path with its bytes, from memory (``files``:
    the v1 page, the v2 page, one post and a created post, comma-separated)."""
    import asyncio

    import uvloop
    from aiohttp import web

    bodies = []
    for name in files.split(","):
        with open(name, "rb") as f:
            bodies.append(f.read())
    v1, v2, one, created = bodies

    async def posts_v1(request: web.Request) -> web.Response:
        return web.Response(body=v1, content_type="application/json")

    async def posts_v2(request: web.Request) -> web.Response:
        return web.Response(body=v2, content_type="application/json")

    async def post_v1(request: web.Request) -> web.Response:
        return web.Response(body=one, content_type="application/json")

    async def create_v1(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=201, body=created, content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/api/v1/posts", posts_v1)
        app.router.add_get("/api/v2/posts", posts_v2)
        app.router.add_get("/api/v1/posts/{id}", post_v1)
        app.router.add_post("/api/v1/posts", create_v1)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0, backlog=1024)
        await site.start()
        print(json.dumps({"port": runner.addresses[0][1], "pid": os.getpid()}), flush=True)
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        def stdin_readable() -> None:
            if not done.done():
                done.set_result(None)

        loop.add_reader(sys.stdin.fileno(), stdin_readable)
        await done  # the parent closed our stdin: stop
        await runner.cleanup()

    uvloop.run(serve())


# -- helpers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One request: status, headers, body (error statuses included)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def commit() -> str:
    """The checkout's commit, and whether the tracked files differ from it."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return head + (" with uncommitted changes" if dirty else "")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _find(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    if m is None:
        raise ValueError(f"no {pattern!r}")
    return m.group(1)


@dataclass
class WrkResult:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    bad: int  # responses not 2xx or 3xx
    socket_errors: int
    cpu_us: float = 0.0  # server CPU per request
    wrk_cpu: float = 0.0  # wrk's CPU time over the run's wall time (one core = 1.0)


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int,
        pid: int, script: str | None = None) -> WrkResult:
    """One wrk run against ``url`` (with the Lua ``script``, if any); the server ``pid``'s
    CPU time is read around it."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if script is not None:
        cmd += ["-s", script]
    cmd.append(url)
    cpu0 = cpu_seconds(pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu_seconds(pid) - cpu0
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / wall
    try:
        rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
        requests = int(_find(r"(\d+) requests in", out))
        # wrk pads its latency figures with spaces ("1.05s ").
        lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
        p50, p99 = _ms(lat["50"]), _ms(lat["99"])
    except (AttributeError, KeyError, ValueError) as e:
        raise SystemExit(f"api: could not read wrk's output ({e!r}):\n{out}") from None
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return WrkResult(
        rps=rps,
        requests=requests,
        p50_ms=p50,
        p99_ms=p99,
        bad=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        cpu_us=cpu / max(1, requests) * 1e6,
        wrk_cpu=wrk_cpu,
    )


# -- the servers --------------------------------------------------------------------------------


class Hearth:
    """A real node: ``hearth serve`` on a temporary config and database (``url``, or a
    SQLite file of its own)."""

    def __init__(self, tmp: str, url: str = "") -> None:
        tmp = os.path.join(tmp, "pg" if url else "sqlite")
        os.makedirs(tmp)
        self.port = free_port()
        self.config = os.path.join(tmp, "config.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(host=HOST, port=self.port, db=os.path.join(tmp, "hearth.db"),
                                  url=url))
        self.log = open(os.path.join(tmp, "hearth.log"), "w+")  # noqa: SIM115
        created = subprocess.run(
            [HEARTH, "users", "create", "--config", self.config, "--email", EMAIL,
             "--role", "user"], input=PASSWORD + "\n", capture_output=True, text=True, cwd=tmp)
        if created.returncode != 0:
            raise SystemExit(f"api: hearth users create failed: {created.stderr.strip()}")
        self.proc = subprocess.Popen([HEARTH, "serve", "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp)
        self.pid = self.proc.pid
        self.base = f"http://{HOST}:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"api: hearth exited ({self.proc.returncode}):\n"
                                 f"{self.log.read()}")
            try:
                if http("GET", self.base + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("api: hearth did not answer /health in 60 s")
            time.sleep(0.2)

    def setup(self) -> str:
        """A token, an API key and the posts; returns the key (``bearer`` is kept)."""
        status, _, body = http("POST", self.base + "/api/v1/auth/token",
                               {"email": EMAIL, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"api: token refused ({status}): {body[:300]!r}")
        bearer = self.bearer = {"Authorization": f"Bearer {json.loads(body)['access_token']}"}
        status, _, body = http("POST", self.base + "/api/v1/api_keys", {"name": "bench"},
                               bearer)
        if status not in (200, 201):
            raise SystemExit(f"api: API key refused ({status}): {body[:300]!r}")
        key: str = json.loads(body)["key"]
        words = ["actor", "supervisor", "mailbox", "channel", "presence", "broadcast",
                 "socket", "process", "restart", "strategy", "monitor", "link", "registry"]
        for i in range(POSTS):
            text = " ".join(words[(i + j) % len(words)] for j in range(55))
            status, _, body = http("POST", self.base + "/api/v1/posts",
                                   {"title": f"Benchmark post number {i + 1}",
                                    "body": text[:400].rstrip() + "."}, bearer)
            if status != 201:
                raise SystemExit(f"api: post refused ({status}): {body[:300]!r}")
        return key

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Floor:
    """The bare aiohttp server, in its own process."""

    def __init__(self, files: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve-floor", ",".join(files)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.port: int = info["port"]
        self.pid: int = info["pid"]
        self.base = f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    path: str
    headers: dict[str, str]
    rounds: int
    seconds: float
    note: str
    script: str | None = None
    paths: dict[str, str] = field(default_factory=dict)  # a path of its own for a server
    runs: dict[str, list[WrkResult]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def median_run(self, kind: str) -> WrkResult:
        runs = sorted(self.runs[kind], key=lambda r: r.rps)
        return runs[(len(runs) - 1) // 2]

    def rps(self, kind: str) -> float:
        return statistics.median(r.rps for r in self.runs[kind])

    def best(self, kind: str) -> float:
        return max(r.rps for r in self.runs[kind])

    def cpu_us(self, kind: str) -> float:
        return statistics.median(r.cpu_us for r in self.runs[kind])

    def wrk_cpu(self, kind: str) -> float:
        return statistics.median(r.wrk_cpu for r in self.runs[kind])

    def ratio(self, kind: str = "sqlite", over: str = "floor") -> float:
        if not self.runs[kind] or not self.runs[over]:
            return float("nan")
        return self.rps(kind) / self.rps(over)

    def round_ratios(self, kind: str = "sqlite", over: str = "floor") -> list[float]:
        return [h.rps / f.rps for h, f in zip(self.runs[kind], self.runs[over], strict=True)]


POST_BODY = {"title": "A benchmark post", "body": "Written by wrk, one per request, " * 8}


def check_bodies(hearth: Hearth, key: str, tmp: str) -> tuple[list[str], str, dict[str, str]]:
    """Hearth's answers, fetched once: the floor's files (v1 page, v2 page, one post, a
    created post), the ETag, a few facts."""
    auth = {"X-API-Key": key}
    status, headers, v1 = http("GET", hearth.base + V1_PATH, headers=auth)
    if status != 200:
        raise SystemExit(f"api: {V1_PATH} answered {status}: {v1[:300]!r}")
    items = len(json.loads(v1)["data"])
    etag = headers.get("ETag") or headers.get("Etag")
    if etag is None:
        raise SystemExit(f"api: no ETag in {headers}")
    status, _, v2 = http("GET", hearth.base + V2_PATH, headers=auth)
    if status != 200:
        raise SystemExit(f"api: {V2_PATH} answered {status}: {v2[:300]!r}")
    status_gz, headers_gz, gz = http("GET", hearth.base + V1_PATH,
                                     headers={**auth, "Accept-Encoding": "gzip"})
    if status_gz != 200 or headers_gz.get("Content-Encoding") != "gzip" \
            or gzip.decompress(gz) != v1:
        raise SystemExit(f"api: the gzipped answer is not the plain one gzipped "
                         f"({status_gz}, {headers_gz.get('Content-Encoding')})")
    status_304, _, body_304 = http("GET", hearth.base + V1_PATH,
                                   headers={**auth, "If-None-Match": etag})
    if status_304 != 304 or body_304:
        raise SystemExit(f"api: If-None-Match answered {status_304}, not an empty 304")
    status, _, one = http("GET", hearth.base + one_path(hearth, key), headers=auth)
    if status != 200:
        raise SystemExit(f"api: one post answered {status}: {one[:300]!r}")
    status, _, created = http("POST", hearth.base + POST_PATH, POST_BODY, auth)
    if status != 201:
        raise SystemExit(f"api: POST {POST_PATH} answered {status}: {created[:300]!r}")
    files = []
    for name, body in (("v1", v1), ("v2", v2), ("one", one), ("created", created)):
        files.append(os.path.join(tmp, f"{name}.json"))
        with open(files[-1], "wb") as f:
            f.write(body)
    facts = {"items": str(items), "v1_bytes": str(len(v1)), "v2_bytes": str(len(v2)),
             "gzip_bytes": str(len(gz)), "one_bytes": str(len(one)),
             "headers": ", ".join(f"{k}: {v}" for k, v in headers.items())}
    return files, etag, facts


POST_PATH = "/api/v1/posts"


def one_path(hearth: Hearth, key: str) -> str:
    """The path of the newest post on ``hearth``'s page 1."""
    _, _, page = http("GET", hearth.base + V1_PATH, headers={"X-API-Key": key})
    return f"/api/v1/posts/{json.loads(page)['data'][0]['id']}"


def same_bytes(floor: Floor, path: str, expected_file: str) -> None:
    with open(expected_file, "rb") as f:
        expected = f.read()
    status, headers, body = http("GET", floor.base + path)
    if status != 200 or body != expected or headers.get("Content-Type") != "application/json":
        raise SystemExit(f"api: the floor's {path} is not Hearth's bytes")


def post_script(tmp: str) -> str:
    """wrk's Lua for row 6: every request a POST of a new post."""
    path = os.path.join(tmp, "post.lua")
    body = json.dumps(POST_BODY).replace("\\", "\\\\").replace("'", "\\'")
    with open(path, "w") as f:
        f.write(f"wrk.method = 'POST'\nwrk.body = '{body}'\n"
                "wrk.headers['Content-Type'] = 'application/json'\n")
    return path


def start_postgres(args: argparse.Namespace) -> tuple[str, Any]:
    """The URL of an empty database for the pg node, and what to stop at the end."""
    if args.pg_url:
        return args.pg_url, None
    sys.path.insert(0, ROOT)
    from hearth.testing.postgres import start_cluster

    cluster = start_cluster()
    subprocess.run([str(cluster.bindir / "createdb"), "-h", "127.0.0.1", "-p",
                    str(cluster.port), "-U", "hearth", "hearth"], check=True,
                   env={**os.environ, "PGPASSWORD": cluster.password})
    return cluster.url("hearth", tcp=True), cluster


def run(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="hearth-bench-api-")
    servers: dict[str, Any] = {}
    cluster = None
    kinds = [k for k in KINDS if k == "floor" or k in args.backends]
    try:
        t_setup = time.perf_counter()
        keys: dict[str, str] = {}
        for kind in kinds:
            if kind == "floor":
                continue
            url = ""
            if kind == "pg":
                url, cluster = start_postgres(args)
            servers[kind] = Hearth(tmp, url)
            keys[kind] = servers[kind].setup()
        first = servers[kinds[0]]
        files, etag, facts = check_bodies(first, keys[kinds[0]], tmp)
        floor = servers["floor"] = Floor(files)
        same_bytes(floor, V1_PATH, files[0])
        same_bytes(floor, V2_PATH, files[1])
        print(f"  page 1: {facts['items']} posts, v1 {facts['v1_bytes']} bytes "
              f"(gzipped {facts['gzip_bytes']}), v2 {facts['v2_bytes']} bytes, one post "
              f"{facts['one_bytes']} bytes; set up in {time.perf_counter() - t_setup:.1f} s",
              flush=True)
        print(f"  hearth's answer headers: {facts['headers']}", flush=True)

        auth = {k: {"X-API-Key": keys[k]} for k in keys}
        auth["floor"] = {"X-API-Key": keys[kinds[0]]}
        # Each node's ETag is its own (the posts' times differ): row 3 asks each for its own.
        etags = {k: _etag(servers[k], auth[k]) for k in keys}
        etags["floor"] = etag
        ones = {k: one_path(servers[k], keys[k]) for k in keys}
        ones["floor"] = ones[kinds[0]]
        script = post_script(tmp)
        rows = [
            Row("v1 page 1", V1_PATH, {}, args.rounds, args.duration, ""),
            Row("v1 page 1, Accept-Encoding: gzip", V1_PATH, {"Accept-Encoding": "gzip"},
                args.secondary_rounds, args.secondary_duration,
                "hearth gzips (cached); floor sends plain"),
            Row("v1 page 1, If-None-Match", V1_PATH, {}, args.secondary_rounds,
                args.secondary_duration, "hearth 304, no body; floor full 200"),
            Row("v2 page 1", V2_PATH, {}, args.secondary_rounds, args.secondary_duration,
                ""),
            Row("v1 one post (a read each)", "", {}, args.secondary_rounds,
                args.secondary_duration, "never cached: each request reads the post",
                paths=ones),
            Row("v1 POST a post (a write each)", POST_PATH, {}, args.secondary_rounds,
                args.secondary_duration, "a new post per request; floor answers 201",
                script=script),
        ]
        for kind in kinds:  # warm-up, not counted
            s = servers[kind]
            wrk(s.base + V1_PATH, auth[kind], args.warmup, args.connections, s.pid)
        for row in rows:
            for r in range(row.rounds):
                order = kinds if r % 2 == 0 else list(reversed(kinds))
                for kind in order:
                    s = servers[kind]
                    headers = {**auth[kind], **row.headers}
                    if row.name == "v1 page 1, If-None-Match":
                        headers["If-None-Match"] = etags[kind]
                    path = row.paths.get(kind, row.path)
                    res = wrk(s.base + path, headers, row.seconds, args.connections, s.pid,
                              row.script)
                    row.runs[kind].append(res)
                    if res.bad or res.socket_errors:
                        print(f"  ! {kind} {row.name}: {res.bad} responses not 2xx/3xx, "
                              f"{res.socket_errors} socket errors", flush=True)
                time.sleep(0.5)
                print(f"  {row.name}, round {r + 1}: "
                      + ", ".join(f"{k} {row.runs[k][-1].rps:,.0f}/s" for k in kinds),
                      flush=True)

        profile = None
        if args.profile:
            profile = "\n".join(py_spy(kind, servers[kind], rows[0], auth[kind], args)
                                for kind in kinds)
    finally:
        for s in servers.values():
            s.stop()
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    report(rows, kinds, args)
    if profile:
        print(profile)
    main_row, one_row, post_row = rows[0], rows[4], rows[5]
    h, f = main_row.rps("sqlite"), main_row.rps("floor")
    ratio = h / f
    hm = main_row.median_run("sqlite")
    fm = main_row.median_run("floor")
    line = (f"api: hearth_rps={h:.0f} floor_rps={f:.0f} ratio={ratio:.2f} "
            f"ratio_best={main_row.best('sqlite') / main_row.best('floor'):.2f} "
            f"hearth_p50_ms={hm.p50_ms:.2f} hearth_p99_ms={hm.p99_ms:.2f} "
            f"floor_p50_ms={fm.p50_ms:.2f} floor_p99_ms={fm.p99_ms:.2f} "
            f"hearth_cpu_us={main_row.cpu_us('sqlite'):.0f} "
            f"floor_cpu_us={main_row.cpu_us('floor'):.0f} "
            f"gzip_ratio={rows[1].ratio():.2f} not_modified_ratio={rows[2].ratio():.2f} "
            f"v2_ratio={rows[3].ratio():.2f} target={TARGET:.2f} "
            f"met={'yes' if ratio >= TARGET else 'no'}")
    if "pg" in kinds:
        vs = main_row.ratio("pg", "sqlite")
        pm = main_row.median_run("pg")
        line += (f" pg_rps={main_row.rps('pg'):.0f} pg_p50_ms={pm.p50_ms:.2f} "
                 f"pg_p99_ms={pm.p99_ms:.2f} pg_cpu_us={main_row.cpu_us('pg'):.0f} "
                 f"pg_vs_sqlite={vs:.2f} one_rps_sqlite={one_row.rps('sqlite'):.0f} "
                 f"one_rps_pg={one_row.rps('pg'):.0f} "
                 f"one_pg_vs_sqlite={one_row.ratio('pg', 'sqlite'):.2f} "
                 f"post_rps_sqlite={post_row.rps('sqlite'):.0f} "
                 f"post_rps_pg={post_row.rps('pg'):.0f} "
                 f"post_pg_vs_sqlite={post_row.ratio('pg', 'sqlite'):.2f} "
                 f"pg_target={PG_TARGET:.2f} pg_met={'yes' if vs >= PG_TARGET else 'no'}")
    print(line)


def _etag(server: Hearth, auth: dict[str, str]) -> str:
    _, headers, _ = http("GET", server.base + V1_PATH, headers=auth)
    return headers.get("ETag") or headers.get("Etag") or ""


def report(rows: list[Row], kinds: list[str], args: argparse.Namespace) -> None:
    print()
    print(f"{'row':<34}{'server':>8}{'rps median':>12}{'rps best':>10}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'CPU us/req':>12}{'wrk CPU':>9}{'÷ floor':>9}{'÷ sqlite':>9}")
    for row in rows:
        for n, kind in enumerate(kinds):
            m = row.median_run(kind)
            over_floor = f"{row.ratio(kind):.2f}" if kind != "floor" else ""
            over_sqlite = f"{row.ratio(kind, 'sqlite'):.2f}" if kind == "pg" else ""
            print(f"{row.name if n == 0 else '':<34}{kind:>8}{row.rps(kind):>12,.0f}"
                  f"{row.best(kind):>10,.0f}{m.p50_ms:>9.2f}{m.p99_ms:>9.2f}"
                  f"{row.cpu_us(kind):>12.1f}{row.wrk_cpu(kind):>9.0%}{over_floor:>9}"
                  f"{over_sqlite:>9}")
        bad = sum(r.bad + r.socket_errors for k in kinds for r in row.runs[k])
        rr = ", ".join(f"{x:.2f}" for x in row.round_ratios())
        extra = ""
        if "pg" in kinds:
            extra = "; pg ÷ sqlite per round: " + ", ".join(
                f"{x:.2f}" for x in row.round_ratios("pg", "sqlite"))
        print(f"{'':<34}(rounds {row.rounds} x {row.seconds:g} s; sqlite ÷ floor per round: "
              f"{rr}{extra}{'; ' + row.note if row.note else ''}"
              f"{f'; {bad} errors' if bad else ''})")
    print(f"(wrk -t1 -c{args.connections}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at the end)")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid``, by ``tid name``."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[f"{tid} {name}"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def py_spy(kind: str, server: Hearth | Floor, row: Row, auth: dict[str, str],
           args: argparse.Namespace) -> str:
    """Profile a server under wrk load (``row``'s request) for ``--profile`` seconds: CPU
    per thread over a plain wrk run, then py-spy's samples of whichever thread holds the GIL
    (``--gil``), as the hottest functions and files by share of samples (self time)."""
    seconds = args.profile
    headers = [x for k, v in {**auth, **row.headers}.items() for x in ("-H", f"{k}: {v}")]
    wrk_cmd = ["wrk", "-t1", f"-c{args.connections}", "--timeout", "5s", *headers,
               server.base + row.path]
    before = thread_cpu(server.pid)
    t0 = time.perf_counter()
    plain = subprocess.run([*wrk_cmd[:3], f"-d{seconds:g}s", *wrk_cmd[3:]],
                           capture_output=True, text=True, check=True).stdout
    requests = int(_find(r"(\d+) requests in", plain))
    wall = time.perf_counter() - t0
    after = thread_cpu(server.pid)
    busy = sorted(((after[t] - before.get(t, 0.0)) / wall, t) for t in after)
    label = {str(server.pid): "event loop"}
    out = [f"profile of {kind}: its threads' CPU over a plain {seconds:g} s wrk run, "
           f"{requests / wall:,.0f} requests/s (one core = 100%): "
           + ", ".join(f"{label.get(name.split()[0], 'thread ' + name.split()[0])} {share:.0%}"
                       for share, name in reversed(busy) if share >= 0.01)
           + "; other threads under 1%"]
    spy = shutil.which("py-spy") or os.path.join(ROOT, ".venv", "bin", "py-spy")
    if not os.path.exists(spy):
        return "\n".join([*out, "profile: no py-spy (.venv/bin/pip install py-spy)"])
    raw = os.path.join(tempfile.mkdtemp(prefix="hearth-bench-spy-"), "profile.txt")
    load = subprocess.Popen([*wrk_cmd[:3], f"-d{seconds + 3:g}s", *wrk_cmd[3:]],
                            stdout=subprocess.DEVNULL)
    time.sleep(1)
    spied = subprocess.run([spy, "record", "--pid", str(server.pid), "-d", f"{seconds:g}",
                            "-r", "200", "--gil", "--nonblocking", "--format", "raw",
                            "-o", raw], capture_output=True, text=True, check=False)
    load.wait()
    if spied.returncode != 0:
        return "\n".join([*out, f"profile: py-spy failed: {spied.stderr.strip()[-500:]}"])
    out.append(summarise_profile(raw))
    shutil.rmtree(os.path.dirname(raw), ignore_errors=True)
    return "\n".join(out)


def summarise_profile(raw: str, top: int = 20) -> str:
    """py-spy's raw output (collapsed stacks) as the top functions and files by self share.
    (Coroutine stacks are cut at each ``await``, so inclusive shares would mislead.)"""
    by_function: dict[str, int] = {}
    by_file: dict[str, int] = {}
    samples = 0
    with open(raw) as f:
        lines = f.read().splitlines()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        leaf = _frame(stack.split(";")[-1])
        by_function[leaf] = by_function.get(leaf, 0) + n
        where = leaf[leaf.find("(") + 1:-1] if leaf.endswith(")") else leaf
        by_file[where] = by_file.get(where, 0) + n
    out = [f"  {samples} py-spy samples (--gil, 200/s) under wrk; self time"]
    for title, table, n_top in (("functions", by_function, top), ("files", by_file, 12)):
        out.append(f"  by {title}:")
        for name, n in sorted(table.items(), key=lambda x: -x[1])[:n_top]:
            out.append(f"    {n / max(1, samples):6.1%}  {name}")
    return "\n".join(out)


def _frame(text: str) -> str:
    """``func (path/file.py:12)`` without the line number and with a shorter path."""
    text = re.sub(r":\d+\)$", ")", text)
    text = text.replace(ROOT + "/", "")
    return re.sub(r"\S*/site-packages/", "", text)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-floor":
        serve_floor(sys.argv[2])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one round of 3 s per row")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per round, row 1")
    p.add_argument("--secondary-rounds", type=int, default=3)
    p.add_argument("--secondary-duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                   help="then profile the node with py-spy for this long under load")
    p.add_argument("--backends", default="sqlite,pg",
                   help="the nodes' databases: sqlite,pg (the default) or sqlite")
    p.add_argument("--pg-url", default="",
                   help="an empty PostgreSQL database for the pg node (default: a throwaway "
                        "cluster from Debian's postgresql binaries)")
    args = p.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "sqlite" not in args.backends or set(args.backends) - set(NODES):
        p.error("--backends takes sqlite, or sqlite,pg")
    if args.quick:
        args.rounds = args.secondary_rounds = 1
        args.duration = args.secondary_duration = 3.0
        args.warmup = 1.0
    if shutil.which("wrk") is None:
        print("api: wrk is not installed; on Debian: apt-get install wrk", file=sys.stderr)
        raise SystemExit(2)
    if not os.path.exists(HEARTH):
        print(f"api: no {HEARTH}; run `make serve` or `make test` once to create .venv",
              file=sys.stderr)
        raise SystemExit(2)
    print(f"api: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"wrk -t1 -c{args.connections}; hearth at {commit()}", flush=True)
    run(args)


if __name__ == "__main__":
    main()
