"""A throwaway PostgreSQL cluster for tests, from the server's own binaries (Debian's
``postgresql`` package: ``/usr/lib/postgresql/<version>/bin``).

:func:`start_cluster` runs ``initdb`` into a new temporary directory and ``pg_ctl start`` on
a free port, with the Unix socket in that directory too; :meth:`Cluster.destroy` stops it and
removes the directory. The cluster's superuser is ``hearth``, trusted on the Unix socket and
asked its password (:attr:`Cluster.password`) over TCP, so tests can try a wrong one. The
server runs without ``fsync`` (a test's data need not survive the machine), but commits
wait for their WAL to be written (``synchronous_commit``), so a server killed with
``pg_ctl stop -m immediate`` keeps every commit it acknowledged.

PostgreSQL refuses to run as root: when the tests do, the server runs as the ``postgres``
account that Debian's package makes (or ``nobody``), and the directory is given to it.

``python -m hearth.testing.postgres`` starts one, prints its URL and runs until stopped
(for trying things by hand).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from hearth.testing.ports import free_port as _free_port

__all__ = ["Cluster", "ClusterError", "find_binaries", "start_cluster"]

SUPERUSER = "hearth"
START_TIMEOUT = 60


class ClusterError(RuntimeError):
    """The cluster could not be made or started; the message carries the server's log."""


def find_binaries() -> Path | None:
    """The directory of the newest installed server's ``initdb`` and ``pg_ctl``, or
    ``None``."""
    found = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            with contextlib.suppress(ValueError):
                found.append((float(bindir.parent.name), bindir))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _server_user() -> str | None:
    """The account the server runs as when the tests run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ClusterError("running as root, and there is no postgres or nobody account to run "
                       "the server as")


@dataclass
class Cluster:
    """A running throwaway cluster."""

    root: Path
    bindir: Path
    port: int
    password: str = field(repr=False)
    user: str | None = None
    """The account the server runs as, if not this process's."""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres", *, tcp: bool = False,
            password: str | None = None) -> str:
        """The URL of ``database``: on the Unix socket (no password), or with ``tcp`` on
        127.0.0.1 with the password (``password`` for another)."""
        if tcp:
            secret = quote(self.password if password is None else password, safe="")
            return f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{self.port}/{database}"
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}&port={self.port}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], user=self.user,
                              capture_output=True, text=True, timeout=START_TIMEOUT + 30,
                              cwd=self.root)
        if check and done.returncode != 0:
            raise ClusterError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}\n"
                               f"{self.server_log()}")
        return done

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self) -> None:
        """Start the server (again) on its port; returns once it accepts connections."""
        options = " ".join([
            f"-c port={self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.root}",
            "-c fsync=off",
            "-c full_page_writes=off",
            "-c synchronous_commit=on",
            "-c max_connections=300",
            "-c shared_buffers=32MB",
        ])
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", str(START_TIMEOUT), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: ``fast`` (sessions ended, a clean shutdown) or
        ``immediate`` (every server process killed at once, as a crash; the next start
        recovers from the WAL)."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w",
                  "-t", str(START_TIMEOUT))

    def running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def destroy(self) -> None:
        """Stop the server if it runs, and remove its directory."""
        with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bindir: Path | None = None) -> Cluster:
    """Make and start a throwaway cluster; raises :class:`ClusterError` (no server
    binaries, or the server would not start)."""
    bindir = bindir or find_binaries()
    if bindir is None:
        raise ClusterError("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's "
                           "postgresql package")
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="hearth-pg-"))
    password = secrets.token_urlsafe(16)
    cluster = Cluster(root, bindir, _free_port(), password, user)
    try:
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (root, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cluster._run("initdb", "-D", str(cluster.data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                     "--locale=C", "--no-sync")
        pwfile.unlink()
        for attempt in range(3):
            try:
                cluster.start()
                break
            except ClusterError:
                if attempt == 2:
                    raise
                cluster.port = _free_port()  # taken meanwhile by someone else
    except BaseException:
        cluster.destroy()
        raise
    return cluster


def _main() -> None:
    cluster = start_cluster()
    print(cluster.url(), flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.destroy()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    _main()
