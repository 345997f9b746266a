"""The root tree: every child up, in order, under its name; stopped in reverse order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

import otp
from actors.repo import Repo
from contexts.demo import DEMO_USERS
from hearth.config import load_config
from otp import Down, Exit, Supervisor
from supervisors.root import root_spec
from web.endpoint import Endpoint

ORDER = [
    ("Repo", "hearth.repo", "gen_server:Repo"),
    ("PubSub", "hearth.pubsub", "pubsub:PubSub"),
    ("Registry", "hearth.registry", "registry:Registry"),
    ("hearth.presence", "hearth.presence", "supervisor:Supervisor"),
    ("dirty", "dirty", "supervisor:Supervisor"),
    ("RateLimiter", "hearth.rate_limiter", "gen_server:RateLimiter"),
    ("Mailer", "hearth.mailer", "gen_server:Mailer"),
    ("TaskSupervisor", "hearth.tasks", "task_supervisor:TaskSupervisor"),
    ("SessionSupervisor", "hearth.sessions", "dynamic_supervisor:DynamicSupervisor"),
    ("LiveSupervisor", "hearth.live", "dynamic_supervisor:DynamicSupervisor"),
    ("Endpoint", "hearth.endpoint", "gen_server:Endpoint"),
]


async def test_root_starts_children_in_order_and_stops_them_in_reverse(tmp_path: Path) -> None:
    config = load_config(
        env={},
        overrides={
            "server.port": 0,
            "node.dirty_pool_size": 2,
            "database.path": str(tmp_path / "hearth.db"),
            "auth.bcrypt_cost": 4,  # for the demo accounts seeded at start
        },
    )
    otp.trap_exit(True)  # the root is linked to this test; its exit must not kill the test

    root = await root_spec(config).start()
    assert root is not None
    tree = await otp.supervision_tree(root)

    assert tree["name"] == "hearth.root"
    assert tree["strategy"] == "one_for_one"
    rows: list[dict[str, Any]] = tree["children"]
    assert [(c["id"], c["process"]["name"], c["process"]["behaviour"]) for c in rows] == ORDER
    assert all(c["state"] == "running" for c in rows)
    workers = rows[4]["tree"]["children"]
    assert [w["process"]["name"] for w in workers] == ["dirty.0", "dirty.1"]
    # DemoSeed seeded the fresh database before the Endpoint started, and left no process.
    assert len(await Repo.fetch_all("SELECT id FROM users")) == len(DEMO_USERS)

    host, port = await Endpoint.address()
    assert port != 0
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://{host}:{port}/health") as response,
    ):
        assert (await response.json())["status"] == "ok"

    children = await Supervisor.which_children(root)
    watching = {otp.monitor(child.pid): child.id for child in children if child.pid}
    otp.exit(root, "shutdown")

    stopped: list[str] = []
    while len(stopped) < len(watching):
        down = await otp.receive(timeout=10, match=lambda m: type(m) is Down)
        assert down.reason == "shutdown"
        stopped.append(watching[down.ref])
    exit_ = await otp.receive(timeout=10, match=lambda m: type(m) is Exit and m.pid == root)
    assert exit_.reason == "shutdown"

    assert stopped == [child_id for child_id, _, _ in reversed(ORDER)]
    assert otp.whereis("hearth.endpoint") is None
