"""The Endpoint serves while it lives, frees its port when it dies, and comes back."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

import otp
from hearth.config import load_config
from hearth.testing.ports import free_port
from otp import Down, Pid, Supervisor
from web.endpoint import NAME, Endpoint


async def get_health(port: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/health") as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


@asynccontextmanager
async def serving(port: int) -> AsyncIterator[Pid]:
    """An Endpoint on ``port`` under its own supervisor, stopped on the way out.

    A context manager rather than a fixture: the supervisor's parent is the process of the
    task that starts it, and it stops when that task ends.
    """
    config = load_config(
        env={},
        overrides={"server.port": port, "server.access_log": "0", "auth.secret_key": "k" * 40},
    )
    otp.trap_exit(True)
    sup = await Supervisor.start_link([Endpoint.child_spec(config, name=NAME)])
    assert sup is not None
    try:
        yield sup
    finally:
        ref = otp.monitor(sup)
        otp.exit(sup, "shutdown")
        await otp.receive(timeout=10, match=lambda m: type(m) is Down and m.ref == ref)


async def test_port_zero_binds_a_free_port_and_says_which() -> None:
    async with serving(0):
        host, port = await Endpoint.address()

        assert host == "127.0.0.1"
        assert port != 0
        assert (await get_health(port))["status"] == "ok"


async def test_a_killed_endpoint_frees_its_port_and_is_restarted_on_it() -> None:
    port = free_port()
    async with serving(port) as sup:
        first = otp.whereis(NAME)
        assert (await get_health(port))["status"] == "ok"

        otp.exit(NAME, "kill")  # no terminate: only the linked holder can close the socket
        await Supervisor.which_children(sup)  # answered once the restart is done

        second = otp.whereis(NAME)
        assert second is not None and second != first
        assert await Endpoint.address() == ("127.0.0.1", port)
        assert (await get_health(port))["status"] == "ok"


async def test_health_reports_this_node() -> None:
    async with serving(0):
        _, port = await Endpoint.address()

        health = await get_health(port)

        assert health["node"] == otp.node_info()["node"]
        assert health["processes"] == otp.process_count()
        assert health["uptime_s"] >= 0


async def test_the_port_is_free_once_the_endpoint_has_stopped() -> None:
    port = free_port()
    async with serving(port):
        assert (await get_health(port))["status"] == "ok"

    with socket.socket() as s:
        # Reusing the address allows for closed connections, not for a listener.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()  # raises if the endpoint still held the port
