"""A burst of logins at the production bcrypt cost does not stall the node: the hashing runs
on the dirty pool, and the event loop keeps answering ``/health`` meanwhile."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

import otp
from contexts.accounts import Accounts
from hearth.config import load_config
from otp import Down
from supervisors.root import root_spec
from web.endpoint import Endpoint

LOGINS = 50
PROBES = 10
PASSWORD = "correct horse battery"


async def test_fifty_concurrent_logins_leave_health_responsive(tmp_path: Path) -> None:
    config = load_config(
        env={},
        overrides={
            "server.port": 0,
            "server.access_log": "0",
            "node.dirty_pool_size": 2,
            "database.path": str(tmp_path / "hearth.db"),
            "auth.bcrypt_cost": 12,  # the production cost: this test is about the work
            "demo.seed": "0",
        },
    )
    otp.trap_exit(True)
    root = await root_spec(config).start()
    assert root is not None
    try:
        accounts = Accounts(config.auth)
        await accounts.register("ann@example.com", PASSWORD, "Ann")
        host, port = await Endpoint.address()

        started = time.perf_counter()
        logins = asyncio.gather(
            *(accounts.authenticate("ann@example.com", PASSWORD) for _ in range(LOGINS))
        )
        latencies: list[float] = []
        answered_in_flight: list[bool] = []
        async with aiohttp.ClientSession() as http:
            for _ in range(PROBES):
                sent = time.perf_counter()
                async with http.get(f"http://{host}:{port}/health") as response:
                    assert response.status == 200
                latencies.append(time.perf_counter() - sent)
                answered_in_flight.append(not logins.done())
                # Spread the probes over the burst rather than firing them back to back.
                await asyncio.sleep(0.02)
        users = await logins
        total = time.perf_counter() - started
    finally:
        ref = otp.monitor(root)
        otp.exit(root, "shutdown")
        await otp.receive(timeout=15, match=lambda m: type(m) is Down and m.ref == ref)

    assert all(user is not None and user.email == "ann@example.com" for user in users)
    assert all(answered_in_flight), answered_in_flight
    # On the loop, one check alone would hold /health for the time of a bcrypt at cost 12;
    # 50 of them back to back, for the whole burst.
    assert max(latencies) < total / 20, (max(latencies), total)
