"""``hearth nodes`` and ``--node`` on a node that is alone (no ``[cluster]``): it lists
itself, says it is not in a cluster, and asks no other node. (A cluster's own answers are
tested with three nodes in ``tests/cluster/test_nodes.py``.)"""

from __future__ import annotations

from .test_admin_cli import Node, launch, node  # noqa: F401 (fixtures)


async def test_a_node_alone_lists_itself_and_is_not_in_a_cluster(node: Node) -> None:  # noqa: F811
    answer = await node.json("nodes")
    assert answer["cluster"] is None
    [alone] = answer["nodes"]
    assert (alone["name"], alone["up"], alone["self"]) == ("test@admin", True, True)
    assert alone["connections"] == 0
    assert alone["uptime_s"] > 0

    code, out, err = await node.cli("nodes")
    assert code == 0, err
    assert out.splitlines()[0].split()[:2] == ["NAME", "STATE"]
    assert "test@admin *" in out and "not in a cluster" in out

    stats = await node.json("stats")
    assert stats["cluster"] is None
    code, out, err = await node.cli("stats")
    assert code == 0 and "cluster link" not in out, err

    code, out, err = await node.cli("tree", "--node", "elsewhere")
    assert code == 1
    assert "no node elsewhere: this node is not in a cluster" in err
    code, out, err = await node.cli("tree", "--node", "test@admin", "--depth", "0")
    assert code == 0, err  # itself: answered here
