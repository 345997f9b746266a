"""Three ``hearth serve`` nodes and one Redis: who is in the cluster, as ``hearth nodes``,
``hearth tree --node`` and ``hearth stats`` show an operator."""

from __future__ import annotations

import json
from pathlib import Path

from hearth.testing.redis_server import RedisServer

from ._cluster import DOWN_AFTER, cluster


async def test_hearth_nodes_lists_every_node_and_tree_asks_another(
        tmp_path: Path, redis: RedisServer) -> None:
    async with cluster(tmp_path, redis, "a", "b", "c") as nodes:
        listed = nodes["a"].cli("nodes", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = {row["name"]: row for row in json.loads(listed.stdout)["nodes"]}
        assert sorted(rows) == ["a", "b", "c"]
        assert all(row["up"] for row in rows.values())
        assert rows["a"]["self"] and not rows["b"]["self"]
        for name in "abc":
            assert rows[name]["address"] == nodes[name].url
            assert rows[name]["connections"] == 0
            assert rows[name]["uptime_s"] > 0
        assert rows["b"]["last_heartbeat_s"] < DOWN_AFTER

        table = nodes["b"].cli("nodes")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split()[:3] == ["NAME", "STATE", "ADDRESS"]
        assert any(line.startswith("b *") and " up " in line for line in lines)
        assert "cluster link up" in lines[-1]

        # a answers for c: c's own tree and figures, asked through a.
        tree = nodes["a"].cli("tree", "--node", "c", "--json", "--depth", "0")
        assert tree.returncode == 0, tree.stderr
        ids = [child["id"] for child in json.loads(tree.stdout)["children"]]
        assert "Nodes" in ids and "Endpoint" in ids
        stats = nodes["a"].cli("stats", "--node", "c", "--json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["node"] == "c"
        assert json.loads(stats.stdout)["cluster"]["link"] == "up"

        unknown = nodes["a"].cli("tree", "--node", "zed")
        assert unknown.returncode == 1
        assert "no node zed in the cluster" in unknown.stderr

        shown = nodes["a"].cli("stats")
        assert shown.returncode == 0, shown.stderr
        link = [line for line in shown.stdout.splitlines() if line.startswith("cluster link:")]
        assert [line.split(":", 1)[1].strip() for line in link] == ["up (3 of 3 nodes up)"]
