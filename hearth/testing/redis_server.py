"""A throwaway Redis for tests: Debian's ``redis-server`` on a free loopback port, nothing
saved to disk (``--save '' --appendonly no``).

:func:`start_redis` starts one and waits until it answers; :meth:`RedisServer.stop` ends it
(SIGTERM, as an operator's restart would), :meth:`RedisServer.kill` cuts it off (SIGKILL) and
:meth:`RedisServer.start` brings it back on the same port, empty, as a restarted Redis
without persistence is.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth.testing.ports import free_port as _free_port

__all__ = ["RedisError", "RedisServer", "find_redis_server", "start_redis"]

START_TIMEOUT = 20.0


class RedisError(RuntimeError):
    """redis-server is missing or would not start; the message says which and why."""


def find_redis_server() -> str | None:
    """The ``redis-server`` executable, or ``None``."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


@dataclass
class RedisServer:
    """A running (or stopped) redis-server on ``port``."""

    binary: str
    port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start it (again) on its port and wait until it answers PING."""
        if self.running:
            return
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
             "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RedisError("redis-server exited at start:\n" + self.log_tail())
            if self._pong():
                return
            time.sleep(0.02)  # polling a starting server, not synchronising a test
        raise RedisError("redis-server did not answer in time:\n" + self.log_tail())

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, and wait until it has exited."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, and wait until it has exited."""
        self._end(signal.SIGKILL)

    def _end(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "redis.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_redis(directory: Path) -> RedisServer:
    """A redis-server on a free port, its files in ``directory``; raises :class:`RedisError`
    when Debian's ``redis-server`` is not installed (``apt-get install redis-server``;
    ``.ci/run`` does it)."""
    binary = find_redis_server()
    if binary is None:
        raise RedisError("redis-server is not installed: apt-get install -y redis-server "
                         "(.ci/run installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(binary, _free_port(), directory)
    server.start()
    return server
