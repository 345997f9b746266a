"""The npm ``phoenix`` client, run by Node, against a real server.

Each scenario is a Node script under ``js/`` that drives phoenix.js (over ``ws``, or its
long-poll transport) and prints what it observes as JSON lines; :class:`Script` reads them
as events, and a test waits on events, never on time. A test that must act on the server at
a given point (disconnect a socket, kill a channel) waits for the script's event, acts, and
tells the script to go on with a line on its stdin.

Node and the npm packages (``package.json``, installed by ``make test``) are required: without
them these tests fail, saying what is missing, rather than skip.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import otp
from channels.handler import Limits
from channels.presence import presence_spec
from hearth import names
from otp import Supervisor

from ..channels.conftest import Serve, Server, node, serve  # noqa: F401 (fixtures)
from ._app import TRACKER, InteropSocket

ROOT = Path(__file__).resolve().parents[2]
JS = Path(__file__).resolve().parent / "js"
WAIT = 10.0
"""Seconds to wait for one event (generous: a loaded CI machine starting Node)."""

MIN_NODE = 18  # global fetch and AbortController, which phoenix.js's long-poll needs


def _fail_setup(message: str) -> None:
    pytest.fail(f"phoenix.js interop: {message}", pytrace=False)


@pytest.fixture(scope="session")
def node_bin() -> str:
    """The ``node`` executable, with the pinned npm packages installed; fails (never skips)
    when something is missing."""
    node_path = shutil.which("node")
    if node_path is None:
        _fail_setup("`node` is not on PATH. Install Node.js >= 18 and npm "
                    "(`apt-get install -y nodejs npm`; .ci/run does it), then `make test`.")
    assert node_path is not None
    version = subprocess.run([node_path, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE:
        _fail_setup(f"Node.js >= {MIN_NODE} is needed, `node --version` says {version!r}.")
    manifest = json.loads((ROOT / "package.json").read_text())
    pinned = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    for package in ("phoenix", "ws"):
        installed_manifest = ROOT / "node_modules" / package / "package.json"
        if not installed_manifest.exists():
            _fail_setup(f"the npm package {package!r} is not installed in {ROOT}/node_modules: "
                        "run `make test` (it runs `npm ci`), or `npm ci` yourself.")
        installed = json.loads(installed_manifest.read_text())["version"]
        if installed != pinned[package]:
            _fail_setup(f"node_modules has {package} {installed}, package.json pins "
                        f"{pinned[package]}: run `npm ci`.")
    return node_path


class Script:
    """A running scenario: its events so far, and the stdin to command it."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.cursor = 0  # events before it were taken by expect()
        self.stderr = bytearray()
        assert proc.stderr is not None
        self._stderr_task = asyncio.get_running_loop().create_task(self._drain(proc.stderr))

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr.extend(chunk)

    def transcript(self) -> str:
        lines = "\n".join(json.dumps(e) for e in self.events)
        err = self.stderr.decode(errors="replace").strip()
        return (f"--- {self.name} events ---\n{lines}"
                + (f"\n--- {self.name} stderr ---\n{err}" if err else ""))

    async def _read(self, deadline: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(),
                                          max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise AssertionError(f"{self.name}: no event in time\n{self.transcript()}") from None
        if not line:
            await self.proc.wait()
            await self._stderr_task
            raise AssertionError(f"{self.name}: exited ({self.proc.returncode}) before the "
                                 f"expected event\n{self.transcript()}")
        try:
            event: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            event = {"event": "stdout", "line": line.decode(errors="replace").rstrip()}
        self.events.append(event)
        if event["event"] in ("failed", "watchdog"):
            raise AssertionError(f"{self.name}: {event['reason']}\n{self.transcript()}")
        return event

    async def expect(
        self,
        event: str,
        timeout: float = WAIT,
        where: Callable[[dict[str, Any]], bool] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """The next ``event`` (after the last one expected) whose ``fields`` have these
        values and for which ``where`` holds; the events skipped stay in :attr:`events`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            while self.cursor < len(self.events):
                candidate = self.events[self.cursor]
                self.cursor += 1
                if (
                    candidate["event"] == event
                    and all(candidate.get(k) == v for k, v in fields.items())
                    and (where is None or where(candidate))
                ):
                    return candidate
            await self._read(deadline)

    def seen(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        """Every ``event`` read so far with these field values."""
        return [e for e in self.events
                if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]

    async def send(self, **command: Any) -> None:
        """One command line for the script's ``command()``."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self, timeout: float = WAIT) -> dict[str, Any]:
        """The ``done`` event, and the script's successful exit."""
        done = await self.expect("done", timeout)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: did not exit\n{self.transcript()}") from None
        await self._stderr_task
        assert code == 0, f"{self.name}: exit status {code}\n{self.transcript()}"
        return done

    async def kill(self) -> None:
        """SIGKILL: the connection drops with no goodbye."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self._stderr_task


Run = Callable[..., Awaitable[Script]]


@pytest.fixture
async def run_js(node_bin: str) -> AsyncIterator[Run]:
    """``await run_js("scenario.mjs", server.url, *args)``: the scenario, started."""
    started: list[Script] = []

    async def run(scenario: str, url: str, *args: str, name: str | None = None) -> Script:
        proc = await asyncio.create_subprocess_exec(
            node_bin, str(JS / scenario), url, *args,
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            limit=1 << 20,
        )
        script = Script(name or scenario, proc)
        started.append(script)
        return script

    yield run
    for script in started:
        await script.kill()


@pytest.fixture
async def interop(serve: Serve) -> AsyncIterator[Server]:  # noqa: F811
    """The interop socket (rooms, presence, a WebSocket refusal) with a Presence tracker."""
    sup = await Supervisor.start(
        [presence_spec(TRACKER, names.PUBSUB, shards=2, broadcast_window=0.02)],
        name="interop.presence.sup",
    )
    yield await serve(handler=InteropSocket(), limits=Limits())
    if sup is not None and otp.is_alive(sup):
        await otp.stop(sup, "shutdown")
