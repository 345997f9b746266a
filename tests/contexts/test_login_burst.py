"""A burst of logins at the production bcrypt cost does not stall the node: the hashing runs
on the dirty pool, and the event loop keeps answering ``/health`` meanwhile."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import bcrypt
import pytest

import otp
from contexts.accounts import Accounts, TooManyAttempts
from hearth.config import AuthConfig, load_config
from otp import Down
from supervisors.root import root_spec
from web.endpoint import Endpoint

from ..actors._tree import store_tree

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


# -- guesses arriving together ---------------------------------------------------------------


def count_password_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every bcrypt check from now on appends the password it checked (they run on the
    dirty pool's threads; ``list.append`` is atomic)."""
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:
        checked.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    return checked


async def test_guesses_sent_together_check_no_more_passwords_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthConfig(bcrypt_cost=4, login_limit_per_account=5, login_limit_per_address=20)
    accounts = Accounts(auth)
    async with store_tree(tmp_path / "hearth.db", pool_size=2):
        await accounts.register("ann@example.com", PASSWORD, "Ann")
        checked = count_password_checks(monkeypatch)

        # 40 wrong guesses and then the right password, all started before any is answered.
        attempts = [accounts.login("ann@example.com", f"guess number {i}", "10.0.0.9")
                    for i in range(40)]
        attempts.append(accounts.login("ann@example.com", PASSWORD, "10.0.0.9"))
        results = await asyncio.gather(*attempts, return_exceptions=True)

    assert len(checked) == 5
    assert results[:5] == [None] * 5
    assert all(isinstance(r, TooManyAttempts) for r in results[5:]), results[5:]


async def test_an_address_over_its_limit_does_not_lock_the_account_it_guesses_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthConfig(bcrypt_cost=4, login_limit_per_account=5, login_limit_per_address=3)
    accounts = Accounts(auth)
    async with store_tree(tmp_path / "hearth.db", pool_size=2):
        await accounts.register("ann@example.com", PASSWORD, "Ann")
        checked = count_password_checks(monkeypatch)

        guesses = await asyncio.gather(
            *(accounts.login("ann@example.com", f"guess number {i}", "10.0.0.9")
              for i in range(10)),
            return_exceptions=True,
        )
        # Refused at the address, those guesses did not count against Ann's account.
        ann = await accounts.login("ann@example.com", PASSWORD, "10.0.0.10")

    assert len(checked) == 4
    assert guesses[:3] == [None] * 3
    assert all(isinstance(r, TooManyAttempts) for r in guesses[3:])
    assert ann is not None and ann.email == "ann@example.com"
